"""The pretrained-DreamerV2 baseline's data: several tasks' datasets pretrained into ONE world model.

The paper (section 5) pretrains this baseline on all offline data. `vid2act pretrain --multitask`
reads datasets of different tasks (and action sizes) with `load_multitask_data`; the model is
registered with kind "multitask" (vid2act_teachers.teacher_kinds): `--init-from` accepts it,
`--teachers` never does.

Action sizes: every episode's actions are zero-padded to the largest action size among the
datasets, so the model's action input has that size and a task with fewer actions leaves the extra
inputs at 0 (the same padding `TeacherEnsemble` uses). `initialise_from_teacher` then copies the
action-input columns the target shares with it. The datasets must agree on image size, action
repeat and camera (one model sees one kind of frame sequence); tasks, action sizes and collectors
may differ. The episodes are pooled and sampled uniformly (tasks weighted by their step counts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vid2act_core.fileio import combined_sha256

from vid2act_cli.compose.pretrain_data import PretrainData, _hold_out, _pretrain_episode

MULTITASK_DOMAIN = "multitask"
"""The `domain` a multitask model is registered under; its `task` lists the tasks joined by '+'."""


def pad_actions(actions: np.ndarray, size: int) -> np.ndarray:
    """(T, A) actions zero-padded on the right to (T, size), float32."""
    padded = np.zeros((len(actions), size), np.float32)
    padded[:, : actions.shape[1]] = actions
    return padded


def load_multitask_data(data_paths: Sequence[str | Path], batch_length: int) -> PretrainData:
    """Open the dataset files (at least two tasks) as one pool of episodes with padded actions.

    Raises ValueError naming the offending file (one line).
    """
    from vid2act_envs.dataset import open_dataset

    paths = [Path(path) for path in data_paths]
    if len(set(path.resolve() for path in paths)) != len(paths):
        raise ValueError("--data: the same file is given more than once")
    read: list[tuple[Path, object, list[dict[str, np.ndarray]], str]] = []
    for path in paths:
        with open_dataset(path) as dataset:
            if len(dataset) == 0:
                raise ValueError(f"{path}: the dataset has no episodes")
            read.append((path, dataset.attrs, [_pretrain_episode(episode) for episode in dataset], dataset.sha256()))
    first_path, first_attrs = read[0][0], read[0][1]
    for path, attrs, _, _ in read[1:]:
        for field in ("image_size", "action_repeat", "camera"):
            if getattr(attrs, field) != getattr(first_attrs, field):
                raise ValueError(
                    f"{path}: {field} {getattr(attrs, field)!r} differs from {first_path}'s {getattr(first_attrs, field)!r}; "
                    "a multitask model is pretrained on one kind of frames"
                )
    tasks = sorted({f"{attrs.domain}:{attrs.task}" for _, attrs, _, _ in read})
    if len(tasks) < 2:
        raise ValueError(f"--multitask: every --data file holds {tasks[0]}; a multitask model needs two tasks or more "
                         "(without --multitask the files make a per-task teacher)")
    height, width = first_attrs.image_size
    if height != width:
        raise ValueError(f"{first_path}: image_size {height}x{width}: world models need square images")
    action_size = max(attrs.action_dim for _, attrs, _, _ in read)
    episodes = [
        {**episode, "action": pad_actions(episode["action"], action_size)} for _, _, task_episodes, _ in read for episode in task_episodes
    ]
    lengths = [len(episode["image"]) for episode in episodes]
    if sum(lengths) < batch_length:
        raise ValueError(f"{', '.join(map(str, paths))}: {sum(lengths)} steps in all, fewer than one window of "
                         f"train.batch_length={batch_length}")
    train_episodes, eval_episodes = _hold_out(episodes, lengths, batch_length)
    return PretrainData(
        paths=paths, domain=MULTITASK_DOMAIN, task="+".join(tasks), action_dim=action_size, image_size=height,
        action_repeat=first_attrs.action_repeat, camera=first_attrs.camera, collector="mixed",
        dataset_sha256=combined_sha256([sha for _, _, _, sha in read]), train_episodes=train_episodes,
        eval_episodes=eval_episodes, kind="multitask",
    )
