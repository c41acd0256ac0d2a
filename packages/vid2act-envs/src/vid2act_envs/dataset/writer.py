"""`EpisodeWriter`: appends whole episodes to a dataset file, crash-safely (see the package docstring)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vid2act_envs.dataset.format import (
    COMPARED_ATTRS,
    EPISODES_GROUP,
    PARTIAL_PREFIX,
    DatasetAttrs,
    DatasetError,
    as_dataset_error,
    one_line,
    read_attrs,
)
from vid2act_envs.episodes import validate_episode


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
        # An empty file with its attributes appears whole or not at all (temporary file + rename;
        # this package cannot use vid2act_core.runtime.fileio, as it never imports core).
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
            raise DatasetError(f"{where}: not a readable HDF5 file ({one_line(str(error))})") from None
        try:
            existing = read_attrs(file, where)
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
        with as_dataset_error():
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
