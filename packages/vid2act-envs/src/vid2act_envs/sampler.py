"""`SequenceSampler`: fixed-length windows over episodes of any length (offline datasets and the replay).

Window rule (docs/data-format.md, "Episodes shorter than the training window"):

- an episode of at least L steps offers its L-step windows inside it, `T - L + 1` of them, as
  DreamerV2 and the method's published code sample;
- an episode of T < L steps offers T windows, one starting at each of its steps; such a window
  runs to the episode's end and continues with the following episodes (in order, the last one
  followed by the first) until it holds L steps. `is_first` is True at every episode start inside
  a window, so the world model resets its state there (DreamerV3's replay does the same).

Every window of every episode is equally likely. When all episodes are at least L long this is
DreamerV2's sampling exactly; when all are shorter it is DreamerV3's stream of concatenated
episodes, in which every step lies in L windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BOUNDARY_KEY = "is_first"
"""The flag that marks an episode start inside a window (where the RSSM resets its state)."""


class SequenceSampler:
    """Uniform fixed-length windows over a collection of episodes (see the module docstring).

    The window index is drawn uniformly among all windows of all episodes using precomputed
    cumulative window counts, so sampling costs O(B log E) index work plus a few slice copies per
    window and key, independent of the total number of frames.

    Episode values may be numpy arrays or any sliceable array (e.g. lazily read h5py datasets).
    """

    def __init__(
        self,
        episodes: Sequence[Mapping[str, Any]],
        keys: Sequence[str] | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        """Index `episodes` (kept by reference, not copied).

        keys: the arrays to sample; default every key of the episodes, which must then agree.
        rng: the generator used when `sample` gets none (an int seeds a new one).
        """
        self._episodes: list[Mapping[str, Any]] = list(episodes)
        if not self._episodes:
            raise ValueError("SequenceSampler: no episodes to sample from")
        if keys is None:
            first_keys = set(self._episodes[0].keys())
            for index, episode in enumerate(self._episodes):
                if set(episode.keys()) != first_keys:
                    difference = sorted(first_keys.symmetric_difference(episode.keys()))
                    raise ValueError(
                        f"SequenceSampler: episode {index} has different keys from episode 0 "
                        f"(differing: {', '.join(difference)}); pass keys= to choose a common subset"
                    )
            self.keys: tuple[str, ...] = tuple(self._episodes[0].keys())
        else:
            self.keys = tuple(keys)
            for index, episode in enumerate(self._episodes):
                missing = [key for key in self.keys if key not in episode]
                if missing:
                    raise ValueError(f"SequenceSampler: episode {index} lacks key(s) {', '.join(missing)}")
        self.episode_lengths: np.ndarray = np.fromiter(
            (len(episode[self.keys[0]]) for episode in self._episodes), dtype=np.int64, count=len(self._episodes)
        )
        self._rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._cumulative_windows_by_length: dict[int, np.ndarray] = {}

    @property
    def num_episodes(self) -> int:
        """Number of indexed episodes."""
        return len(self._episodes)

    @property
    def num_steps(self) -> int:
        """Total number of steps over all indexed episodes."""
        return int(self.episode_lengths.sum())

    def windows_per_episode(self, length: int) -> np.ndarray:
        """(E,) int64: windows of `length` steps starting in each episode (T - L + 1, or T when T < L)."""
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        lengths = self.episode_lengths
        return np.where(lengths >= length, lengths - length + 1, lengths)

    def _cumulative_windows(self, length: int) -> np.ndarray:
        cumulative = self._cumulative_windows_by_length.get(length)
        if cumulative is None:
            cumulative = np.cumsum(self.windows_per_episode(length))
            self._cumulative_windows_by_length[length] = cumulative
        return cumulative

    def num_windows(self, length: int) -> int:
        """Number of distinct windows of `length` steps."""
        return int(self._cumulative_windows(length)[-1])

    def check_window(self, length: int) -> None:
        """Raise a one-line ValueError when windows of `length` steps cannot be drawn from these episodes."""
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        if self.num_steps < length:
            raise ValueError(
                f"SequenceSampler: the {self.num_episodes} episode(s) hold {self.num_steps} steps in total, "
                f"fewer than one window of {length}; collect more episodes or lower train.batch_length"
            )
        if int(self.episode_lengths.max()) < 2:
            raise ValueError(
                f"SequenceSampler: all {self.num_episodes} episode(s) have a single step (the reset observation), "
                "so there is no transition to learn from"
            )
        if int(self.episode_lengths.min()) < length and BOUNDARY_KEY not in self.keys:
            raise ValueError(
                f"SequenceSampler: episodes shorter than the window of {length} steps continue into the next "
                f"episode, which needs the {BOUNDARY_KEY!r} key to mark the boundary; sample it too"
            )

    def sample_indices(
        self, batch_size: int, length: int, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw `batch_size` windows; return (episode indices, start offsets), both int64 (B,)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.check_window(length)
        generator = rng if rng is not None else self._rng
        cumulative = self._cumulative_windows(length)
        window_ids = generator.integers(0, int(cumulative[-1]), size=batch_size)
        episode_ids = np.searchsorted(cumulative, window_ids, side="right")
        windows_before = np.where(episode_ids > 0, cumulative[np.maximum(episode_ids - 1, 0)], 0)
        starts = window_ids - windows_before
        return episode_ids.astype(np.int64), starts.astype(np.int64)

    def window_pieces(self, episode_id: int, start: int, length: int) -> list[tuple[int, int, int]]:
        """The (episode, start, stop) slices that make up the window of `length` steps at (episode_id, start)."""
        pieces: list[tuple[int, int, int]] = []
        remaining = length
        episode, offset = episode_id, start
        while remaining > 0:
            take = min(int(self.episode_lengths[episode]) - offset, remaining)
            pieces.append((episode, offset, offset + take))
            remaining -= take
            episode, offset = (episode + 1) % self.num_episodes, 0
        return pieces

    def sample(self, batch_size: int, length: int, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Return a batch dict with arrays of shape (batch_size, length, ...) for every key."""
        episode_ids, starts = self.sample_indices(batch_size, length, rng)
        first_episode = self._episodes[int(episode_ids[0])]
        batch: dict[str, np.ndarray] = {}
        for key in self.keys:
            reference = first_episode[key]
            batch[key] = np.empty((batch_size, length, *reference.shape[1:]), dtype=reference.dtype)
        for row, (episode_id, start) in enumerate(zip(episode_ids.tolist(), starts.tolist())):
            position = 0
            for episode_index, begin, end in self.window_pieces(episode_id, start, length):
                episode = self._episodes[episode_index]
                for key in self.keys:
                    batch[key][row, position : position + end - begin] = episode[key][begin:end]
                if begin == 0 and BOUNDARY_KEY in batch:
                    batch[BOUNDARY_KEY][row, position] = True
                position += end - begin
        return batch
