"""Run a policy in an environment and record episodes by the episode-array convention.

Step 0 of an episode is the reset observation with a zero action; `action[t]` is the action that
led to `image[t]`; an episode's success is `success` true at any step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vid2act_envs.base import Domain, Env, Observation, Policy, PolicyFactory, TaskSpec
from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter, open_dataset
from vid2act_envs.mixed_collection import annotate_dataset
from vid2act_envs.parallel import can_pickle, check_workers, run_in_workers
from vid2act_envs.policies import RandomPolicy, expert_policy

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
    episode_stream = (
        run_episode(env, policy, seed=seed if index == 0 else None, on_step=on_step, extra_keys=extra_keys)
        for index in range(episodes)
    )
    return record_episodes(episode_stream, writer, on_episode)


def record_episodes(
    episode_stream: Iterable[dict[str, np.ndarray]],
    writer: EpisodeWriter | None = None,
    on_episode: Callable[[dict[str, np.ndarray], EpisodeSummary], None] | None = None,
) -> CollectStats:
    """Commit each episode of the stream to `writer` (if given), count it, then call on_episode."""
    stats = CollectStats()
    for index, episode in enumerate(episode_stream):
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
"""Policy names accepted by `collect_dataset` (besides a policy factory)."""


class EnvironmentFactory(Protocol):
    """What `collect_dataset` needs from a registry (`vid2act_envs.tasks.DomainRegistry` fits)."""

    def resolve(self, name: str) -> TaskSpec: ...

    def domain(self, name: str) -> Domain: ...

    def make_env(
        self,
        name_or_spec: str | TaskSpec,
        seed: int = 0,
        image_size: int = 64,
        render: bool = True,
        action_repeat: int | None = None,
        episode_steps: int | None = None,
        camera: str | int | None = None,
    ) -> Env: ...


def default_dataset_path(spec: TaskSpec, data_directory: Path | str = "data") -> Path:
    """Where `vid2act collect` writes a task's episodes by default: data/<task>.h5."""
    return Path(data_directory) / f"{spec.task}.h5"


def dataset_episodes(path: Path | str) -> int:
    """Episodes held by the dataset at `path` (0 when there is no file); DatasetError if unreadable."""
    if not Path(path).exists():
        return 0
    with open_dataset(path) as dataset:
        return len(dataset)


