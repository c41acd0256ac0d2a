"""Run a policy in an environment and record episodes by the episode-array convention.

Step 0 of an episode is the reset observation with a zero action; `action[t]` is the action that
led to `image[t]`; an episode's success is `success` true at any step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from vid2act_envs.base import Domain, Env, Observation, Policy, TaskSpec
from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter

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


POLICY_CHOICES: tuple[str, ...] = ("expert", "random")
"""Policy names accepted by `collect_dataset`."""


class EnvironmentFactory(Protocol):
    """What `collect_dataset` needs from a registry (`vid2act_envs.tasks.DomainRegistry` fits)."""

    def resolve(self, name: str) -> TaskSpec: ...

    def domain(self, name: str) -> Domain: ...

    def make_env(
        self, name_or_spec: str | TaskSpec, seed: int = 0, image_size: int = 64, episode_steps: int | None = None
    ) -> Env: ...


def default_dataset_path(spec: TaskSpec, data_directory: Path | str = "data") -> Path:
    """Where `vid2act collect` writes a task's episodes by default: data/<task>.h5."""
    return Path(data_directory) / f"{spec.task}.h5"


def collect_dataset(
    registry: EnvironmentFactory,
    task: str,
    episodes: int,
    policy: str = "expert",
    out: Path | str | None = None,
    seed: int = 0,
    image_size: int = 64,
    episode_steps: int | None = None,
    on_start: Callable[[TaskSpec, Path, int], None] | None = None,
    on_step: Callable[[Observation], None] | None = None,
    on_episode: Callable[[dict[str, np.ndarray], EpisodeSummary], None] | None = None,
) -> tuple[CollectStats, Path]:
    """Collect `episodes` episodes of `task` with the named policy into an HDF5 dataset.

    policy: "expert" (the domain's scripted expert) or "random". out defaults to data/<task>.h5;
    an existing file is appended to (its attributes must match), and the seed is then offset by
    the number of episodes already in the file so that appended episodes differ from the
    existing ones (collection stays reproducible for a given file state). on_start(spec, path,
    episodes already in the file) runs once the environment and file are open. Raises
    ValueError subclasses (UnknownTaskError, NoExpertError, DatasetError) for bad input.
    Returns the statistics and the dataset path.
    """
    from vid2act_envs.policies import RandomPolicy, expert_policy

    if policy not in POLICY_CHOICES:
        raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICY_CHOICES)}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    spec = registry.resolve(task)
    # A missing expert is reported before the (slow) environment starts.
    expert = expert_policy(registry, spec) if policy == "expert" else None
    path = Path(out) if out is not None else default_dataset_path(spec)
    env = registry.make_env(spec, seed=seed, image_size=image_size, episode_steps=episode_steps)
    try:
        collector = expert.name if expert is not None else RandomPolicy.name
        with EpisodeWriter(path, DatasetAttrs.from_env(env, collector)) as writer:
            # Appending continues the random streams instead of repeating the file's first episodes.
            effective_seed = seed + writer.num_episodes
            chosen_policy: Policy = expert if expert is not None else RandomPolicy(env.action_dim, seed=effective_seed)
            if on_start is not None:
                on_start(env.spec, path, writer.num_episodes)
            stats = collect_episodes(
                env, chosen_policy, episodes, writer=writer, on_step=on_step, on_episode=on_episode, seed=effective_seed
            )
    finally:
        env.close()
    return stats, path
