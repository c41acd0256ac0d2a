"""A third-party-style plugin for the tests: domain `short`, task `fall`, whose episodes end after
8-12 agent steps with `is_terminal` (the ball reaches the ground), written against the public hook
API only (docs/plugins.md). Register it with `get_plugin_manager().add_plugin(short_domain, "short")`.

The ball starts at a height drawn from the reset seed in [8.5, 9.5] and falls 1 + 0.2 * action[0]
per step (actions in [-1, 1]), so it lands after 8 to 12 steps; reward 1 per step it is still in
the air. A time limit shorter than that (`episode_steps`) ends the episode with `is_last` alone.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from vid2act_envs.base import Domain, Env, TaskSpec
from vid2act_teachers.hookspecs import hookimpl

VID2ACT_HOOK_API = "1.0"

DOMAIN_NAME = "short"
START_HEIGHT = (8.5, 9.5)
FALL_PER_STEP = 1.0
ACTION_EFFECT = 0.2
BALL_SIZE = 6

FALL_SPEC = TaskSpec(
    domain=DOMAIN_NAME, task="fall", action_repeat=1, episode_steps=50, camera="side", has_success=False,
    can_terminate=True,
)


class FallEnv:
    """The `short:fall` environment (numpy only; implements vid2act_envs.base.Env)."""

    def __init__(self, spec: TaskSpec, seed: int = 0, image_size: int | tuple[int, int] = 64, render: bool = True) -> None:
        self.spec = spec
        self.action_dim = 1
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.image_size: tuple[int, int] = (int(size[0]), int(size[1]))
        self.render = render
        self._rng = np.random.default_rng(seed)
        self._height = START_HEIGHT[1]
        self._steps = 0

    def _observation(self, reward: float, is_first: bool, is_last: bool, is_terminal: bool) -> dict[str, Any]:
        height, width = self.image_size
        image = np.zeros((height, width, 3), np.uint8)
        if self.render:
            image[-2:] = 120  # the ground
            top = int(round((1.0 - max(self._height, 0.0) / 10.0) * (height - BALL_SIZE - 2)))
            left = (width - BALL_SIZE) // 2
            image[top : top + BALL_SIZE, left : left + BALL_SIZE] = 230
        return {
            "image": image,
            "state": np.array([self._height, self._steps / 10.0], np.float32),
            "reward": np.float32(reward),
            "success": False,
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": is_terminal,
        }

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._height = float(self._rng.uniform(*START_HEIGHT))
        self._steps = 0
        return self._observation(0.0, is_first=True, is_last=False, is_terminal=False)

    def step(self, action: np.ndarray) -> dict[str, Any]:
        push = float(np.clip(np.asarray(action, np.float32).reshape(-1)[0], -1.0, 1.0))
        self._height -= FALL_PER_STEP + ACTION_EFFECT * push
        self._steps += 1
        landed = self._height <= 0.0
        timed_out = self._steps >= self.spec.agent_steps
        return self._observation(0.0 if landed else 1.0, is_first=False, is_last=landed or timed_out, is_terminal=landed)

    def close(self) -> None:
        pass


def make_fall_env(
    spec: TaskSpec, seed: int = 0, image_size: int | tuple[int, int] = 64, render: bool = True, fast_render: bool = True
) -> Env:
    """The domain's factory (the signature of `Domain.make_env`)."""
    if spec.domain != DOMAIN_NAME or spec.task != FALL_SPEC.task:
        raise ValueError(f"make_fall_env() needs the short:fall spec, got {spec.name!r}")
    return FallEnv(spec, seed=seed, image_size=image_size, render=render)


def fall_task_spec(task: str) -> TaskSpec:
    """Default TaskSpec of a task of the `short` domain."""
    if task != FALL_SPEC.task:
        raise ValueError(f"the short domain has no task {task!r} (tasks: fall)")
    return FALL_SPEC


def short_domain() -> Domain:
    """The `short` domain record."""
    return Domain(
        name=DOMAIN_NAME,
        task_names=lambda: [FALL_SPEC.task],
        task_spec=fall_task_spec,
        make_env=make_fall_env,
        description="a ball that lands after 8-12 steps (terminating episodes, for tests)",
    )


@hookimpl
def vid2act_register_domains(register: Callable[[Domain], None]) -> None:
    register(short_domain())
