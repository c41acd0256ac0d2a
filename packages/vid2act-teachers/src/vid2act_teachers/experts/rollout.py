"""Roll a cached state expert out in the pixel environment to write a source dataset (HDF5).

The expert acts from `obs["state"]` (the same flattened dm_control observation it was trained
on) while the environment renders the images that are stored. The dataset's `collector`
attribute names the expert by hash and carries the noise / mixing settings; its `collection.*`
attributes hold the expert's full sha256, evaluation return, noise and random fraction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vid2act_envs.base import Policy
from vid2act_envs.collect import CollectStats, EnvironmentFactory, EpisodeSummary
from vid2act_envs.mixed_collection import MixedPolicy, NoisyPolicy, collect_annotated

from vid2act_teachers.experts.store import ExpertError, ExpertMetadata, expert_dir, load_expert


def collector_name(expert_name: str, noise: float, random_fraction: float) -> str:
    """The dataset's `collector` attribute for an expert with noise and mixing settings."""
    name = expert_name if noise == 0.0 else f"{expert_name}+noise{noise:g}"
    return name if random_fraction == 0.0 else f"{name}+random{random_fraction:g}"


def expert_annotations(metadata: ExpertMetadata, noise: float = 0.0, random_fraction: float = 0.0) -> dict[str, Any]:
    """The `collection.*` attributes a dataset collected by this expert carries."""
    return {
        "expert_sha256": metadata.sha256,
        "expert_algorithm": metadata.algorithm,
        "expert_agent_steps": metadata.agent_steps,
        "expert_eval_return": metadata.eval_mean,
        "action_noise": float(noise),
        "random_fraction": float(random_fraction),
    }


def collect_expert_dataset(
    registry: EnvironmentFactory,
    task: str,
    home: Path | str,
    out: Path | str,
    episodes: int,
    noise: float = 0.0,
    random_fraction: float = 0.0,
    seed: int = 0,
    expert_seed: int = 0,
    image_size: int = 64,
    episode_steps: int | None = None,
    on_episode: Callable[[dict[str, np.ndarray], EpisodeSummary], None] | None = None,
) -> tuple[CollectStats, ExpertMetadata]:
    """Append `episodes` pixel episodes of the cached expert for `task` to the dataset `out`.

    noise: std of Gaussian action noise; random_fraction: share of episodes from uniform random
    actions. episode_steps overrides the task's time limit in simulator steps (short test
    episodes). Raises ExpertError when no (valid) expert is cached or it does not fit the task.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if not noise >= 0.0:
        raise ValueError(f"--noise must be >= 0, got {noise}")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"--random-fraction must be in [0, 1], got {random_fraction}")
    expert, metadata = load_expert(expert_dir(home, task, expert_seed))
    spec = registry.resolve(task)
    if spec.task != metadata.task:
        raise ExpertError(f"{expert_dir(home, task, expert_seed)}: expert is for {metadata.task!r}, not {spec.task!r}")
    if spec.action_repeat != metadata.expert_config.action_repeat:
        raise ExpertError(
            f"{expert_dir(home, task, expert_seed)}: expert trained with action repeat {metadata.expert_config.action_repeat}, "
            f"{spec.name} uses {spec.action_repeat}"
        )
    env = registry.make_env(spec, seed=seed, image_size=image_size, episode_steps=episode_steps)
    try:
        action_dim = env.action_dim

        def make_policy(existing: int) -> Policy:
            noisy = NoisyPolicy(expert, noise, seed=seed + existing)
            return MixedPolicy(noisy, action_dim, random_fraction, seed=seed + existing + 1, first_episode=existing)

        stats = collect_annotated(
            env, make_policy, collector_name(expert.name, noise, random_fraction), episodes, out,
            expert_annotations(metadata, noise, random_fraction), seed=seed, on_episode=on_episode,
        )
    finally:
        env.close()
    return stats, metadata


def source_expert_of(paths: list[Path]) -> dict[str, Any] | None:
    """The expert recorded by every dataset in `paths` (for the teacher's metadata), else None.

    None when a dataset records no expert or the datasets record different ones.
    """
    from vid2act_envs.mixed_collection import dataset_annotations

    found = {expert_identity(dataset_annotations(path)) for path in paths}
    if len(found) != 1 or None in found:
        return None
    sha256, algorithm, agent_steps, eval_return = found.pop()  # type: ignore[misc]
    return {"sha256": sha256, "algorithm": algorithm, "agent_steps": agent_steps, "eval_return": eval_return}


def expert_identity(annotations: dict[str, Any]) -> tuple[str, str, int, float] | None:
    """(sha256, algorithm, agent steps, eval return) of a dataset's expert annotations, None if absent."""
    if "expert_sha256" not in annotations:
        return None
    return (
        str(annotations["expert_sha256"]),
        str(annotations.get("expert_algorithm", "")),
        int(annotations.get("expert_agent_steps", 0)),
        float(annotations.get("expert_eval_return", float("nan"))),
    )
