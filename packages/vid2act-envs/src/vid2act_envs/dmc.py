"""DeepMind Control Suite pixel environments behind the vid2act `Env` interface.

Every task of `dm_control.suite.ALL_TASKS` is reachable as `<domain>_<task>`, e.g.
`walker_walk`, `ball_in_cup_catch`, `point_mass_easy`. Defaults follow the paper and the
published code: action repeat 2, a time limit of 1000 simulator steps (500 agent steps),
camera 0 (camera 2 for quadruped), 64 x 64 images.

dm_control is imported lazily (inside functions), after `ensure_gl_backend()` has chosen a
headless OpenGL backend, so building the `Domain` record costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from typing import Any

import numpy as np

from vid2act_envs.base import Domain, Observation, TaskSpec
from vid2act_envs.rendering import (
    apply_render_settings,
    close_at_exit,
    ensure_gl_backend,
    render_settings_for,
)

logger = logging.getLogger(__name__)

DOMAIN_NAME = "dmc"
DEFAULT_ACTION_REPEAT = 2
DEFAULT_EPISODE_STEPS = 1000
DEFAULT_CAMERA = 0
CAMERA_BY_DOMAIN: dict[str, int] = {"quadruped": 2}
"""Camera id per dm_control domain where it differs from DEFAULT_CAMERA."""


@functools.lru_cache(maxsize=1)
def _suite_tasks() -> dict[str, tuple[str, str]]:
    """Map every `<domain>_<task>` name to its (domain, task) pair of suite.ALL_TASKS."""
    ensure_gl_backend()
    from dm_control import suite

    return {f"{domain}_{task}": (domain, task) for domain, task in suite.ALL_TASKS}


def dmc_task_names() -> list[str]:
    """Every DeepMind Control task name, e.g. "walker_walk", sorted."""
    return sorted(_suite_tasks())


def split_task_name(task: str) -> tuple[str, str]:
    """Split "ball_in_cup_catch" into ("ball_in_cup", "catch") using the suite's own task list."""
    tasks = _suite_tasks()
    if task not in tasks:
        raise KeyError(f"unknown DeepMind Control task {task!r}")
    return tasks[task]


def dmc_task_spec(task: str) -> TaskSpec:
    """Default TaskSpec for one DeepMind Control task (action repeat 2, 1000 steps, camera 0/2)."""
    domain_name, _ = split_task_name(task)
    return TaskSpec(
        domain=DOMAIN_NAME,
        task=task,
        action_repeat=DEFAULT_ACTION_REPEAT,
        episode_steps=DEFAULT_EPISODE_STEPS,
        camera=CAMERA_BY_DOMAIN.get(domain_name, DEFAULT_CAMERA),
        has_success=False,
    )


