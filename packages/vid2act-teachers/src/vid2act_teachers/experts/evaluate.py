"""Evaluation of state policies on DMC from state: undiscounted returns over whole episodes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vid2act_envs.dmc_state import DMCStateEnv

EVAL_SEED_OFFSET = 10_000
"""Evaluation episodes use seeds seed + EVAL_SEED_OFFSET + i, apart from training's streams."""


def evaluate_state_policy(
    task: str,
    act: Callable[[np.ndarray], np.ndarray],
    episodes: int = 10,
    seed: int = 0,
    action_repeat: int = 2,
) -> list[float]:
    """Returns of `episodes` episodes of `act(state) -> action` on `task` (seeded, reproducible)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = DMCStateEnv(task, seed=seed + EVAL_SEED_OFFSET, action_repeat=action_repeat)
    returns: list[float] = []
    try:
        for index in range(episodes):
            state, _ = env.reset(seed=seed + EVAL_SEED_OFFSET + index)
            total, done = 0.0, False
            while not done:
                state, reward, terminated, truncated, _ = env.step(act(state))
                total += reward
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns


def random_action_fn(action_dim: int, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """`act(state)` drawing uniform actions in [-1, 1] (the baseline an expert must beat)."""
    rng = np.random.default_rng(seed)
    return lambda state: rng.uniform(-1.0, 1.0, size=action_dim).astype(np.float32)
