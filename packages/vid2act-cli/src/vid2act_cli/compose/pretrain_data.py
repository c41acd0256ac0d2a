"""The datasets `vid2act pretrain` reads, with a hold-out: one source task (a teacher, `load_pretrain_data`),
several tasks with padded actions (`--multitask`, `load_multitask_data`) or frames alone (`--action-free`,
`load_video_data`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vid2act_core.runtime.fileio import combined_sha256
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.teacher_format import KIND_ACTION_FREE

PRETRAIN_KEYS: tuple[str, ...] = ("image", "action", "is_first")
"""What Eq. 2 reads from a dataset (rewards are never used)."""

HOLD_OUT_MIN_EPISODES = 3
"""With at least this many episodes, some are held out for the open-loop evaluation: the last one at
least train.batch_length long, or (with episodes shorter than that) the last few that together are."""


@dataclass
class PretrainData:
    """The episodes of one source task gathered from one or more dataset files."""

    paths: list[Path]
    domain: str
    task: str
    action_dim: int
    image_size: int
    action_repeat: int
    camera: str | int
    collector: str
    dataset_sha256: str
    """sha256 of the file, or of the sorted concatenation of the files' sha256s."""
    train_episodes: list[dict[str, np.ndarray]]
    eval_episodes: list[dict[str, np.ndarray]]
    """Held-out episodes for the open-loop evaluation (empty: evaluate on training windows)."""
    kind: str = "task"
    """"task" (one source task: a teacher) or "multitask" (`load_multitask_data`)."""

    @property
    def qualified_task(self) -> str:
        return f"{self.domain}:{self.task}"