@contextlib.contextmanager
def _quiet_numpy_deprecations() -> Any:
    """Silence dm_control 1.0.28's `np.in1d` DeprecationWarning (quadruped), ours to pin."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*in1d.*", category=DeprecationWarning)
        yield


def _flatten_observation(observation: dict[str, Any]) -> np.ndarray:
    """Concatenate a dm_control observation dict (in its key order) into one float32 vector."""
    parts = [np.asarray(value, dtype=np.float32).reshape(-1) for value in observation.values()]
    return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.float32)


class DMCEnv:
    """One DeepMind Control task with pixel observations, normalised actions and action repeat.

    Observations are dicts (see `vid2act_envs.base`): `image` (H, W, 3) uint8 from the spec's
    camera, `state` the flattened dm_control observation, `reward` summed over the action
    repeat, `success` always False, and the is_first / is_last / is_terminal flags.
    `is_terminal` is True only when the task itself ends the episode with discount 0; the time
    limit (spec.episode_steps simulator steps) sets only `is_last`.
    """

    def __init__(
        self,
        spec: TaskSpec,
        seed: int = 0,
        image_size: int | tuple[int, int] = 64,
        render: bool = True,
        fast_render: bool = True,
    ) -> None:
        """Load the task. `render=False` skips rendering: `image` is all zeros of the right shape
        (for state-only scripted collection and tests). `fast_render=False` keeps the model's
        default rendering options (see `vid2act_envs.rendering`)."""
        ensure_gl_backend()
        from dm_control import suite

        if spec.action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {spec.action_repeat}")
        if spec.episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {spec.episode_steps}")
        height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.spec = spec
        self.image_size: tuple[int, int] = (int(height), int(width))
        self.render_enabled = render
        self.render_settings = render_settings_for(self.image_size, fast_render)
        domain_name, task_name = split_task_name(spec.task)
        # The time limit is ours (spec.episode_steps); dm_control's own is switched off so that
        # its LAST step means a real termination.
        with _quiet_numpy_deprecations():
            self._env = suite.load(
                domain_name,
                task_name,
                task_kwargs={"random": seed, "time_limit": float("inf")},
            )
        if render:
            apply_render_settings(self._env.physics.model, self.render_settings)
        action_spec = self._env.action_spec()
        self._action_low = np.asarray(action_spec.minimum, dtype=np.float64)
        self._action_high = np.asarray(action_spec.maximum, dtype=np.float64)
        self.action_dim: int = int(action_spec.shape[0])
        self._camera_id = spec.camera
        self._simulator_steps = 0
        self._episode_over = True
        self._closed = False
        self._rendered_once = False
        close_at_exit(self)

    def to_simulator_action(self, action: np.ndarray) -> np.ndarray:
        """Map an action in [-1, 1] (clipped) linearly onto the simulator's bounds."""
        normalised = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        if normalised.shape != (self.action_dim,):
            raise ValueError(
                f"action for {self.spec.name} must have shape ({self.action_dim},), got {np.shape(action)}"
            )
        return self._action_low + (normalised + 1.0) * 0.5 * (self._action_high - self._action_low)

    def _render(self) -> np.ndarray:
        height, width = self.image_size
        if not self.render_enabled:
            return np.zeros((height, width, 3), dtype=np.uint8)
        frame = self._env.physics.render(height=height, width=width, camera_id=self._camera_id)
        if not self._rendered_once:
            self._rendered_once = True
            close_at_exit(self)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def _observation(
        self, time_step: Any, reward: float, is_first: bool, is_last: bool, is_terminal: bool
    ) -> Observation:
        return {
            "image": self._render(),
            "state": _flatten_observation(time_step.observation),
            "reward": np.float32(reward),
            "success": False,
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": is_terminal,
        }

    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode. A seed reseeds the task's random state (initial pose, targets)."""
        if seed is not None:
            self._env.task._random = np.random.RandomState(seed)
        with _quiet_numpy_deprecations():
            time_step = self._env.reset()
        self._simulator_steps = 0
        self._episode_over = False
        return self._observation(time_step, 0.0, is_first=True, is_last=False, is_terminal=False)

    def step(self, action: np.ndarray) -> Observation:
        """Apply `action` (in [-1, 1]) for action_repeat simulator steps, summing the rewards."""
        if self._episode_over:
            raise RuntimeError(f"{self.spec.name}: step() called after the episode ended; call reset() first")
        simulator_action = self.to_simulator_action(action)
        total_reward = 0.0
        is_terminal = False
        time_step = None
        for _ in range(self.spec.action_repeat):
            time_step = self._env.step(simulator_action)
            self._simulator_steps += 1
            total_reward += float(time_step.reward or 0.0)
            if time_step.last():
                is_terminal = time_step.discount is not None and float(time_step.discount) == 0.0
                self._episode_over = True
                break
            if self._simulator_steps >= self.spec.episode_steps:
                break
        assert time_step is not None
        if self._simulator_steps >= self.spec.episode_steps:
            self._episode_over = True
        return self._observation(
            time_step, total_reward, is_first=False, is_last=self._episode_over, is_terminal=is_terminal
        )

    @property
    def physics(self) -> Any:
        """The dm_control Physics of the task (for inspection: controls, positions)."""
        return self._env.physics

    @property
    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the simulator's actions that -1 and +1 map to."""
        return self._action_low.copy(), self._action_high.copy()

    def close(self) -> None:
        """Free the simulator and its rendering context (safe to call twice)."""
        if not self._closed:
            self._closed = True
            self._episode_over = True
            # dm_control's Environment.close() is a no-op: free the physics' GL contexts here.
            self._env.physics.free()
            self._env.close()


def make_dmc_env(
    spec: TaskSpec,
    seed: int = 0,
    image_size: int | tuple[int, int] = 64,
    render: bool = True,
    fast_render: bool = True,
) -> DMCEnv:
    """Environment factory of the "dmc" domain (see DMCEnv)."""
    return DMCEnv(spec, seed=seed, image_size=image_size, render=render, fast_render=fast_render)


def dmc_domain() -> Domain:
    """The built-in DeepMind Control domain. Cheap: dm_control is imported on first use."""
    return Domain(
        name=DOMAIN_NAME,
        task_names=dmc_task_names,
        task_spec=dmc_task_spec,
        make_env=make_dmc_env,
        make_expert=None,
        description="DeepMind Control Suite from pixels (dm_control); action repeat 2, 1000 steps",
    )
