"""Run a policy in an environment and record episodes by the episode-array convention.

Step 0 of an episode is the reset observation with a zero action; `action[t]` is the action that
led to `image[t]`; an episode's success is `success` true at any step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vid2act_envs.base import Env, Observation, Policy
from vid2act_envs.dataset import EpisodeWriter

STORED_OBSERVATION_KEYS: tuple[str, ...] = ("image", "reward", "is_first", "is_last", "is_terminal")
"""Observation keys recorded for every task (plus `success` where the task defines it)."""


@dataclass(frozen=True)
class EpisodeSummary:
    """Outcome of one collected episode."""

    index: int
    steps: int
    """Environment steps (the stored arrays have steps + 1 entries: the reset comes first)."""
    episode_return: float
    success: bool | None
    """Whether `success` was true at any step; None where the task defines no success."""


@dataclass
class CollectStats:
    """Totals over a `collect_episodes` call."""

    episodes: int = 0
    steps: int = 0
    """Environment steps over all episodes."""
    returns: list[float] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)
    """One flag per episode, empty where the task defines no success."""

    @property
    def mean_return(self) -> float:
        """Mean undiscounted episode return (NaN before any episode)."""
        return float(np.mean(self.returns)) if self.returns else float("nan")

    @property
    def success_rate(self) -> float | None:
        """Fraction of successful episodes, None where the task defines no success."""
        return float(np.mean(self.successes)) if self.successes else None


def _checked_action(policy: Policy, obs: Observation, action_dim: int) -> np.ndarray:
    action = np.asarray(policy(obs), dtype=np.float32)
    if action.shape != (action_dim,):
        raise ValueError(f"policy {policy.name!r} returned an action of shape {action.shape}, expected ({action_dim},)")
    if not np.isfinite(action).all():
        raise ValueError(f"policy {policy.name!r} returned a non-finite action {action}")
    return np.clip(action, -1.0, 1.0)


def run_episode(
    env: Env,
    policy: Policy,
    seed: int | None = None,
    on_step: Callable[[Observation], None] | None = None,
    extra_keys: Sequence[str] = (),
    max_steps: int | None = None,
) -> dict[str, np.ndarray]:
    """Run one episode and return its arrays (image, action, reward, flags, success if defined).

    extra_keys: further observation keys to record (e.g. "state").
    max_steps: raise RuntimeError if the environment has not ended the episode after this many
    steps (default: ten times the task's time limit plus 1000).
    """
    keys = list(STORED_OBSERVATION_KEYS) + (["success"] if env.spec.has_success else []) + list(extra_keys)
    step_limit = max_steps if max_steps is not None else 10 * env.spec.agent_steps + 1000
    policy.reset()
    obs = env.reset(seed=seed)
    records: dict[str, list[np.ndarray]] = {key: [np.asarray(obs[key])] for key in keys}
    actions: list[np.ndarray] = [np.zeros(env.action_dim, dtype=np.float32)]
    steps = 0
    while not bool(obs["is_last"]):
        if steps >= step_limit:
            raise RuntimeError(f"{env.spec.name}: episode did not end within {step_limit} steps (is_last never set)")
        action = _checked_action(policy, obs, env.action_dim)
        obs = env.step(action)
        steps += 1
        actions.append(action)
        for key in keys:
            records[key].append(np.asarray(obs[key]))
        if on_step is not None:
            on_step(obs)
    episode = {key: np.stack(values) for key, values in records.items()}
    episode["image"] = episode["image"].astype(np.uint8, copy=False)
    episode["reward"] = episode["reward"].astype(np.float32)
    for key in ("is_first", "is_last", "is_terminal", "success"):
        if key in episode:
            episode[key] = episode[key].astype(bool)
    episode["action"] = np.stack(actions)
    return episode


def collect_episodes(
    env: Env,
    policy: Policy,
    episodes: int,
    writer: EpisodeWriter | None = None,
    on_step: Callable[[Observation], None] | None = None,
    on_episode: Callable[[dict[str, np.ndarray], EpisodeSummary], None] | None = None,
    seed: int | None = None,
    extra_keys: Sequence[str] = (),
) -> CollectStats:
    """Collect `episodes` episodes of `policy` in `env`; commit each to `writer` if given.

    on_step(obs) runs after every environment step, on_episode(episode, summary) after every
    episode (once it is written). seed is passed to the first reset only; later resets continue
    the environment's random stream.
    """
    if episodes < 0:
        raise ValueError(f"episodes must be >= 0, got {episodes}")
    stats = CollectStats()
    for index in range(episodes):
        episode = run_episode(env, policy, seed=seed if index == 0 else None, on_step=on_step, extra_keys=extra_keys)
        if writer is not None:
            writer.write_episode(episode)
        steps = len(episode["image"]) - 1
        episode_return = float(episode["reward"].sum(dtype=np.float64))
        success = bool(episode["success"].any()) if "success" in episode else None
        stats.episodes += 1
        stats.steps += steps
        stats.returns.append(episode_return)
        if success is not None:
            stats.successes.append(success)
        if on_episode is not None:
            on_episode(episode, EpisodeSummary(index=index, steps=steps, episode_return=episode_return, success=success))
    return stats
