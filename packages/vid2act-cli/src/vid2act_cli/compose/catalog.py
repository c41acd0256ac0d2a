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
    `--policy expert` on a task without a scripted expert, of a domain with a `train_expert` hook,
    rolls out the expert that hook has cached (DMC: `vid2act experts train TASK`), never training one.
    """
    from vid2act_envs.collect import collect_dataset
    from vid2act_teachers.plugins import domain_registry

    registry = domain_registry()
    chosen: Any = policy
    annotations: dict[str, Any] = {}
    if policy == "expert":
        trained = _cached_trained_expert(registry, task)
        if trained is not None:
            chosen, annotations = trained.make_policy, trained.annotations
    return collect_dataset(
        registry, task, episodes, policy=chosen, out=out, seed=seed, image_size=image_size,
        episode_steps=episode_steps, on_start=on_start, on_step=on_step, on_episode=on_episode,
        workers=workers, registry_factory=domain_registry, annotations=annotations,
    )


def _cached_trained_expert(registry: Any, task: str) -> Any:
    """The cached expert of the domain's `train_expert` hook for a task without a scripted expert, else None.

    A task whose domain has that hook but no cached expert raises ValueError naming how to get one.
    """
    from vid2act_envs.base import ExpertTraining
    from vid2act_teachers.registry import vid2act_home

    from vid2act_cli.compose.teacher_add import EXPERTS_DIR

    spec = registry.resolve(task)
    domain = registry.domain(spec.domain)
    if domain.train_expert is None or domain.has_expert(spec):
        return None
    try:
        return domain.train_expert(spec, ExpertTraining(steps=None, cache_dir=vid2act_home() / EXPERTS_DIR, cached_only=True))
    except ValueError as error:
        raise ValueError(f"{spec.name} has no scripted expert: {error} (then --policy expert uses it); "
                         "or use --policy random") from None
