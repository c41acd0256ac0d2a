"""The HDF5 episode dataset format: an append-safe writer and a validating reader.

One file per dataset::

    /                     attrs: domain, task, action_repeat, camera, collector, image_size (H, W),
                                 action_dim, format_version (=1), library_version, num_episodes
    /episodes/000000      image (T, H, W, 3) uint8, chunked by frames, gzip or lzf
                          action (T, A) float32 in [-1, 1]
                          optional: reward (T,) float32, success / is_first / is_last /
                          is_terminal (T,) bool, and extra per-step arrays (leading length T)
    /episodes/000001      ...

Arrays follow the episode convention of docs/architecture.md: `action[t]` led to `image[t]`,
`action[0]` is zeros.

Crash safety: `EpisodeWriter` prepares (and, for gzip, compresses) a whole episode in memory,
writes it under a temporary group name (`episodes/partial-NNNNNN`), flushes, renames the group to
its final name, updates the `num_episodes` attribute last and flushes again. Between episodes the
file on disk is the state of the last flush, so a process killed mid-collection leaves a file
holding exactly the complete episodes. The committed episodes are `000000 .. num_episodes-1`;
readers ignore (and count in `partial_episodes`) any other leftover group, and the next writer
that appends to the file deletes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vid2act_envs import __version__ as LIBRARY_VERSION
from vid2act_envs.base import Env
from vid2act_envs.episodes import REQUIRED_KEYS, EpisodeError, check_field_layout, check_field_values, validate_episode
from vid2act_envs.replay import SequenceSampler

FORMAT_VERSION = 1
"""Version of the on-disk layout written by this module; readers refuse any other."""

EPISODES_GROUP = "episodes"
PARTIAL_PREFIX = "partial-"
_FINAL_NAME_RE = re.compile(r"^\d{6,}$")


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or violates the format; the message names file and field."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _normalize_image_size(value: Any) -> tuple[int, int]:
    array = np.asarray(value).reshape(-1)
    if array.size == 1:
        return int(array[0]), int(array[0])
    if array.size == 2:
        return int(array[0]), int(array[1])
    raise ValueError(f"image_size must be an int or (height, width), got {value!r}")


def _normalize_camera(value: Any) -> str | int:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (int, np.integer)):
        return int(value)
    return str(value)


@dataclass(frozen=True)
class DatasetAttrs:
    """File-level attributes of a dataset: what the episodes are and who collected them."""

    domain: str
    task: str
    action_repeat: int
    camera: str | int
    collector: str
    """Name of the policy that produced the actions (e.g. "expert", "random")."""
    image_size: tuple[int, int]
    """(height, width) of every image."""
    action_dim: int
    format_version: int = FORMAT_VERSION
    library_version: str = LIBRARY_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _normalize_image_size(self.image_size))
        object.__setattr__(self, "camera", _normalize_camera(self.camera))
        object.__setattr__(self, "action_repeat", int(self.action_repeat))
        object.__setattr__(self, "action_dim", int(self.action_dim))
        object.__setattr__(self, "format_version", int(self.format_version))

    @classmethod
    def from_env(cls, env: Env, collector: str) -> DatasetAttrs:
        """Attributes for episodes collected from `env` by a policy named `collector`."""
        spec = env.spec
        return cls(
            domain=spec.domain,
            task=spec.task,
            action_repeat=spec.action_repeat,
            camera=spec.camera,
            collector=collector,
            image_size=tuple(env.image_size),  # type: ignore[arg-type]
            action_dim=env.action_dim,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DatasetAttrs:
        """Build from a mapping with (at least) every field except the two version fields."""
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def matching_fields(self) -> dict[str, Any]:
        """The fields two writers must agree on to append to the same file."""
        values = asdict(self)
        values.pop("library_version")
        return values


COMPARED_ATTRS: tuple[str, ...] = (
    "domain",
    "task",
    "action_repeat",
    "camera",
    "collector",
    "image_size",
    "action_dim",
    "format_version",
)


def _attrs_from_file(file: h5py.File, where: str) -> DatasetAttrs:
    """Read and check the file attributes; raise DatasetError naming the first bad one."""
    stored = file.attrs
    if "format_version" not in stored:
        raise DatasetError(f"{where}: format_version: missing attribute (not a vid2act dataset?)")
    version = stored["format_version"]
    if not isinstance(version, (int, np.integer)) or int(version) != FORMAT_VERSION:
        shown = int(version) if isinstance(version, (int, np.integer)) else repr(version)
        raise DatasetError(f"{where}: format_version: unsupported version {shown} (this library reads {FORMAT_VERSION})")
    values: dict[str, Any] = {}
    for name in ("domain", "task", "action_repeat", "camera", "collector", "image_size", "action_dim"):
        if name not in stored:
            raise DatasetError(f"{where}: {name}: missing attribute")
        values[name] = stored[name]
    for name in ("domain", "task", "collector"):
        values[name] = values[name].decode() if isinstance(values[name], bytes) else str(values[name])
    for name in ("action_repeat", "action_dim"):
        if not isinstance(values[name], (int, np.integer)) or int(values[name]) < 1:
            raise DatasetError(f"{where}: {name}: must be a positive integer, got {np.asarray(values[name]).tolist()!r}")
    try:
        image_size = _normalize_image_size(values["image_size"])
    except (ValueError, TypeError) as error:
        raise DatasetError(f"{where}: image_size: {_one_line(str(error))}") from None
    library_version = stored.get("library_version", "unknown")
    return DatasetAttrs(
        domain=values["domain"],
        task=values["task"],
        action_repeat=int(values["action_repeat"]),
        camera=_normalize_camera(values["camera"]),
        collector=values["collector"],
        image_size=image_size,
        action_dim=int(values["action_dim"]),
        format_version=int(version),
        library_version=library_version.decode() if isinstance(library_version, bytes) else str(library_version),
    )


@contextlib.contextmanager
def _as_dataset_error() -> Iterator[None]:
    """Report an episode-convention violation as a DatasetError (same one-line message)."""
    try:
        yield
    except EpisodeError as error:
        raise DatasetError(str(error)) from None


def _compress_chunks(array: np.ndarray, chunk_frames: int, level: int) -> list[tuple[tuple[int, ...], bytes]]:
    """zlib-compress `array` by frame chunks, padding the last chunk as HDF5 stores edge chunks."""
    compressed: list[tuple[tuple[int, ...], bytes]] = []
    for start in range(0, len(array), chunk_frames):
        chunk = array[start : start + chunk_frames]
        if len(chunk) < chunk_frames:
            padded = np.zeros((chunk_frames, *array.shape[1:]), dtype=array.dtype)
            padded[: len(chunk)] = chunk
            chunk = padded
        offsets = (start,) + (0,) * (array.ndim - 1)
        compressed.append((offsets, zlib.compress(np.ascontiguousarray(chunk).tobytes(), level)))
    return compressed


class EpisodeWriter:
    """Append-safe writer of one HDF5 dataset file; use as a context manager.

    Opening an existing file appends to it after checking that its attributes match (raising
    DatasetError naming the first mismatching field) and deleting groups left by an interrupted
    writer. Each `write_episode` call commits one whole episode (see the module docstring).
    """

    def __init__(
        self,
        path: Path | str,
        attrs: DatasetAttrs | Mapping[str, Any],
        compression: str | None = "gzip",
        compression_level: int = 4,
        chunk_frames: int = 16,
    ) -> None:
        """Open (creating if needed) `path` for appending episodes with the given attributes.

        compression: "gzip" (default; chunks are compressed before the file is touched), "lzf"
        or None. chunk_frames: frames per image chunk (the unit of compression and of reads).
        """
        if compression not in ("gzip", "lzf", None):
            raise ValueError(f"compression must be 'gzip', 'lzf' or None, got {compression!r}")
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
        self.path = Path(path)
        self.attrs = attrs if isinstance(attrs, DatasetAttrs) else DatasetAttrs.from_mapping(attrs)
        self.compression = compression
        self.compression_level = compression_level
        self.chunk_frames = chunk_frames
        self.removed_partial_episodes = 0
        """Leftover groups of an interrupted writer deleted when this writer opened the file."""
        self._episode_keys: frozenset[str] | None = None
        self._file: h5py.File | None = None
        if self.path.exists():
            self._file = self._open_existing()
        else:
            self._file = self._create()

    def _create(self) -> h5py.File:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary_path = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with h5py.File(temporary_path, "w") as file:
            for name, value in asdict(self.attrs).items():
                file.attrs[name] = np.asarray(value) if name == "image_size" else value
            file.attrs["num_episodes"] = 0
            file.create_group(EPISODES_GROUP)
        os.replace(temporary_path, self.path)
        self._num_episodes = 0
        return h5py.File(self.path, "r+")

    def _open_existing(self) -> h5py.File:
        where = str(self.path)
        try:
            file = h5py.File(self.path, "r+")
        except OSError as error:
            raise DatasetError(f"{where}: not a readable HDF5 file ({_one_line(str(error))})") from None
        try:
            existing = _attrs_from_file(file, where)
            mine = self.attrs.matching_fields()
            theirs = existing.matching_fields()
            for name in COMPARED_ATTRS:
                if mine[name] != theirs[name]:
                    raise DatasetError(
                        f"{where}: {name}: file has {theirs[name]!r}, writer was given {mine[name]!r}; "
                        "write to a new file instead"
                    )
            if EPISODES_GROUP not in file:
                raise DatasetError(f"{where}: {EPISODES_GROUP}: missing group")
            committed = int(file.attrs.get("num_episodes", 0))
            episodes = file[EPISODES_GROUP]
            committed_names = {f"{index:06d}" for index in range(committed)}
            for name in committed_names:
                if name not in episodes:
                    raise DatasetError(f"{where}: {EPISODES_GROUP}/{name}: missing (num_episodes is {committed})")
            for name in list(episodes.keys()):
                if name not in committed_names:
                    del episodes[name]
                    self.removed_partial_episodes += 1
            if committed:
                self._episode_keys = frozenset(episodes[f"{0:06d}"].keys())
            file.flush()
        except BaseException:
            file.close()
            raise
        self._num_episodes = committed
        return file

    @property
    def num_episodes(self) -> int:
        """Committed episodes in the file (including those present before this writer opened it)."""
        return self._num_episodes

    def write_episode(self, episode: Mapping[str, Any]) -> int:
        """Validate, write and commit one episode; return its index in the file."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: writer is closed")
        index = self._num_episodes
        final_name = f"{index:06d}"
        where = f"{self.path}: {EPISODES_GROUP}/{final_name}"
        with _as_dataset_error():
            arrays = validate_episode(episode, where, self.attrs.image_size, self.attrs.action_dim)
        keys = frozenset(arrays)
        if self._episode_keys is not None and keys != self._episode_keys:
            difference = ", ".join(sorted(keys.symmetric_difference(self._episode_keys)))
            raise DatasetError(f"{where}: fields differ from the file's other episodes ({difference})")
        image = arrays["image"]
        chunk_frames = min(self.chunk_frames, len(image))
        precompressed = (
            _compress_chunks(image, chunk_frames, self.compression_level) if self.compression == "gzip" else None
        )
        # Everything slow is done; from here the file is touched for a few milliseconds.
        episodes = self._file[EPISODES_GROUP]
        temporary_name = f"{PARTIAL_PREFIX}{final_name}"
        if temporary_name in episodes:
            del episodes[temporary_name]
        group = episodes.create_group(temporary_name)
        compression_options = self.compression_level if self.compression == "gzip" else None
        image_dataset = group.create_dataset(
            "image",
            shape=image.shape,
            dtype=np.uint8,
            chunks=(chunk_frames, *image.shape[1:]),
            compression=self.compression,
            compression_opts=compression_options,
        )
        if precompressed is not None:
            for offsets, data in precompressed:
                image_dataset.id.write_direct_chunk(offsets, data)
        else:
            image_dataset[...] = image
        for key, array in arrays.items():
            if key == "image":
                continue
            group.create_dataset(
                key,
                data=array,
                chunks=array.shape if array.size else None,
                compression=self.compression if array.size else None,
                compression_opts=compression_options if array.size else None,
            )
        self._file.flush()
        episodes.move(temporary_name, final_name)
        self._file.attrs["num_episodes"] = index + 1
        self._file.flush()
        self._num_episodes = index + 1
        self._episode_keys = keys
        return index

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
    [-1, 1]; rewards finite; every episode has the same fields.
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
        raise DatasetError(f"{where}: not a readable HDF5 file ({_one_line(str(error))})") from None
    try:
        attrs = _attrs_from_file(file, where)
        if EPISODES_GROUP not in file or not isinstance(file[EPISODES_GROUP], h5py.Group):
            raise DatasetError(f"{where}: {EPISODES_GROUP}: missing group")
        episodes = file[EPISODES_GROUP]
        names = list(episodes.keys())
        if "num_episodes" in file.attrs:
            committed = int(file.attrs["num_episodes"])
        else:
            committed = sum(1 for name in names if _FINAL_NAME_RE.match(name))
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
                with _as_dataset_error():
                    check_field_layout(key, dataset.dtype, dataset.shape, length, episode_where, attrs.image_size, attrs.action_dim)
                    if key in ("action", "reward"):
                        check_field_values(key, dataset[()], episode_where)
            if length < 1:
                raise DatasetError(f"{episode_where}/image: episode has no steps")
            lengths[index] = length
    except DatasetError:
        file.close()
        raise
    except (OSError, KeyError, RuntimeError) as error:
        file.close()
        raise DatasetError(f"{where}: unreadable content ({_one_line(str(error))})") from None
    keys_tuple = tuple(sorted(reference_keys)) if reference_keys is not None else REQUIRED_KEYS
    return EpisodeDataset(file_path, file, attrs, lengths, partial_episodes, keys_tuple)
