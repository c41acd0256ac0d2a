"""Task names across domains: `DomainRegistry` and `UnknownTaskError`.

Accepted names:

- qualified: `dmc:walker_walk`, `metaworld:door-open` (any registered domain's prefix);
- bare: `walker_walk`, `door-open`, resolved when exactly one registered domain offers the task;
  when several do, `UnknownTaskError` lists the qualified candidates.

Unknown names raise `UnknownTaskError` (a ValueError) whose one-line message lists the closest
known names. Registering a domain is cheap; a domain's task list is read (which may import its
simulator) only when a name is resolved or tasks are listed.

This module holds the data types only. Which domains exist is decided by the plugins: the
built-in DMC and Meta-World domains and third-party ones are registered through the same hook
(`vid2act_teachers.plugins.domain_registry()`). Code in this package that needs domains takes a registry argument.
"""

from __future__ import annotations

import dataclasses
import difflib
import threading

from vid2act_envs.base import Domain, Env, TaskSpec

QUALIFIER_SEPARATOR = ":"
MAX_SUGGESTIONS = 5


class UnknownTaskError(ValueError):
    """A task or domain name that no registered domain knows, or a bare name several domains know."""


class DomainRegistry:
    """Registered domains by name, resolving task names to TaskSpecs and building environments."""

    def __init__(self) -> None:
        """An empty registry; add domains with `register`."""
        self._domains: dict[str, Domain] = {}
        self._task_sets: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def register(self, domain: Domain) -> None:
        """Add `domain`. Its name must be new, non-empty and free of ':'."""
        if not domain.name or QUALIFIER_SEPARATOR in domain.name:
            raise ValueError(f"invalid domain name {domain.name!r}: must be non-empty and contain no ':'")
        with self._lock:
            if domain.name in self._domains:
                raise ValueError(f"domain {domain.name!r} is already registered")
            self._domains[domain.name] = domain

    def domain_names(self) -> list[str]:
        """Names of the registered domains, in registration order."""
        return list(self._domains)

    def domain(self, name: str) -> Domain:
        """The registered domain called `name`."""
        if name not in self._domains:
            raise UnknownTaskError(f"unknown domain {name!r}{_suggestion_text(name, list(self._domains))}")
        return self._domains[name]

    def _tasks_of(self, domain_name: str) -> frozenset[str]:
        """Task names of one domain, read once and cached."""
        with self._lock:
            cached = self._task_sets.get(domain_name)
        if cached is None:
            cached = frozenset(self._domains[domain_name].task_names())
            with self._lock:
                self._task_sets[domain_name] = cached
        return cached

    def qualified_names(self) -> list[str]:
        """Every task of every registered domain as "domain:task"."""
        return [
            f"{domain_name}{QUALIFIER_SEPARATOR}{task}"
            for domain_name in self._domains
            for task in sorted(self._tasks_of(domain_name))
        ]

    def resolve(self, name: str) -> TaskSpec:
        """The default TaskSpec for `name` ("walker_walk", "dmc:walker_walk", "door-open", ...)."""
        if not isinstance(name, str) or not name.strip():
            raise UnknownTaskError(f"task name must be a non-empty string, got {name!r}")
        name = name.strip()
        if QUALIFIER_SEPARATOR in name:
            domain_name, task = name.split(QUALIFIER_SEPARATOR, 1)
            domain = self.domain(domain_name)
            tasks = self._tasks_of(domain_name)
            if task not in tasks:
                raise UnknownTaskError(
                    f"unknown task {name!r} in domain {domain_name!r}{_suggestion_text(task, sorted(tasks), domain_name)}"
                )
            return domain.task_spec(task)
        owners = [domain_name for domain_name in self._domains if name in self._tasks_of(domain_name)]
        if len(owners) == 1:
            return self._domains[owners[0]].task_spec(name)
        if len(owners) > 1:
            candidates = ", ".join(f"{owner}{QUALIFIER_SEPARATOR}{name}" for owner in owners)
            raise UnknownTaskError(f"ambiguous task name {name!r}: known to several domains; use one of {candidates}")
        raise UnknownTaskError(f"unknown task {name!r}{_suggestion_text(name, self.qualified_names())}")

    def make_env(
        self,
        name_or_spec: str | TaskSpec,
        seed: int = 0,
        image_size: int = 64,
        render: bool = True,
        action_repeat: int | None = None,
        episode_steps: int | None = None,
        camera: str | int | None = None,
        fast_render: bool = True,
    ) -> Env:
        """Build the environment for a task name or TaskSpec, overriding spec fields given here.

        `render=False` skips rendering (images are zeros) for state-only use; `fast_render`
        sizes the render buffers to the image (see `vid2act_envs.rendering`).
        """
        spec = self.resolve(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
        if spec.domain not in self._domains:
            raise UnknownTaskError(f"unknown domain {spec.domain!r} in TaskSpec {spec.name!r}")
        overrides: dict[str, object] = {}
        if action_repeat is not None:
            overrides["action_repeat"] = int(action_repeat)
        if episode_steps is not None:
            overrides["episode_steps"] = int(episode_steps)
        if camera is not None:
            overrides["camera"] = camera
        if overrides:
            spec = dataclasses.replace(spec, **overrides)
        return self._domains[spec.domain].make_env(
            spec, seed=seed, image_size=image_size, render=render, fast_render=fast_render
        )


def _suggestion_text(name: str, known: list[str], qualifier: str | None = None) -> str:
    """"; did you mean: a, b" with the closest matches of `name` among `known` (or a hint).

    `known` may hold qualified names ("dmc:walker_walk"): `name` is compared with their task
    part first, then with the whole string. `qualifier` prefixes bare matches with a domain.
    """
    by_bare_name: dict[str, list[str]] = {}
    for entry in known:
        by_bare_name.setdefault(entry.split(QUALIFIER_SEPARATOR, 1)[-1], []).append(entry)
    bare_query = name.split(QUALIFIER_SEPARATOR, 1)[-1]
    matches: list[str] = []
    for bare in difflib.get_close_matches(bare_query, list(by_bare_name), n=MAX_SUGGESTIONS, cutoff=0.6):
        matches.extend(by_bare_name[bare])
    if not matches:
        matches = difflib.get_close_matches(name, known, n=MAX_SUGGESTIONS, cutoff=0.6)
    matches = matches[:MAX_SUGGESTIONS]
    if qualifier is not None:
        matches = [f"{qualifier}{QUALIFIER_SEPARATOR}{match}" for match in matches]
    if matches:
        return "; did you mean: " + ", ".join(matches)
    return "; run `vid2act envs` to list the known tasks"

