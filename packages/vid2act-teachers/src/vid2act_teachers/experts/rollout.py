"""Roll a cached state expert out in the pixel environment to write a source dataset (HDF5).

The expert acts from `obs["state"]` (the same flattened dm_control observation it was trained
on) while the environment renders the images that are stored. `rollout_expert` gives it as a
`TrainedExpert` whose policy factory `vid2act_envs.collect.collect_dataset` calls per episode (and
worker processes rebuild from the expert's directory); `state_expert_hook` is the DMC domain's
`train_expert` hook. The dataset's `collector` attribute names the expert by hash and carries the
noise / mixing settings; its `collection.*` attributes hold the expert's full sha256, evaluation
return, noise and random fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512
from vid2act_envs.base import ExpertTraining, Policy, TaskSpec, TrainedExpert
from vid2act_envs.mixed_collection import MixedPolicy, NoisyPolicy

from vid2act_teachers.experts.config import ExpertConfig, default_steps
from vid2act_teachers.experts.policy import StateExpertPolicy
from vid2act_teachers.experts.store import EXPERTS_DIR, ExpertError, ExpertMetadata, expert_dir, load_expert, read_metadata
from vid2act_teachers.experts.train import train_expert


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


@lru_cache(maxsize=8)
def _cached_expert(directory: Path, sha256: str) -> StateExpertPolicy:
    """The expert in `directory`, loaded once per process (every episode's policy shares it)."""
    # A collection worker is a fresh process: before its first matmul it must pick MKL's kernels as the
    # `vid2act` command that started it did, or its actions differ from one worker's in the last bit.
    enable_mkl_avx512()
    policy, metadata = load_expert(directory)
    if metadata.sha256 != sha256:
        raise ExpertError(f"{directory}: expert changed while collecting (sha256 {metadata.sha256[:12]}, expected {sha256[:12]})")
    return policy


@dataclass(frozen=True)
class ExpertRollout:
    """A cached state expert as a picklable policy factory (action_dim, seed) -> Policy.

    collect_dataset resets the episode at index k of a dataset with seed first_seed + k, so
    seed - first_seed is the episode's index, which decides whether it is one of the random
    fraction (`MixedPolicy`); the noise and the random actions are seeded with the episode's seed.
    """

    directory: Path
    sha256: str
    noise: float = 0.0
    random_fraction: float = 0.0
    first_seed: int = 0
    """The `seed` collect_dataset is called with."""

    def __call__(self, action_dim: int, seed: int) -> Policy:
        noisy = NoisyPolicy(_cached_expert(self.directory, self.sha256), self.noise, seed=seed)
        return MixedPolicy(noisy, action_dim, self.random_fraction, seed=seed, first_episode=seed - self.first_seed)


def rollout_expert(
    spec: TaskSpec, directory: Path, noise: float = 0.0, random_fraction: float = 0.0, first_seed: int = 0, how: str = "cached"
) -> TrainedExpert:
    """The expert cached in `directory` ready to collect `spec`'s task, with its description and annotations.

    noise: std of Gaussian action noise; random_fraction: share of episodes from uniform random
    actions; first_seed: the seed collection starts from (see ExpertRollout). how ("cached",
    "trained") goes into the description. Raises ExpertError when no (valid) expert is there or it
    does not fit the task, ValueError for bad noise or fraction.
    """
    if not noise >= 0.0:
        raise ValueError(f"--noise must be >= 0, got {noise}")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"--random-fraction must be in [0, 1], got {random_fraction}")
    _, metadata = load_expert(directory)
    if spec.task != metadata.task:
        raise ExpertError(f"{directory}: expert is for {metadata.task!r}, not {spec.task!r}")
    repeat = metadata.expert_config.action_repeat
    if spec.action_repeat != repeat:
        raise ExpertError(f"{directory}: expert trained with action repeat {repeat}, {spec.name} uses {spec.action_repeat}")
    return TrainedExpert(
        make_policy=ExpertRollout(Path(directory), metadata.sha256, float(noise), float(random_fraction), int(first_seed)),
        action_repeat=repeat,
        description=(f"SAC from state ({how}), {metadata.agent_steps} agent steps, "
                     f"eval return {metadata.eval_mean:.1f} ± {metadata.eval_std:.1f}, sha256 {metadata.sha256[:12]}"),
        annotations=expert_annotations(metadata, noise, random_fraction),
    )


def state_expert_hook(spec: TaskSpec, request: ExpertTraining) -> TrainedExpert:
    """`Domain.train_expert` of DeepMind Control: the task's seed-0 SAC state expert, trained when missing.

    The expert store lays experts out as <home>/experts/<task>/, so request.cache_dir is expected
    to be such an `experts` folder.
    """
    if request.cache_dir.name != EXPERTS_DIR:
        raise ValueError(f"{request.cache_dir}: state experts are kept in a folder named {EXPERTS_DIR!r}")
    home = request.cache_dir.parent
    directory = expert_dir(home, spec.task)
    if request.cached_only:
        if read_metadata(directory) is None:
            raise ExpertError(f"no cached state expert in {directory}, train one with `vid2act experts train {spec.task}`")
        return rollout_expert(spec, directory)
    total = default_steps(spec.task) if request.steps is None else int(request.steps)
    if total < 1:
        raise ValueError(f"--expert-steps must be >= 1, got {total}")
    cached = read_metadata(directory)
    must_train = cached is None or cached.agent_steps < total
    if must_train and request.on_note is not None:
        # Training takes minutes to hours: say so before it starts, not only when it is done.
        threads = ExpertConfig().threads
        request.on_note(f"training SAC from state on {spec.task} for {total} agent steps on {threads} torch "
                        f"thread{'s' if threads != 1 else ''}, whatever the cores (a second makes its small MLPs "
                        f"about 1.2x faster); kept in {directory} for reuse, re-running resumes it")
    on_progress = request.on_progress
    if on_progress is not None and must_train:  # a cached expert opens no progress bar: nothing runs
        on_progress(0, total, "")
    result = train_expert(
        spec.task, home, steps=total,
        on_progress=None if on_progress is None else (
            lambda done, _, recent: on_progress(done, total, "" if recent is None else f"return {recent:.0f}")
        ),
    )
    return rollout_expert(spec, result.directory, how="cached" if result.reused else "trained")


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
