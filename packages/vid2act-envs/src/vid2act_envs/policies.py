"""Policies that produce actions for collection: uniform random, any callable, domain experts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from vid2act_envs.base import Domain, Observation, Policy, TaskSpec


class NoExpertError(ValueError):
    """The requested domain offers no scripted expert policy."""


class RandomPolicy:
    """Actions drawn uniformly from [-1, 1]^action_dim by a seeded generator."""

    name = "random"

    def __init__(self, action_dim: int, seed: int | None = 0) -> None:
        if action_dim < 1:
            raise ValueError(f"action_dim must be >= 1, got {action_dim}")
        self.action_dim = action_dim
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Nothing to reset: the generator keeps running across episodes."""

    def __call__(self, obs: Observation) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, size=self.action_dim).astype(np.float32)


class CallablePolicy:
    """Wraps any `obs -> action` callable (and an optional per-episode reset) as a Policy."""

    def __init__(
        self,
        fn: Callable[[Observation], np.ndarray],
        name: str = "callable",
        reset_fn: Callable[[], None] | None = None,
    ) -> None:
        self.fn = fn
        self.name = name
        self._reset_fn = reset_fn

    def reset(self) -> None:
        if self._reset_fn is not None:
            self._reset_fn()

    def __call__(self, obs: Observation) -> np.ndarray:
        return np.asarray(self.fn(obs), dtype=np.float32)


class DomainLookup(Protocol):
    """What `expert_policy` needs from a registry (`vid2act_envs.tasks.DomainRegistry` fits)."""

    def domain(self, name: str) -> Domain: ...


def expert_policy(registry: DomainLookup, spec: TaskSpec) -> Policy:
    """The scripted expert of `spec`'s task; raises NoExpertError if its domain has none for it."""
    domain = registry.domain(spec.domain)
    if not domain.has_expert(spec) or domain.make_expert is None:
        raise NoExpertError(
            f"domain {spec.domain!r} has no scripted expert for {spec.name}; use --policy random "
            "or a task that ships one (e.g. metaworld's)"
        )
    return domain.make_expert(spec)
