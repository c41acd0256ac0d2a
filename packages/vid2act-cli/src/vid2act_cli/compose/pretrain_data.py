"""The datasets a teacher is pretrained on: one source task from one or more HDF5 files, with a hold-out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vid2act_core.runtime.fileio import combined_sha256

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
    """"task" (one source task: a teacher) or "multitask" (`compose.pretrain_multitask`)."""

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
    from vid2act_envs.dataset import open_dataset

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
    from vid2act_envs.dataset import open_dataset

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
