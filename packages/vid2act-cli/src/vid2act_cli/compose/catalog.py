"""The tasks of every registered domain (`vid2act envs`) and expert-data collection on them (`vid2act collect`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class TaskListing:
    """Rows of (domain, task, qualified name), and one line per domain whose tasks could not be listed."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def list_tasks(domain: str | None = None) -> TaskListing:
    """Every task of every registered domain (plugins included), or of `domain` only.

    Raises PluginError when the plugins cannot be loaded and UnknownTaskError for an unknown `domain`.
    """
    from vid2act_teachers.plugins import domain_registry

    registry = domain_registry()
    if domain:
        registry.domain(domain)
    listing = TaskListing()
    for domain_name in registry.domain_names():
        if domain and domain_name != domain:
            continue
        try:
            task_names = registry.domain(domain_name).task_names()
        except Exception as error:  # a domain whose simulator is missing or broken
            listing.problems.append(f"domain {domain_name!r}: cannot list tasks: {type(error).__name__}: {error}")
            continue
        listing.rows.extend((domain_name, task, f"{domain_name}:{task}") for task in task_names)
    return listing


def collect_task(
    task: str,
    episodes: int,
    policy: str,
    out: Path | None,
    seed: int,
    image_size: int,
    episode_steps: int | None,
    on_start: Callable[..., None] | None = None,
    on_step: Callable[..., None] | None = None,
    on_episode: Callable[..., None] | None = None,
    workers: int = 1,
) -> tuple[Any, Path]:
    """`vid2act collect`: `vid2act_envs.collect.collect_dataset` over every registered domain (plugins too).

    workers > 1: episodes in that many processes, each loading the registry (plugins included) itself.
    `--policy expert` on a task without a scripted expert but with a cached state expert (DMC,
    `vid2act experts train TASK`) rolls out that expert, as `vid2act experts collect` does.
    """
    from vid2act_envs.collect import collect_dataset
    from vid2act_teachers.plugins import domain_registry

    registry = domain_registry()
    if policy == "expert":
        state_expert = _cached_state_expert(registry, task)
        if state_expert is not None:
            return _collect_with_state_expert(registry, task, state_expert, episodes, out, seed, image_size,
                                              episode_steps, on_start, on_step, on_episode, workers)
    return collect_dataset(
        registry, task, episodes, policy=policy, out=out, seed=seed, image_size=image_size,
        episode_steps=episode_steps, on_start=on_start, on_step=on_step, on_episode=on_episode,
        workers=workers, registry_factory=domain_registry,
    )


def _cached_state_expert(registry: Any, task: str) -> Path | None:
    """The cached seed-0 state expert's directory for a task without a scripted expert, else None.

    A task of a state-expert domain with neither raises ValueError naming the command that trains one.
    """
    from vid2act_teachers.experts.store import expert_dir
    from vid2act_teachers.registry import vid2act_home

    from vid2act_cli.compose.teacher_add import STATE_EXPERT_DOMAINS

    spec = registry.resolve(task)
    if spec.domain not in STATE_EXPERT_DOMAINS or registry.domain(spec.domain).has_expert(spec):
        return None
    directory = expert_dir(vid2act_home(), spec.task)
    if not (directory / "expert.json").exists():
        raise ValueError(
            f"{spec.domain}:{spec.task} has no scripted expert and no cached state expert in {directory}; "
            f"train one with `vid2act experts train {spec.task}` (then --policy expert uses it), or use --policy random"
        )
    return directory


def _collect_with_state_expert(
    registry: Any, task: str, directory: Path, episodes: int, out: Path | None, seed: int, image_size: int,
    episode_steps: int | None, on_start: Callable[..., None] | None, on_step: Callable[..., None] | None,
    on_episode: Callable[..., None] | None, workers: int,
) -> tuple[Any, Path]:
    from vid2act_envs.dataset import open_dataset
    from vid2act_teachers.experts.rollout import collect_expert_dataset
    from vid2act_teachers.registry import vid2act_home

    if workers != 1:
        raise ValueError("--workers: a state expert collects in one process (vid2act experts collect); use --workers 1")
    spec = registry.resolve(task)
    path = Path(out) if out is not None else Path("data") / f"{spec.task}.h5"
    if on_start is not None:
        existing = 0
        if path.exists():
            with open_dataset(path) as dataset:
                existing = len(dataset)
        on_start(spec, path, existing)

    def episode_done(episode: dict, summary: Any) -> None:
        if on_step is not None:
            for _ in range(len(episode["action"]) - 1):
                on_step(episode)
        if on_episode is not None:
            on_episode(episode, summary)

    stats, _ = collect_expert_dataset(
        registry, task, vid2act_home(), path, episodes, seed=seed, image_size=image_size,
        episode_steps=episode_steps, on_episode=episode_done,
    )
    return stats, path
