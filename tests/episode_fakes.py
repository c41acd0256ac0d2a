"""Synthetic episodes and a tiny deterministic environment for the data, replay and collect tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from vid2act_envs.base import TaskSpec
from vid2act_envs.dataset import DatasetAttrs

ACTION_DIM = 4
IMAGE_SIZE = 16


def make_episode(
    rng: np.random.Generator,
    length: int,
    action_dim: int = ACTION_DIM,
    image_size: int = IMAGE_SIZE,
    with_success: bool = True,
) -> dict[str, np.ndarray]:
    """A random episode of `length` steps that follows the episode-array convention."""
    action = rng.uniform(-1, 1, (length, action_dim)).astype(np.float32)
    action[0] = 0.0
    reward = rng.normal(size=length).astype(np.float32)
    reward[0] = 0.0
    steps = np.arange(length)
    episode = {
        "image": rng.integers(0, 256, (length, image_size, image_size, 3), dtype=np.uint8),
        "action": action,
        "reward": reward,
        "is_first": steps == 0,
        "is_last": steps == length - 1,
        "is_terminal": np.zeros(length, dtype=bool),
    }
    if with_success:
        episode["success"] = steps >= length - 2
    return episode


def make_attrs(collector: str = "random", image_size: int = IMAGE_SIZE, action_dim: int = ACTION_DIM) -> DatasetAttrs:
    return DatasetAttrs(
        domain="fake",
        task="counter",
        action_repeat=1,
        camera="corner",
        collector=collector,
        image_size=image_size,
        action_dim=action_dim,
    )


class CounterEnv:
    """Deterministic Env: the image encodes the step count, reward = action[0], success from step 3."""

    def __init__(self, episode_steps: int = 5, image_size: int = IMAGE_SIZE, action_dim: int = ACTION_DIM) -> None:
        self.spec = TaskSpec(
            domain="fake", task="counter", action_repeat=1, episode_steps=episode_steps, camera="corner", has_success=True
        )
        self.action_dim = action_dim
        self.image_size = (image_size, image_size)
        self._step = 0
        self.reset_seeds: list[int | None] = []

    def _obs(self, reward: float, is_first: bool) -> dict[str, Any]:
        is_last = self._step >= self.spec.episode_steps
        return {
            "image": np.full((*self.image_size, 3), self._step, dtype=np.uint8),
            "state": np.array([self._step], dtype=np.float32),
            "reward": np.float32(reward),
            "success": self._step >= 3,
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": False,
        }

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        self.reset_seeds.append(seed)
        self._step = 0
        return self._obs(0.0, True)

    def step(self, action: np.ndarray) -> dict[str, Any]:
        self._step += 1
        return self._obs(float(action[0]), False)

    def close(self) -> None:
        pass
