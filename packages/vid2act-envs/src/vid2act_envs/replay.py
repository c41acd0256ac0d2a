"""Online episode storage for training (numpy only).

Episodes follow the convention in docs/architecture.md ("Episode arrays"): a dict of arrays with
time first, where `action[t]` is the action that led to `image[t]` and `action[0]` is zeros.

`Replay` accumulates steps into episodes, keeps them in memory for sampling (through a
`vid2act_envs.sampler.SequenceSampler`) and persists every finished episode as one compressed
`.npz` file, written atomically, so a run can resume.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vid2act_envs.episodes import validate_episode
from vid2act_envs.sampler import SequenceSampler

_EPISODE_FILE_RE = re.compile(r"^ep-(\d{8})-(\d+)\.npz$")
_PARTIAL_FILE_NAME = "partial.npz"
_PARTIAL_SEQUENCE_KEY = "__sequence__"
QUARANTINE_DIR_NAME = "quarantine"
CORRUPT_DIR_NAME = "corrupt"
"""Sub-folder of `quarantine/` that receives stored episode files found unreadable on resume."""
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)
"""What reading a damaged .npz raises (truncated zip, bad CRC, missing or malformed arrays)."""

logger = logging.getLogger("vid2act.replay")
"""Sub-folder of a replay directory that receives episodes newer than a resumed checkpoint."""


def _write_npz_atomically(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write a compressed .npz to `path` via a temporary file, fsync and os.replace.

    vid2act_core.runtime.fileio has the shared atomic writer, but this package never imports core (it
    must run without torch), so it keeps this small one; `_restore` removes its stale temporaries.
    """
    temporary_path = path.with_name(f".{path.name}.tmp")
    with open(temporary_path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary_path, path)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


