"""`open_dataset`: the validating reader, and `EpisodeDataset`, the opened file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vid2act_envs.dataset.format import EPISODES_GROUP, FINAL_NAME_RE, DatasetAttrs, DatasetError, as_dataset_error, one_line, read_attrs
from vid2act_envs.episodes import EPISODE_FLAG_KEYS, REQUIRED_KEYS, check_episode_flags, check_field_layout, check_field_values
from vid2act_envs.sampler import SequenceSampler


class EpisodeDataset:
    """A validated, read-only dataset file. Obtain one with `open_dataset(path)`.

    Episodes are read from the file on access; `load()` reads them all into memory. Close the
    file with `close()` or use the dataset as a context manager.
    """

    def __init__(self, path: Path, file: h5py.File, attrs: DatasetAttrs, episode_lengths: np.ndarray, partial_episodes: int, keys: tuple[str, ...]) -> None:
        self.path = path
        self.attrs = attrs
        self.episode_lengths = episode_lengths
        """(num_episodes,) int64 steps per episode."""
        self.partial_episodes = partial_episodes
        """Leftover groups of an interrupted writer that were ignored."""
        self.keys = keys
        """Fields every episode has (sorted)."""
        self._file: h5py.File | None = file
        self._sha256: str | None = None

    def __len__(self) -> int:
        return len(self.episode_lengths)

    @property
    def num_steps(self) -> int:
        """Total steps over all episodes."""
        return int(self.episode_lengths.sum())

    def _group(self, index: int) -> h5py.Group:
        if self._file is None:
            raise RuntimeError(f"{self.path}: dataset is closed")
        if not 0 <= index < len(self):
            raise IndexError(f"{self.path}: episode {index} out of range (0..{len(self) - 1})")
        return self._file[EPISODES_GROUP][f"{index:06d}"]

    def episode(self, index: int) -> dict[str, np.ndarray]:
        """Episode `index` as a dict of numpy arrays."""
        group = self._group(index)
        return {key: group[key][()] for key in self.keys}

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.episode(index)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for index in range(len(self)):
            yield self.episode(index)

    def load(self) -> list[dict[str, np.ndarray]]:
        """Every episode, read into memory."""
        return list(self)

    def sha256(self) -> str:
        """Hex sha256 of the file's bytes (computed once)."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            with open(self.path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self._sha256 = digest.hexdigest()
        return self._sha256

    def sampler(
        self,
        keys: Sequence[str] | None = None,
        rng: np.random.Generator | int | None = None,
        in_memory: bool = True,
    ) -> SequenceSampler:
        """A SequenceSampler over this dataset's episodes.

        in_memory=True reads every episode once (fast sampling); False slices the file on every
        sample (little memory, each window decompresses the chunks it touches).
        """
        if in_memory:
            episodes: list[Mapping[str, Any]] = self.load()
        else:
            episodes = [self._group(index) for index in range(len(self))]
        return SequenceSampler(episodes, keys=tuple(keys) if keys is not None else self.keys, rng=rng)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EpisodeDataset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_dataset(path: Path | str) -> EpisodeDataset:
    """Open and validate a dataset file; raise DatasetError naming the file and field on any defect.

    Checks: the file exists and is readable HDF5; format_version and the other attributes; the
    committed episode groups exist; required fields; dtypes; shapes (image T x H x W x 3 with the
    file's image size, every field of length T, action size = action_dim); actions finite and in
    [-1, 1]; rewards finite; flags consistent (`is_first` only at step 0, `is_last`/`is_terminal`
    only at the final step, `is_terminal` with `is_last`); every episode has the same fields.
    """
    file_path = Path(path)
    where = str(path)
    if not file_path.exists():
        raise DatasetError(f"{where}: file not found")
    if not file_path.is_file():
        raise DatasetError(f"{where}: not a file")
    try:
        file = h5py.File(file_path, "r")
    except OSError as error:
        raise DatasetError(f"{where}: not a readable HDF5 file ({one_line(str(error))})") from None
    try:
        attrs = read_attrs(file, where)
        if EPISODES_GROUP not in file or not isinstance(file[EPISODES_GROUP], h5py.Group):
            raise DatasetError(f"{where}: {EPISODES_GROUP}: missing group")
        episodes = file[EPISODES_GROUP]
        names = list(episodes.keys())
        if "num_episodes" in file.attrs:
            committed = int(file.attrs["num_episodes"])
        else:
            committed = sum(1 for name in names if FINAL_NAME_RE.match(name))
        committed_names = [f"{index:06d}" for index in range(committed)]
        name_set = set(names)
        for name in committed_names:
            if name not in name_set:
                raise DatasetError(f"{where}: {EPISODES_GROUP}/{name}: missing (num_episodes is {committed})")
        partial_episodes = len(name_set.difference(committed_names))
        lengths = np.zeros(committed, dtype=np.int64)
        reference_keys: frozenset[str] | None = None
        for index, name in enumerate(committed_names):
            episode_where = f"{where}: {EPISODES_GROUP}/{name}"
            group = episodes[name]
            if not isinstance(group, h5py.Group):
                raise DatasetError(f"{episode_where}: not a group")
            for key in REQUIRED_KEYS:
                if key not in group:
                    raise DatasetError(f"{episode_where}/{key}: missing field")
            keys = frozenset(group.keys())
            if reference_keys is None:
                reference_keys = keys
            elif keys != reference_keys:
                difference = ", ".join(sorted(keys.symmetric_difference(reference_keys)))
                raise DatasetError(f"{episode_where}: fields differ from episode 000000 ({difference})")
            image = group["image"]
            if not isinstance(image, h5py.Dataset):
                raise DatasetError(f"{episode_where}/image: not an array")
            length = image.shape[0] if len(image.shape) else 0
            for key in sorted(keys):
                dataset = group[key]
                if not isinstance(dataset, h5py.Dataset):
                    raise DatasetError(f"{episode_where}/{key}: not an array")
                with as_dataset_error():
                    check_field_layout(key, dataset.dtype, dataset.shape, length, episode_where, attrs.image_size, attrs.action_dim)
                    if key in ("action", "reward"):
                        check_field_values(key, dataset[()], episode_where)
            if length < 1:
                raise DatasetError(f"{episode_where}/image: episode has no steps")
            with as_dataset_error():
                check_episode_flags({key: group[key][()] for key in keys if key in EPISODE_FLAG_KEYS}, length, episode_where)
            lengths[index] = length
    except DatasetError:
        file.close()
        raise
    except (OSError, KeyError, RuntimeError) as error:
        file.close()
        raise DatasetError(f"{where}: unreadable content ({one_line(str(error))})") from None
    keys_tuple = tuple(sorted(reference_keys)) if reference_keys is not None else REQUIRED_KEYS
    return EpisodeDataset(file_path, file, attrs, lengths, partial_episodes, keys_tuple)
