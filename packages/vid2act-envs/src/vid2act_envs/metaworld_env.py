"""Meta-World v3 pixel environments (through gymnasium) behind the vid2act `Env` interface.

All 50 v3 tasks are reachable by their v3 name without the suffix (`door-open`,
`button-press-topdown`). Defaults follow the paper and APV: action repeat 1, 500-step episodes,
camera `corner` shown upright, 64 x 64 images, object and goal positions drawn afresh at every
reset (from the environment's own seeded generator, so a seed reproduces them), and the per-step
`success` flag from `info["success"]`.

Positions: Meta-World's MT1 benchmark would cycle through 50 pre-drawn layouts; like the
published code of APV and Vid2Act we instead draw a new layout from the task's full random-reset
range at every reset (`_freeze_rand_vec = False`), seeded through the environment's generator.

Scripted experts: `metaworld.policies.ENV_POLICY_MAP` holds one scripted policy per task
(`SawyerDoorOpenV3Policy` for `door-open-v3`); `MetaWorldScriptedExpert` wraps it as a vid2act
`Policy`.

gymnasium / metaworld / mujoco are imported lazily, after `ensure_gl_backend()`.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from vid2act_envs.base import Domain, Observation, TaskSpec
from vid2act_envs.pixel_env import PixelEnv
from vid2act_envs.rendering import apply_render_settings, close_at_exit, ensure_gl_backend

logger = logging.getLogger(__name__)

DOMAIN_NAME = "metaworld"
VERSION_SUFFIX = "-v3"
DEFAULT_ACTION_REPEAT = 1
DEFAULT_EPISODE_STEPS = 500
DEFAULT_CAMERA = "corner"
UPSIDE_DOWN_CAMERAS: frozenset[str] = frozenset({"corner", "corner2", "corner3", "corner4"})
"""Cameras whose v3 renders come out upside down and are flipped back."""
ACTION_DIM = 4
STATE_DIM = 39


def _import_metaworld() -> Any:
    """Import gymnasium + metaworld (which registers the Meta-World/* gymnasium ids)."""
    ensure_gl_backend()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import gymnasium  # noqa: F401
        import metaworld

    return metaworld


@functools.lru_cache(maxsize=1)
def metaworld_task_names() -> list[str]:
    """All 50 Meta-World v3 task names without the "-v3" suffix, sorted."""
    metaworld = _import_metaworld()
    return sorted(name[: -len(VERSION_SUFFIX)] for name in metaworld.MT1.ENV_NAMES if name.endswith(VERSION_SUFFIX))


def metaworld_task_spec(task: str) -> TaskSpec:
    """Default TaskSpec for one Meta-World task (repeat 1, 500 steps, camera corner, success)."""
    if task not in metaworld_task_names():
        raise KeyError(f"unknown Meta-World task {task!r}")
    return TaskSpec(
        domain=DOMAIN_NAME,
        task=task,
        action_repeat=DEFAULT_ACTION_REPEAT,
        episode_steps=DEFAULT_EPISODE_STEPS,
        camera=DEFAULT_CAMERA,
        has_success=True,
    )


def _find_wrapper(env: Any, method_name: str) -> Any:
    """The first gymnasium wrapper in the chain that has `method_name`, or None."""
    current = env
    while current is not None:
        if hasattr(type(current), method_name):
            return current
        current = getattr(current, "env", None)
    return None


class MetaWorldEnv(PixelEnv):
    """One Meta-World v3 task with pixel observations.

    Observations (see `vid2act_envs.base`): `image` (H, W, 3) uint8 from the spec's camera
    (corner cameras flipped upright), `state` the 39-dim observation as float32, `reward` summed
    over the action repeat, `success` from `info["success"]` (True if any simulator step of the
    agent step succeeded), and the is_first / is_last / is_terminal flags. Meta-World never
    terminates, so `is_terminal` stays False and `is_last` comes from the time limit.
    """

    def __init__(
        self,
        spec: TaskSpec,
        seed: int = 0,
        image_size: int | tuple[int, int] = 64,
        render: bool = True,
        fast_render: bool = True,
    ) -> None:
        """Build the task. `render=False` skips rendering entirely (no GL context; `image` is all
        zeros of the right shape): for state-only scripted collection and tests.
        `fast_render=False` keeps Meta-World's own rendering options (4096 shadow map)."""
        _import_metaworld()
        import gymnasium as gym

        super().__init__(spec, image_size, render, fast_render)
        if isinstance(spec.camera, int):
            camera_kwargs: dict[str, Any] = {"camera_id": spec.camera}
        else:
            camera_kwargs = {"camera_name": spec.camera}
        height, width = self.image_size
        self.action_dim: int = ACTION_DIM
        self._flip_upright = isinstance(spec.camera, str) and spec.camera in UPSIDE_DOWN_CAMERAS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._env = gym.make(
                "Meta-World/MT1",
                env_name=f"{spec.task}{VERSION_SUFFIX}",
                seed=seed,
                render_mode="rgb_array" if render else None,
                width=int(width),
                height=int(height),
                max_episode_steps=spec.episode_steps,
                disable_env_checker=True,
                **camera_kwargs,
            )
        self._sawyer = self._env.unwrapped
        self._sawyer.max_path_length = spec.episode_steps
        # Fresh positions at every reset from the env's seeded generator, instead of MT1's
        # cycling through 50 pre-drawn layouts.
        task_selector = _find_wrapper(self._env, "toggle_sample_tasks_on_reset")
        if task_selector is None:
            raise RuntimeError(f"{spec.name}: Meta-World's task-selection wrapper was not found")
        task_selector.toggle_sample_tasks_on_reset(False)
        self._sawyer.set_task(task_selector.tasks[0])
        self._sawyer._freeze_rand_vec = False
        self._sawyer.seeded_rand_vec = True
        self._reseed(seed)
        if render:
            apply_render_settings(self._sawyer.model, self.render_settings)
        close_at_exit(self)

    def _reseed(self, seed: int) -> None:
        self._sawyer.seed(int(seed))

    def _frame(self) -> np.ndarray:
        frame = self._env.render()
        return frame[::-1] if self._flip_upright else frame

    def _observation(
        self, state: np.ndarray, reward: float, success: bool, is_first: bool, is_last: bool
    ) -> Observation:
        return {
            "image": self._render(),
            "state": np.asarray(state, dtype=np.float32),
            "reward": np.float32(reward),
            "success": bool(success),
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": False,
        }

    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode with freshly drawn positions; a seed reseeds the generator first."""
        if seed is not None:
            self._reseed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state, _ = self._env.reset()
        self._simulator_steps = 0
        self._episode_over = False
        return self._observation(state, 0.0, False, is_first=True, is_last=False)

    def step(self, action: np.ndarray) -> Observation:
        """Apply `action` (in [-1, 1], clipped) for action_repeat simulator steps."""
        self._check_running()
        clipped = np.clip(np.asarray(action, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if clipped.shape != (ACTION_DIM,):
            raise ValueError(f"action for {self.spec.name} must have shape ({ACTION_DIM},), got {np.shape(action)}")
        total_reward = 0.0
        success = False
        state = None
        for _ in range(self.spec.action_repeat):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state, reward, _terminated, _truncated, info = self._env.step(clipped)
            self._simulator_steps += 1
            total_reward += float(reward)
            success = success or bool(info.get("success", False))
            if self._simulator_steps >= self.spec.episode_steps:
                break
        assert state is not None
        self._episode_over = self._simulator_steps >= self.spec.episode_steps
        return self._observation(state, total_reward, success, is_first=False, is_last=self._episode_over)

    def _free(self) -> None:
        self._env.close()


class MetaWorldScriptedExpert:
    """Meta-World's scripted policy for one task as a vid2act `Policy` (reads obs["state"])."""

    name = "expert"

    def __init__(self, task: str) -> None:
        """Look up the scripted policy of `task` (v3 name without suffix) in metaworld.policies."""
        _import_metaworld()
        from metaworld.policies import ENV_POLICY_MAP

        key = f"{task}{VERSION_SUFFIX}"
        if key not in ENV_POLICY_MAP:
            raise KeyError(f"Meta-World has no scripted policy for task {task!r}")
        self.task = task
        self._policy = ENV_POLICY_MAP[key]()

    def reset(self) -> None:
        """The scripted policies are stateless; nothing to reset."""

    def __call__(self, obs: Observation) -> np.ndarray:
        """Action in [-1, 1] for the 39-dim state of `obs`."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            action = self._policy.get_action(np.asarray(obs["state"], dtype=np.float64))
        return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)


make_metaworld_env: Callable[..., MetaWorldEnv] = MetaWorldEnv
"""Environment factory of the "metaworld" domain: make_metaworld_env(spec, seed=0, image_size=64,
render=True, fast_render=True) (see MetaWorldEnv)."""


def make_metaworld_expert(spec: TaskSpec) -> MetaWorldScriptedExpert:
    """Expert factory of the "metaworld" domain: the task's scripted policy."""
    return MetaWorldScriptedExpert(spec.task)


def metaworld_domain() -> Domain:
    """The built-in Meta-World v3 domain. Cheap: metaworld is imported on first use."""
    return Domain(
        name=DOMAIN_NAME,
        task_names=metaworld_task_names,
        task_spec=metaworld_task_spec,
        make_env=make_metaworld_env,
        make_expert=make_metaworld_expert,
        description="Meta-World v3 (gymnasium) from the corner camera; 500 steps, success flag",
    )
