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
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np

from vid2act_envs.base import Domain, Observation, TaskSpec
from vid2act_envs.pixel_env import PixelEnv
from vid2act_envs.rendering import apply_render_settings, close_at_exit, ensure_gl_backend

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


def load_suite_env(task: str, seed: int) -> Any:
    """The dm_control environment of `task` (e.g. "walker_walk"), its random state seeded with `seed`.

    dm_control's own time limit is switched off, so that its LAST step means a real termination:
    the time limit is ours (`TaskSpec.episode_steps`, counted by `step_repeated`).
    """
    ensure_gl_backend()
    from dm_control import suite

    domain_name, task_name = split_task_name(task)
    with _quiet_numpy_deprecations():
        return suite.load(domain_name, task_name, task_kwargs={"random": seed, "time_limit": float("inf")})


def reset_suite_env(env: Any, seed: int | None) -> Any:
    """Start an episode of a suite environment; a seed reseeds the task's random state (initial pose, targets)."""
    if seed is not None:
        env.task._random = np.random.RandomState(seed)
    with _quiet_numpy_deprecations():
        return env.reset()


def simulator_action_bounds(env: Any) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float64 bounds of a suite environment's actions, the ones -1 and +1 map to."""
    action_spec = env.action_spec()
    return np.asarray(action_spec.minimum, dtype=np.float64), np.asarray(action_spec.maximum, dtype=np.float64)


def scale_action(action: np.ndarray, low: np.ndarray, high: np.ndarray, task_name: str) -> np.ndarray:
    """Map an action in [-1, 1] (clipped) linearly onto [low, high]; ValueError naming the task for a wrong shape."""
    normalised = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
    if normalised.shape != low.shape:
        raise ValueError(f"action for {task_name} must have shape ({low.shape[0]},), got {np.shape(action)}")
    return low + (normalised + 1.0) * 0.5 * (high - low)


@dataclass(frozen=True)
class RepeatedStep:
    """What one agent step (action repeat simulator steps) of a suite environment gave."""

    time_step: Any
    """dm_control's TimeStep after the last simulator step taken."""
    reward: float
    """Rewards summed over the simulator steps taken."""
    terminal: bool
    """The task itself ended the episode with discount 0."""
    last: bool
    """The episode is over: the task ended, or the time limit was reached."""
    simulator_steps: int
    """Simulator steps since reset, after this agent step."""


def step_repeated(env: Any, simulator_action: np.ndarray, spec: TaskSpec, simulator_steps: int) -> RepeatedStep:
    """Apply `simulator_action` for spec.action_repeat simulator steps, stopping early at the task's
    end or at the time limit (spec.episode_steps simulator steps, `simulator_steps` already taken)."""
    total_reward = 0.0
    terminal = False
    task_ended = False
    time_step = None
    for _ in range(spec.action_repeat):
        time_step = env.step(simulator_action)
        simulator_steps += 1
        total_reward += float(time_step.reward or 0.0)
        if time_step.last():
            terminal = time_step.discount is not None and float(time_step.discount) == 0.0
            task_ended = True
            break
        if simulator_steps >= spec.episode_steps:
            break
    assert time_step is not None
    last = task_ended or simulator_steps >= spec.episode_steps
    return RepeatedStep(time_step, total_reward, terminal, last, simulator_steps)


class DMCEnv(PixelEnv):
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
        super().__init__(spec, image_size, render, fast_render)
        self._env = load_suite_env(spec.task, seed)
        if render:
            apply_render_settings(self._env.physics.model, self.render_settings)
        self._action_low, self._action_high = simulator_action_bounds(self._env)
        self.action_dim: int = int(self._action_low.shape[0])
        self._camera_id = spec.camera
        close_at_exit(self)

    def to_simulator_action(self, action: np.ndarray) -> np.ndarray:
        """Map an action in [-1, 1] (clipped) linearly onto the simulator's bounds."""
        return scale_action(action, self._action_low, self._action_high, self.spec.name)

    def _frame(self) -> np.ndarray:
        height, width = self.image_size
        return self._env.physics.render(height=height, width=width, camera_id=self._camera_id)

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
        time_step = reset_suite_env(self._env, seed)
        self._simulator_steps = 0
        self._episode_over = False
        return self._observation(time_step, 0.0, is_first=True, is_last=False, is_terminal=False)

    def step(self, action: np.ndarray) -> Observation:
        """Apply `action` (in [-1, 1]) for action_repeat simulator steps, summing the rewards."""
        self._check_running()
        outcome = step_repeated(self._env, self.to_simulator_action(action), self.spec, self._simulator_steps)
        self._simulator_steps = outcome.simulator_steps
        self._episode_over = outcome.last
        return self._observation(
            outcome.time_step, outcome.reward, is_first=False, is_last=outcome.last, is_terminal=outcome.terminal
        )

    @property
    def physics(self) -> Any:
        """The dm_control Physics of the task (for inspection: controls, positions)."""
        return self._env.physics

    @property
    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of the simulator's actions that -1 and +1 map to."""
        return self._action_low.copy(), self._action_high.copy()

    def _free(self) -> None:
        # dm_control's Environment.close() is a no-op: free the physics' GL contexts here.
        self._env.physics.free()
        self._env.close()


make_dmc_env: Callable[..., DMCEnv] = DMCEnv
"""Environment factory of the "dmc" domain: make_dmc_env(spec, seed=0, image_size=64, render=True,
fast_render=True) (see DMCEnv)."""


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