def _pretrain_episode(episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    length = len(episode["image"])
    is_first = episode.get("is_first")
    if is_first is None:
        is_first = np.zeros(length, bool)
        is_first[0] = True
    return {"image": episode["image"], "action": episode["action"], "is_first": np.asarray(is_first, bool)}


def _hold_out(
    episodes: list[dict[str, np.ndarray]], lengths: list[int], batch_length: int
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """(training episodes, held-out episodes); nothing is held out unless both keep a full window."""
    if len(episodes) < HOLD_OUT_MIN_EPISODES:
        return episodes, []
    long_enough = [index for index, length in enumerate(lengths) if length >= batch_length]
    if len(long_enough) >= 2:
        held = [long_enough[-1]]
    else:
        # Short episodes: the fewest trailing ones that fill a window (windows continue into the
        # next episode, vid2act_envs.sampler); the rest must still fill one and outnumber them.
        held, steps = [], 0
        for index in reversed(range(len(episodes))):
            if steps >= batch_length:
                break
            held.append(index)
            steps += lengths[index]
        remaining_steps = sum(lengths) - steps
        if steps < batch_length or remaining_steps < batch_length or len(held) * 2 > len(episodes):
            return episodes, []
    held_set = set(held)
    kept = [episode for index, episode in enumerate(episodes) if index not in held_set]
    return kept, [episodes[index] for index in sorted(held)]


FRAME_FIELDS: tuple[str, ...] = ("image_size", "action_repeat", "camera")
"""What the datasets of one model must agree on (one kind of frame sequence), whatever their tasks."""


@dataclass
class DatasetFile:
    """One opened dataset file's attributes, episodes (the keys Eq. 2 reads) and sha256."""

    path: Path
    attrs: Any
    episodes: list[dict[str, np.ndarray]]
    sha256: str


def read_same_frames(data_paths: Sequence[str | Path], model: str) -> list[DatasetFile]:
    """Open dataset files of any tasks that one model is pretrained on (`model` names it in errors,
    e.g. "a multitask model").

    At least one file, none twice, none empty, all with the first file's image size, action repeat
    and camera, square images; otherwise ValueError naming the file (one line).
    """
    paths = [Path(path) for path in data_paths]
    if not paths:
        raise ValueError("--data: give at least one dataset file")
    if len({path.resolve() for path in paths}) != len(paths):
        raise ValueError("--data: the same file is given more than once")
    files: list[DatasetFile] = []
    for path in paths:
        with open_dataset(path) as dataset:
            if len(dataset) == 0:
                raise ValueError(f"{path}: the dataset has no episodes")
            files.append(DatasetFile(path, dataset.attrs, [_pretrain_episode(episode) for episode in dataset], dataset.sha256()))
        first, attrs = files[0], files[-1].attrs
        for field in FRAME_FIELDS:
            if getattr(attrs, field) != getattr(first.attrs, field):
                raise ValueError(
                    f"{path}: {field} {getattr(attrs, field)!r} differs from {first.path}'s {getattr(first.attrs, field)!r}; "
                    f"{model} is pretrained on one kind of frames"
                )
    height, width = files[0].attrs.image_size
    if height != width:
        raise ValueError(f"{files[0].path}: image_size {height}x{width}: world models need square images")
    return files


def split_pool(
    files: list[DatasetFile], episodes: list[dict[str, np.ndarray]], batch_length: int
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """(training, held-out) episodes of the pooled `episodes` of `files`; ValueError naming the files
    when they hold fewer steps than one window of train.batch_length."""
    lengths = [len(episode["image"]) for episode in episodes]
    if sum(lengths) < batch_length:
        raise ValueError(f"{', '.join(str(file.path) for file in files)}: {sum(lengths)} steps in all, fewer than one window of "
                         f"train.batch_length={batch_length}")
    return _hold_out(episodes, lengths, batch_length)


def load_pretrain_data(data_paths: Sequence[str | Path], batch_length: int) -> PretrainData:
    """Open and validate the dataset files; they must all hold the same task and formats.

    Raises ValueError (DatasetError) naming the offending file.
    """
    if not data_paths:
        raise ValueError("--data: give at least one dataset file")
    paths = [Path(path) for path in data_paths]
    if len(set(path.resolve() for path in paths)) != len(paths):
        raise ValueError("--data: the same file is given more than once")
    episodes: list[dict[str, np.ndarray]] = []
    shas: list[str] = []
    first = None
    for path in paths:
        with open_dataset(path) as dataset:
            attrs = dataset.attrs
            if first is None:
                first = (path, attrs)
            else:
                first_path, first_attrs = first
                if (attrs.domain, attrs.task) != (first_attrs.domain, first_attrs.task):
                    raise ValueError(
                        f"{path}: holds task {attrs.domain}:{attrs.task}, but {first_path} holds "
                        f"{first_attrs.domain}:{first_attrs.task}; a teacher is trained on one source task"
                    )
                for field in ("action_dim", "image_size", "action_repeat", "camera"):
                    if getattr(attrs, field) != getattr(first_attrs, field):
                        raise ValueError(
                            f"{path}: {field} {getattr(attrs, field)!r} differs from {first_path}'s "
                            f"{getattr(first_attrs, field)!r}"
                        )
            if len(dataset) == 0:
                raise ValueError(f"{path}: the dataset has no episodes")
            episodes.extend(_pretrain_episode(episode) for episode in dataset)
            shas.append(dataset.sha256())
    assert first is not None
    attrs = first[1]
    height, width = attrs.image_size
    if height != width:
        raise ValueError(f"{first[0]}: image_size {height}x{width}: teachers need square images")
    lengths = [len(episode["image"]) for episode in episodes]
    if sum(lengths) < batch_length:
        raise ValueError(
            f"{', '.join(map(str, paths))}: the {len(lengths)} episode(s) hold {sum(lengths)} steps in total, fewer "
            f"than one window of train.batch_length={batch_length}; collect more episodes or lower train.batch_length"
        )
    if max(lengths) < 2:
        raise ValueError(
            f"{', '.join(map(str, paths))}: every episode has a single step (its reset observation): "
            "no transition to learn from"
        )
    episodes, eval_episodes = _hold_out(episodes, lengths, batch_length)
    return PretrainData(
        paths=paths, domain=attrs.domain, task=attrs.task, action_dim=attrs.action_dim, image_size=height,
        action_repeat=attrs.action_repeat, camera=attrs.camera, collector=attrs.collector,
        dataset_sha256=combined_sha256(shas), train_episodes=episodes, eval_episodes=eval_episodes,
    )


# The pretrained-DreamerV2 baseline's data: several tasks' datasets pretrained into ONE world model.
#
# The paper (section 5) pretrains this baseline on all offline data. `vid2act pretrain --multitask`
# reads datasets of different tasks (and action sizes) with `load_multitask_data`; the model is
# registered with kind "multitask" (vid2act_teachers.teacher_kinds): `--init-from` accepts it,
# `--teachers` never does.
#
# Action sizes: every episode's actions are zero-padded to the largest action size among the
# datasets, so the model's action input has that size and a task with fewer actions leaves the extra
# inputs at 0 (the same padding `TeacherEnsemble` uses). `initialise_from_teacher` then copies the
# action-input columns the target shares with it. The datasets must agree on image size, action
# repeat and camera (one model sees one kind of frame sequence); tasks, action sizes and collectors
# may differ. The episodes are pooled and sampled uniformly (tasks weighted by their step counts).

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


# APV's pretraining data: the videos of one or more offline datasets, their actions dropped.
#
# `vid2act pretrain --action-free` reads datasets of any tasks with `load_video_data`; every episode
# keeps its frames and episode flags, and its actions become one all-zero column (the model built
# with `world_model.action_free` has no action input, so the column is never read; it exists because
# episodes and the registry header carry an action size). The model is registered with kind
# "action-free": `--method apv --init-from NAME` fine-tunes it, `--teachers` never accepts it.

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