class Replay:
    """Online episode storage for training: in memory for sampling, persisted to disk to resume.

    Steps arrive through `add_step({**obs, "action": action})` (the action that led to `obs`;
    zeros on the reset step) and are accumulated into the current episode. When a step has
    `is_last`, the episode is finished: it is checked against the episode convention
    (`vid2act_envs.episodes`), stored and, if a directory was given, written as one compressed `ep-<sequence>-<length>.npz` file via a temporary file and
    `os.replace` (a file either exists complete or not at all). Whole episodes can be added with
    `add_episode`.

    Persistence guarantee: every finished episode is on disk when `add_step`/`add_episode`
    returns. The unfinished episode is written (atomically, to `partial.npz`) by `save_partial()`
    and `close()`; call `save_partial()` with every checkpoint. A killed run therefore loses at
    most the steps added since the last `save_partial()`/`close()`. On restore (constructing a
    Replay on an existing directory) the saved unfinished episode cannot be continued, since the
    environment's state is gone: it is stored as a truncated episode (its final step gets
    `is_last=True`, `is_terminal` unchanged) so that its steps stay available. Likewise an
    `is_first` step arriving while an episode is in progress closes that episode as truncated.

    Capacity: when `capacity_steps` is set, the oldest episodes (and their files) are evicted
    while the stored steps exceed it; the newest episode is always kept.

    Sequence numbers: the n-th episode ever stored (evicted ones included) has sequence n, so for
    a replay filled by one training run the sequence is the run's episode index. Resuming from a
    checkpoint taken after `E` episodes, `quarantine_from(E)` moves the episodes stored after that
    checkpoint aside (docs/testing.md, "Resume").
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        capacity_steps: int | None = None,
    ) -> None:
        """Create a replay; if `directory` exists, restore every episode stored there."""
        if capacity_steps is not None and capacity_steps < 1:
            raise ValueError(f"capacity_steps must be >= 1 or None, got {capacity_steps}")
        self.directory: Path | None = Path(directory) if directory is not None else None
        self.capacity_steps = capacity_steps
        self._episodes: deque[dict[str, np.ndarray]] = deque()
        self._episode_files: deque[Path | None] = deque()
        self._episode_sequences: deque[int] = deque()
        self._num_steps = 0
        self._next_sequence = 0
        self._current_steps: list[dict[str, np.ndarray]] = []
        self._sampler: SequenceSampler | None = None
        self.num_evicted_episodes = 0
        """Episodes evicted for capacity since this object was created."""
        self.corrupt_files: list[Path] = []
        """Where unreadable episode files found on restore were moved (`quarantine/corrupt/`)."""
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._restore()

    @classmethod
    def load(cls, directory: Path | str, capacity_steps: int | None = None) -> Replay:
        """Restore a replay from an existing directory (raises FileNotFoundError if it is missing)."""
        path = Path(directory)
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: replay directory does not exist")
        return cls(path, capacity_steps=capacity_steps)

    # ----------------------------------------------------------------------------------- state
    @property
    def num_steps(self) -> int:
        """Steps in stored (finished) episodes."""
        return self._num_steps

    @property
    def num_episodes(self) -> int:
        """Number of stored (finished) episodes."""
        return len(self._episodes)

    @property
    def current_length(self) -> int:
        """Steps accumulated in the unfinished episode."""
        return len(self._current_steps)

    def episodes(self) -> Iterator[dict[str, np.ndarray]]:
        """Iterate over stored episodes, oldest first."""
        return iter(list(self._episodes))

    # ---------------------------------------------------------------------------------- adding
    def add_step(self, transition: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """Append one step (observation keys plus `action`); return the episode if it finished.

        Scalars (reward, flags) and arrays (image, action, state, ...) are all kept per step.
        """
        if "action" not in transition or "image" not in transition:
            raise ValueError("add_step: a transition needs 'image' and 'action' (zeros on the reset step)")
        step = {key: np.asarray(value) for key, value in transition.items()}
        if self._current_steps:
            expected_keys = self._current_steps[0].keys()
            if bool(step.get("is_first", False)):
                self._finish_current(truncated=True)
            elif step.keys() != expected_keys:
                difference = sorted(set(expected_keys).symmetric_difference(step.keys()))
                raise ValueError(f"add_step: keys differ from the episode's first step: {', '.join(difference)}")
        elif "is_first" in step and not bool(step["is_first"]):
            raise ValueError(
                "add_step: an episode must start with the reset step (is_first=True, zero action); "
                "got a step with is_first=False and no episode in progress"
            )
        self._current_steps.append(step)
        if bool(step.get("is_last", False)):
            return self._finish_current(truncated=False)
        return None

    def add_episode(self, episode: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Store (and persist) one whole episode; return it as stored."""
        arrays = validate_episode(episode, "replay: added episode")
        return self._store(arrays)

    def discard_current(self) -> int:
        """Drop the unfinished episode (and its saved partial file); return the steps dropped."""
        dropped = len(self._current_steps)
        self._current_steps = []
        if self.directory is not None:
            (self.directory / _PARTIAL_FILE_NAME).unlink(missing_ok=True)
        return dropped

    def _current_as_episode(self) -> dict[str, np.ndarray]:
        keys = self._current_steps[0].keys()
        stacked = {key: np.stack([step[key] for step in self._current_steps]) for key in keys}
        return validate_episode(stacked, "replay: current episode")

    def _finish_current(self, truncated: bool) -> dict[str, np.ndarray]:
        episode = self._current_as_episode()
        self._current_steps = []
        if truncated:
            episode["is_last"] = episode.get("is_last", np.zeros(len(episode["image"]), bool)).copy()
            episode["is_last"][-1] = True
        stored = self._store(episode)
        if self.directory is not None:
            (self.directory / _PARTIAL_FILE_NAME).unlink(missing_ok=True)
        return stored

    def _store(self, episode: dict[str, np.ndarray], persist: bool = True) -> dict[str, np.ndarray]:
        if self._episodes:
            reference_keys = self._episodes[-1].keys()
            if episode.keys() != reference_keys:
                difference = sorted(set(reference_keys).symmetric_difference(episode.keys()))
                raise ValueError(
                    f"replay: episode keys differ from the stored episodes' keys: {', '.join(difference)}"
                )
        path: Path | None = None
        if self.directory is not None and persist:
            path = self.directory / f"ep-{self._next_sequence:08d}-{len(episode['image'])}.npz"
            _write_npz_atomically(path, episode)
        self._append(episode, path, self._next_sequence)
        self._next_sequence += 1
        return episode

    def _append(self, episode: dict[str, np.ndarray], path: Path | None, sequence: int) -> None:
        self._episodes.append(episode)
        self._episode_files.append(path)
        self._episode_sequences.append(sequence)
        self._num_steps += len(episode["image"])
        self._sampler = None
        self._evict()

    def _evict(self) -> None:
        if self.capacity_steps is None:
            return
        while self._num_steps > self.capacity_steps and len(self._episodes) > 1:
            evicted = self._episodes.popleft()
            evicted_path = self._episode_files.popleft()
            self._episode_sequences.popleft()
            self._num_steps -= len(evicted["image"])
            self.num_evicted_episodes += 1
            if evicted_path is not None:
                evicted_path.unlink(missing_ok=True)
        self._sampler = None

    # ----------------------------------------------------------------------------- persistence
    def save_partial(self) -> None:
        """Persist the unfinished episode atomically (no-op without a directory or steps)."""
        if self.directory is None:
            return
        partial_path = self.directory / _PARTIAL_FILE_NAME
        if not self._current_steps:
            partial_path.unlink(missing_ok=True)
            return
        arrays = dict(self._current_as_episode())
        arrays[_PARTIAL_SEQUENCE_KEY] = np.asarray(self._next_sequence, dtype=np.int64)
        _write_npz_atomically(partial_path, arrays)

    def close(self) -> None:
        """Save the unfinished episode (see `save_partial`); the replay stays usable."""
        self.save_partial()

    def _restore(self) -> None:
        assert self.directory is not None
        for stale in self.directory.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        indexed_files: list[tuple[int, Path]] = []
        for path in self.directory.iterdir():
            match = _EPISODE_FILE_RE.match(path.name)
            if match:
                indexed_files.append((int(match.group(1)), path))
        indexed_files.sort()
        all_sequences = {sequence for sequence, _ in indexed_files}
        if self.capacity_steps is not None:
            # Skip reading episodes that capacity would evict anyway (lengths are in the names):
            # keep the longest run of newest episodes that fits, and at least the newest one.
            lengths = [int(_EPISODE_FILE_RE.match(path.name).group(2)) for _, path in indexed_files]  # type: ignore[union-attr]
            kept_steps = 0
            first_kept = len(indexed_files)
            while first_kept > 0:
                candidate_steps = lengths[first_kept - 1]
                if first_kept < len(indexed_files) and kept_steps + candidate_steps > self.capacity_steps:
                    break
                kept_steps += candidate_steps
                first_kept -= 1
            for _, path in indexed_files[:first_kept]:
                path.unlink(missing_ok=True)
            self.num_evicted_episodes += first_kept
            indexed_files = indexed_files[first_kept:]
        for sequence, path in indexed_files:
            episode = self._read_or_quarantine(path)
            self._next_sequence = sequence + 1
            if episode is not None:
                self._append(episode, path, sequence)
        partial_path = self.directory / _PARTIAL_FILE_NAME
        arrays = self._read_or_quarantine(partial_path, validate=False) if partial_path.exists() else None
        if arrays is not None:
            sequence = int(arrays.pop(_PARTIAL_SEQUENCE_KEY, np.asarray(-1)))
            already_stored = sequence in all_sequences
            if not already_stored and len(arrays.get("image", ())) > 0:
                self._next_sequence = max(self._next_sequence, sequence)
                episode = validate_episode(arrays, str(partial_path))
                episode["is_last"] = episode.get("is_last", np.zeros(len(episode["image"]), bool)).copy()
                episode["is_last"][-1] = True
                self._store(episode)
            partial_path.unlink(missing_ok=True)

    def _read_or_quarantine(self, path: Path, validate: bool = True) -> dict[str, np.ndarray] | None:
        """The episode stored in `path`, or None if it is unreadable: then the file is moved (never
        deleted) to `quarantine/corrupt/`, recorded in `corrupt_files` and a warning names it."""
        try:
            arrays = _read_npz(path)
            return validate_episode(arrays, str(path)) if validate else arrays
        except _UNREADABLE as error:
            assert self.directory is not None
            target = self.directory / QUARANTINE_DIR_NAME / CORRUPT_DIR_NAME
            target.mkdir(parents=True, exist_ok=True)
            destination = target / path.name
            index = 1
            while destination.exists():
                destination = target / f"{path.stem}.{index}{path.suffix}"
                index += 1
            shutil.move(str(path), destination)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self.corrupt_files.append(destination)
            logger.warning(
                "replay: %s is unreadable (%s: %s); moved it to %s and resumed without that episode",
                path, type(error).__name__, reason, destination,
            )
            return None

    def quarantine_from(self, first_sequence: int) -> list[Path]:
        """Move every stored episode with sequence >= `first_sequence` out of the replay.

        For resuming: a checkpoint taken after `first_sequence` episodes does not know the episodes
        stored after it (its counters, environment seeds and RNG states predate them), so they leave
        memory and sampling, their files move to `<directory>/quarantine/resume-<n>/` (kept for
        inspection, never read back), the unfinished episode is dropped, and the next episode stored
        gets sequence `first_sequence`. Returns the moved files' new paths (empty when none).
        """
        if first_sequence < 0:
            raise ValueError(f"quarantine_from: first_sequence must be >= 0, got {first_sequence}")
        self.discard_current()
        moved: list[Path] = []
        target: Path | None = None
        while self._episode_sequences and self._episode_sequences[-1] >= first_sequence:
            episode = self._episodes.pop()
            path = self._episode_files.pop()
            self._episode_sequences.pop()
            self._num_steps -= len(episode["image"])
            if path is None or not path.exists():
                continue
            if target is None:
                target = self._new_quarantine_folder()
            destination = target / path.name
            shutil.move(str(path), destination)
            moved.append(destination)
        self._next_sequence = first_sequence
        self._sampler = None
        return sorted(moved)

    def _new_quarantine_folder(self) -> Path:
        assert self.directory is not None
        root = self.directory / QUARANTINE_DIR_NAME
        root.mkdir(exist_ok=True)
        index = 0
        while (root / f"resume-{index:03d}").exists():
            index += 1
        folder = root / f"resume-{index:03d}"
        folder.mkdir()
        return folder

    # -------------------------------------------------------------------------------- sampling
    def sampler(self) -> SequenceSampler:
        """A SequenceSampler over the stored episodes (rebuilt only after the replay changed)."""
        if not self._episodes:
            raise ValueError("replay: no finished episodes to sample from yet")
        if self._sampler is None:
            self._sampler = SequenceSampler(list(self._episodes))
        return self._sampler

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniform windows of `length` steps over stored episodes: arrays of shape (B, L, ...)."""
        return self.sampler().sample(batch_size, length, rng)