def collect_dataset(
    registry: EnvironmentFactory,
    task: str,
    episodes: int,
    policy: str | PolicyFactory = "expert",
    out: Path | str | None = None,
    seed: int = 0,
    image_size: int = 64,
    episode_steps: int | None = None,
    on_start: Callable[[TaskSpec, Path, int], None] | None = None,
    on_step: Callable[[Observation], None] | None = None,
    on_episode: Callable[[dict[str, np.ndarray], EpisodeSummary], None] | None = None,
    workers: int = 1,
    registry_factory: Callable[[], EnvironmentFactory] | None = None,
    top_up: bool = False,
    action_repeat: int | None = None,
    camera: str | int | None = None,
    annotations: Mapping[str, Any] | None = None,
) -> tuple[CollectStats, Path]:
    """Collect episodes of `task` into an HDF5 dataset: the one way datasets are written.

    policy: "expert" (the domain's scripted expert), "random", or a factory (action_dim, seed) ->
    Policy (`vid2act_envs.base.PolicyFactory`: a trained state expert, a pixel agent...), called
    once per episode; the dataset's `collector` attribute is the policy's name.
    out defaults to data/<task>.h5. An existing file is appended to (its attributes must match).
    episodes: how many to add; with top_up, how many the file should hold (only the missing ones
    are collected, none when it holds enough).

    Seeds: the episode at index k of the file is reset with seed + k and its policy built with
    that seed, so appending continues the seeds after the episodes already there, and the data do
    not depend on `workers`.

    workers > 1: episodes run in that many processes (vid2act_envs.parallel), each building its
    registry with the picklable `registry_factory` and its own policy (a factory must pickle: a
    policy that cannot be rebuilt in a worker, such as a torch agent on a GPU, collects with
    workers=1). on_step then runs in the parent for every step of an episode once it arrives.
    action_repeat, episode_steps, camera override the task's defaults. annotations are stored as
    `collection.*` file attributes once episodes are written. on_start(spec, path, episodes
    already in the file) runs once the environment and file are open. Raises ValueError
    subclasses (UnknownTaskError, NoExpertError, DatasetError) with one-line messages for bad
    input. Returns the statistics of the episodes collected now and the dataset path.
    """
    if isinstance(policy, str) and policy not in POLICY_CHOICES:
        raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICY_CHOICES)}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    check_workers(workers)
    if workers > 1 and (registry_factory is None or not can_pickle(registry_factory)):
        raise ValueError("workers > 1 needs a picklable registry_factory that worker processes can call")
    if workers > 1 and not isinstance(policy, str) and not can_pickle(policy):
        raise ValueError(f"--workers {workers}: the policy factory {policy!r} does not pickle, so worker "
                         "processes cannot rebuild it; use --workers 1")
    spec = registry.resolve(task)
    # A missing expert is reported before the (slow) environment starts.
    expert = expert_policy(registry, spec) if policy == "expert" else None
    path = Path(out) if out is not None else default_dataset_path(spec)
    if top_up and dataset_episodes(path) >= episodes:
        return CollectStats(), path
    env_settings: dict[str, Any] = {"image_size": image_size, "action_repeat": action_repeat,
                                    "episode_steps": episode_steps, "camera": camera}
    env = registry.make_env(spec, seed=seed, **env_settings)
    try:
        make_policy = _policy_factory(policy, expert)
        collector = make_policy(env.action_dim, seed).name
        with EpisodeWriter(path, DatasetAttrs.from_env(env, collector)) as writer:
            existing = writer.num_episodes
            if on_start is not None:
                on_start(env.spec, path, existing)
            count = max(0, episodes - existing) if top_up else episodes
            seeds = [seed + existing + index for index in range(count)]
            if workers == 1:
                stream: Iterable[dict[str, np.ndarray]] = (
                    run_episode(env, make_policy(env.action_dim, episode_seed), seed=episode_seed, on_step=on_step)
                    for episode_seed in seeds
                )
            else:
                setup = partial(_worker_setup, registry_factory, spec.name, policy, env_settings)
                stream = _replay_steps(run_in_workers(setup, _worker_episode, seeds, workers), on_step)
            stats = record_episodes(stream, writer, on_episode)
    finally:
        env.close()
    if annotations and stats.episodes:
        annotate_dataset(path, annotations)
    return stats, path


def _policy_factory(policy: str | PolicyFactory, expert: Policy | None) -> PolicyFactory:
    """The factory behind `policy`: itself, RandomPolicy for "random", else the scripted `expert`
    (built once, for "expert"), which every episode shares."""
    if not isinstance(policy, str):
        return policy
    if expert is None:
        return RandomPolicy
    return lambda action_dim, seed: expert


def _worker_setup(
    registry_factory: Callable[[], EnvironmentFactory], task: str, policy: str | PolicyFactory, env_settings: dict[str, Any]
) -> tuple[Env, PolicyFactory]:
    """In a worker process: the task's environment and the policy factory."""
    registry = registry_factory()
    spec = registry.resolve(task)
    expert = expert_policy(registry, spec) if policy == "expert" else None
    return registry.make_env(spec, seed=0, **env_settings), _policy_factory(policy, expert)


def _worker_episode(context: tuple[Env, PolicyFactory], seed: int) -> dict[str, np.ndarray]:
    """In a worker process: one episode from reset seed `seed`, its policy built with that seed."""
    env, make_policy = context
    return run_episode(env, make_policy(env.action_dim, seed), seed=seed)


def _replay_steps(
    stream: Iterable[dict[str, np.ndarray]], on_step: Callable[[Observation], None] | None
) -> Iterator[dict[str, np.ndarray]]:
    """Pass episodes through, calling on_step once per environment step of each (progress display)."""
    for episode in stream:
        if on_step is not None:
            for step in range(1, len(episode["image"])):
                on_step({key: value[step] for key, value in episode.items()})
        yield episode
