"""A third-party-style plugin for the tests whose domain's expert must be trained before it acts.

Domain `pushfall`, task `fall`: the falling ball of tests/short_domain.py (a real numpy
environment), with no scripted expert but a `train_expert` hook (hook API 1.1). Training tries
`steps` constant pushes in [-1, 1], one episode each from the state, and keeps the one with the
highest return (the ball stays in the air longest when pushed up, at -1); the choice is cached as
JSON in the request's cache_dir, so asking again reuses it. Register it with
`get_plugin_manager().add_plugin(trained_expert_plugin, "pushfall")`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from short_domain import FALL_SPEC, FallEnv
from vid2act_envs.base import Domain, Env, ExpertTraining, TaskSpec, TrainedExpert
from vid2act_teachers.hookspecs import hookimpl

VID2ACT_HOOK_API = "1.1"

DOMAIN_NAME = "pushfall"
PUSHFALL_SPEC = replace(FALL_SPEC, domain=DOMAIN_NAME, has_expert=False)
DEFAULT_CANDIDATES = 3


def make_env(spec: TaskSpec, seed: int = 0, image_size: int | tuple[int, int] = 64, render: bool = True,
             fast_render: bool = True) -> Env:
    """The domain's factory (the signature of `Domain.make_env`)."""
    return FallEnv(spec, seed=seed, image_size=image_size, render=render)


@dataclass
class ConstantPush:
    """The trained expert: the same push at every step."""

    push: float
    action_dim: int = 1

    @property
    def name(self) -> str:
        return f"push{self.push:+.2f}"

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        return np.full(self.action_dim, self.push, np.float32)


def cache_file(cache_dir: Path, spec: TaskSpec) -> Path:
    """Where the trained push of a task is kept."""
    return cache_dir / f"{spec.domain}-{spec.task}.json"


def train_push(spec: TaskSpec, request: ExpertTraining) -> TrainedExpert:
    """The `train_expert` hook: the best of `request.steps` constant pushes, cached."""
    path = cache_file(request.cache_dir, spec)
    candidates = DEFAULT_CANDIDATES if request.steps is None else int(request.steps)
    if path.exists():
        found, how = json.loads(path.read_text()), "cached"
    elif request.cached_only:
        raise ValueError(f"no trained {spec.name} expert in {request.cache_dir}, train one with `vid2act teachers add {spec.name}`")
    else:
        if request.on_note is not None:
            request.on_note(f"trying {candidates} constant pushes on {spec.name} (kept in {path})")
        if request.on_progress is not None:
            request.on_progress(0, candidates, "")
        env = make_env(spec, render=False)
        returns = []
        for index, push in enumerate(np.linspace(-1.0, 1.0, candidates)):
            obs, total = env.reset(seed=index), 0.0
            while not obs["is_last"]:
                obs = env.step(np.full(1, push, np.float32))
                total += float(obs["reward"])
            returns.append((total, float(push)))
            if request.on_progress is not None:
                request.on_progress(index + 1, candidates, f"return {total:.0f}")
        best_return, best_push = max(returns)
        found, how = {"push": best_push, "return": best_return, "candidates": candidates}, "trained"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(found))
    push = float(found["push"])

    def make_policy(action_dim: int, seed: int) -> ConstantPush:
        return ConstantPush(push, action_dim)

    return TrainedExpert(
        # A closure: worker processes (which load only installed plugins) could not rebuild this
        # runtime-added domain anyway, and an unpicklable factory keeps collection in one process.
        make_policy=make_policy,
        action_repeat=spec.action_repeat,
        description=f"constant push {push:+.2f} ({how}), best of {found['candidates']}, return {found['return']:.1f}",
        annotations={"expert_push": push},
    )


def pushfall_domain() -> Domain:
    """The `pushfall` domain record."""
    return Domain(
        name=DOMAIN_NAME,
        task_names=lambda: [PUSHFALL_SPEC.task],
        task_spec=lambda task: PUSHFALL_SPEC,
        make_env=make_env,
        train_expert=train_push,
        description="the falling ball with an expert trained by trying constant pushes (for tests)",
    )


@hookimpl
def vid2act_register_domains(register: Callable[[Domain], None]) -> None:
    """Register the pushfall domain."""
    register(pushfall_domain())
