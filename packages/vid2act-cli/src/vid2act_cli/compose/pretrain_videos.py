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

from vid2act_core.runtime.fileio import combined_sha256
from vid2act_teachers.teacher_format import KIND_ACTION_FREE

from vid2act_cli.compose.pretrain_data import PretrainData, read_same_frames, split_pool

VIDEO_DOMAIN = "videos"
"""The `domain` an action-free model is registered under; its `task` lists the source tasks joined by '+'."""


def drop_actions(episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The episode with its actions replaced by one all-zero column (T, 1)."""
    return {**episode, "action": np.zeros((len(episode["image"]), 1), np.float32)}


def load_video_data(data_paths: Sequence[str | Path], batch_length: int) -> PretrainData:
    """Open the dataset files (one task or several) as one pool of action-free episodes.

    The files must agree on image size, action repeat and camera. Raises ValueError naming the file.
    """
    files = read_same_frames(data_paths, "an action-free model")
    episodes = [drop_actions(episode) for file in files for episode in file.episodes]
    train_episodes, eval_episodes = split_pool(files, episodes, batch_length)
    first = files[0].attrs
    tasks = sorted({f"{file.attrs.domain}:{file.attrs.task}" for file in files})
    return PretrainData(
        paths=[file.path for file in files], domain=VIDEO_DOMAIN, task="+".join(tasks), action_dim=1,
        image_size=first.image_size[0], action_repeat=first.action_repeat, camera=first.camera, collector="videos",
        dataset_sha256=combined_sha256([file.sha256 for file in files]), train_episodes=train_episodes,
        eval_episodes=eval_episodes, kind=KIND_ACTION_FREE,
    )
