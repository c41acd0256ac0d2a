"""APV's pretraining data: the videos of one or more offline datasets, their actions dropped.

`vid2act pretrain --action-free` reads datasets of any tasks with `load_video_data`; every episode
keeps its frames and episode flags, and its actions become one all-zero column (the model built
with `world_model.action_free` has no action input, so the column is never read; it exists because
episodes and the registry header carry an action size). The model is registered with kind
"action-free": `--method apv --init-from NAME` fine-tunes it, `--teachers` never accepts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vid2act_core.fileio import combined_sha256
from vid2act_teachers.teacher_format import KIND_ACTION_FREE

from vid2act_cli.compose.pretrain_data import PretrainData, _hold_out, _pretrain_episode

VIDEO_DOMAIN = "videos"
"""The `domain` an action-free model is registered under; its `task` lists the source tasks joined by '+'."""


def drop_actions(episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The episode with its actions replaced by one all-zero column (T, 1)."""
    return {**episode, "action": np.zeros((len(episode["image"]), 1), np.float32)}


def load_video_data(data_paths: Sequence[str | Path], batch_length: int) -> PretrainData:
    """Open the dataset files (one task or several) as one pool of action-free episodes.

    The files must agree on image size, action repeat and camera. Raises ValueError naming the file.
    """
    from vid2act_envs.dataset import open_dataset

    paths = [Path(path) for path in data_paths]
    if not paths:
        raise ValueError("--data: give at least one dataset file")
    if len(set(path.resolve() for path in paths)) != len(paths):
        raise ValueError("--data: the same file is given more than once")
    episodes: list[dict[str, np.ndarray]] = []
    shas, tasks, first = [], set(), None
    for path in paths:
        with open_dataset(path) as dataset:
            attrs = dataset.attrs
            if len(dataset) == 0:
                raise ValueError(f"{path}: the dataset has no episodes")
            if first is not None:
                for field in ("image_size", "action_repeat", "camera"):
                    if getattr(attrs, field) != getattr(first[1], field):
                        raise ValueError(f"{path}: {field} {getattr(attrs, field)!r} differs from {first[0]}'s "
                                         f"{getattr(first[1], field)!r}; an action-free model is pretrained on one kind of frames")
            first = first or (path, attrs)
            tasks.add(f"{attrs.domain}:{attrs.task}")
            episodes.extend(drop_actions(_pretrain_episode(episode)) for episode in dataset)
            shas.append(dataset.sha256())
    assert first is not None
    height, width = first[1].image_size
    if height != width:
        raise ValueError(f"{first[0]}: image_size {height}x{width}: world models need square images")
    lengths = [len(episode["image"]) for episode in episodes]
    if sum(lengths) < batch_length:
        raise ValueError(f"{', '.join(map(str, paths))}: {sum(lengths)} steps in all, fewer than one window of "
                         f"train.batch_length={batch_length}")
    train_episodes, eval_episodes = _hold_out(episodes, lengths, batch_length)
    return PretrainData(
        paths=paths, domain=VIDEO_DOMAIN, task="+".join(sorted(tasks)), action_dim=1, image_size=height,
        action_repeat=first[1].action_repeat, camera=first[1].camera, collector="videos",
        dataset_sha256=combined_sha256(shas), train_episodes=train_episodes, eval_episodes=eval_episodes,
        kind=KIND_ACTION_FREE,
    )
