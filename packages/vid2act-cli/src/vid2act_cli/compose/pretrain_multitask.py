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

from vid2act_core.runtime.fileio import combined_sha256

from vid2act_cli.compose.pretrain_data import PretrainData, read_same_frames, split_pool

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
    files = read_same_frames(data_paths, "a multitask model")
    tasks = sorted({f"{file.attrs.domain}:{file.attrs.task}" for file in files})
    if len(tasks) < 2:
        raise ValueError(f"--multitask: every --data file holds {tasks[0]}; a multitask model needs two tasks or more "
                         "(without --multitask the files make a per-task teacher)")
    action_size = max(file.attrs.action_dim for file in files)
    episodes = [{**episode, "action": pad_actions(episode["action"], action_size)} for file in files for episode in file.episodes]
    train_episodes, eval_episodes = split_pool(files, episodes, batch_length)
    first = files[0].attrs
    return PretrainData(
        paths=[file.path for file in files], domain=MULTITASK_DOMAIN, task="+".join(tasks), action_dim=action_size,
        image_size=first.image_size[0], action_repeat=first.action_repeat, camera=first.camera, collector="mixed",
        dataset_sha256=combined_sha256([file.sha256 for file in files]), train_episodes=train_episodes,
        eval_episodes=eval_episodes, kind="multitask",
    )
