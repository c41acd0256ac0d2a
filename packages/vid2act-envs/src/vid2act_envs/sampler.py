"""`SequenceSampler`: uniform fixed-length windows over episodes (offline datasets and the replay)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class SequenceSampler:
    """Uniform fixed-length windows over a collection of episodes.

    Every valid window (L consecutive steps inside one episode) is equally likely, as in the
    published code: the window index is drawn uniformly among all windows of all episodes, using
    precomputed cumulative window counts, so sampling costs O(B log E) index work plus B slice
    copies per key, independent of the total number of frames. Episodes shorter than the window
    are skipped; windows never cross episode boundaries.

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
        """Number of indexed episodes (including those too short for a given window)."""
        return len(self._episodes)

    @property
    def num_steps(self) -> int:
        """Total number of steps over all indexed episodes."""
        return int(self.episode_lengths.sum())

    def _cumulative_windows(self, length: int) -> np.ndarray:
        cumulative = self._cumulative_windows_by_length.get(length)
        if cumulative is None:
            windows_per_episode = np.maximum(self.episode_lengths - length + 1, 0)
            cumulative = np.cumsum(windows_per_episode)
            self._cumulative_windows_by_length[length] = cumulative
        return cumulative

    def num_windows(self, length: int) -> int:
        """Number of distinct valid windows of `length` steps."""
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        return int(self._cumulative_windows(length)[-1])

    def sample_indices(
        self, batch_size: int, length: int, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw `batch_size` windows; return (episode indices, start offsets), both int64 (B,)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        total_windows = self.num_windows(length)
        if total_windows == 0:
            raise ValueError(
                f"SequenceSampler: no episode has at least {length} steps "
                f"(longest has {int(self.episode_lengths.max())})"
            )
        generator = rng if rng is not None else self._rng
        cumulative = self._cumulative_windows(length)
        window_ids = generator.integers(0, total_windows, size=batch_size)
        episode_ids = np.searchsorted(cumulative, window_ids, side="right")
        windows_before = np.where(episode_ids > 0, cumulative[np.maximum(episode_ids - 1, 0)], 0)
        starts = window_ids - windows_before
        return episode_ids.astype(np.int64), starts.astype(np.int64)

    def sample(self, batch_size: int, length: int, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Return a batch dict with arrays of shape (batch_size, length, ...) for every key."""
        episode_ids, starts = self.sample_indices(batch_size, length, rng)
        first_episode = self._episodes[int(episode_ids[0])]
        batch: dict[str, np.ndarray] = {}
        for key in self.keys:
            reference = first_episode[key]
            batch[key] = np.empty((batch_size, length, *reference.shape[1:]), dtype=reference.dtype)
        for row, (episode_id, start) in enumerate(zip(episode_ids.tolist(), starts.tolist())):
            episode = self._episodes[episode_id]
            for key in self.keys:
                batch[key][row] = episode[key][start : start + length]
        return batch
