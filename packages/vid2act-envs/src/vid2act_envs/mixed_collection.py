"""Collection for data diversity: action noise and expert/random mixing, recorded in the dataset.

`NoisyPolicy` adds clipped Gaussian noise to another policy's actions; `MixedPolicy` hands whole
episodes to a random policy at a fixed fraction (episode i is random when
floor((i + 1) * f) > floor(i * f), so every prefix of the dataset holds the fraction exactly).
`annotate_dataset` stores the collection settings (noise, random fraction, expert hash) as file
attributes under the `collection.` prefix (`vid2act_envs.collect.collect_dataset(annotations=...)`
calls it), which readers of the episode format ignore and `dataset_annotations` returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vid2act_envs.base import Observation, Policy
from vid2act_envs.dataset import DatasetError
from vid2act_envs.policies import RandomPolicy

ANNOTATION_PREFIX = "collection."


class NoisyPolicy:
    """`policy`'s action plus N(0, std^2) noise per dimension, clipped to [-1, 1]."""

    def __init__(self, policy: Policy, std: float, seed: int | None = 0) -> None:
        if not std >= 0.0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.policy = policy
        self.std = float(std)
        self.name = policy.name if std == 0.0 else f"{policy.name}+noise{std:g}"
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        self.policy.reset()

    def __call__(self, obs: Observation) -> np.ndarray:
        action = np.asarray(self.policy(obs), dtype=np.float32)
        if self.std > 0.0:
            action = action + self._rng.normal(0.0, self.std, size=action.shape).astype(np.float32)
        return np.clip(action, -1.0, 1.0)


def is_random_episode(index: int, random_fraction: float) -> bool:
    """Whether episode `index` of a mixed collection uses the random policy."""
    return math.floor((index + 1) * random_fraction + 1e-9) > math.floor(index * random_fraction + 1e-9)


class MixedPolicy:
    """Whole episodes from `expert`, except a `random_fraction` of them from uniform random actions.

    `first_episode` is the index of the next episode in the dataset (appending continues the
    schedule). `reset()` (called at every episode start) picks the episode's policy.
    """

    def __init__(self, expert: Policy, action_dim: int, random_fraction: float, seed: int | None = 0, first_episode: int = 0) -> None:
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random fraction must be in [0, 1], got {random_fraction}")
        self.expert = expert
        self.random = RandomPolicy(action_dim, seed=seed)
        self.random_fraction = float(random_fraction)
        self.name = expert.name if random_fraction == 0.0 else f"{expert.name}+random{random_fraction:g}"
        self._next_episode = first_episode
        self._active: Policy = expert
        self.random_episodes: list[int] = []
        """Indices (in the dataset) of the episodes given to the random policy."""

    def reset(self) -> None:
        index = self._next_episode
        self._next_episode += 1
        self._active = self.random if is_random_episode(index, self.random_fraction) else self.expert
        if self._active is self.random:
            self.random_episodes.append(index)
        self._active.reset()

    def __call__(self, obs: Observation) -> np.ndarray:
        return self._active(obs)


def _annotation_value(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool, np.integer, np.floating)) else str(value)


def annotate_dataset(path: Path | str, annotations: Mapping[str, Any]) -> None:
    """Store `annotations` as `collection.<key>` file attributes of an existing dataset."""
    with h5py.File(path, "r+") as file:
        for key, value in annotations.items():
            file.attrs[ANNOTATION_PREFIX + key] = _annotation_value(value)


def dataset_annotations(path: Path | str) -> dict[str, Any]:
    """The `collection.*` attributes of a dataset (prefix removed); DatasetError if unreadable."""
    try:
        with h5py.File(path, "r") as file:
            values = {key[len(ANNOTATION_PREFIX):]: file.attrs[key] for key in file.attrs if key.startswith(ANNOTATION_PREFIX)}
    except OSError as error:
        raise DatasetError(f"{path}: not a readable HDF5 file ({' '.join(str(error).split())})") from None
    return {key: value.decode() if isinstance(value, bytes) else (value.item() if isinstance(value, np.generic) else value) for key, value in values.items()}
