"""DeepMind Control from proprioceptive state, as a gymnasium environment (no rendering).

State-based expert training (SAC in `vid2act_teachers.experts`) runs here: the observation is
dm_control's observation dict flattened in its key order (the same vector `DMCEnv` puts under
`state`), actions are normalised to [-1, 1], action repeat and time limit follow the pixel
environment's TaskSpec (action repeat 2, 1000 simulator steps). The time limit is reported as
`truncated` (the critic bootstraps through it); only the task's own end with discount 0 is
`terminated`. This module imports no torch: it hands numpy arrays to the trainer.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from vid2act_envs.base import TaskSpec
from vid2act_envs.dmc import _flatten_observation, _quiet_numpy_deprecations, dmc_task_spec, split_task_name
from vid2act_envs.rendering import ensure_gl_backend


class DMCStateEnv(gymnasium.Env):
    """One DeepMind Control task with flattened-state observations and actions in [-1, 1]."""

    metadata = {"render_modes": []}

    def __init__(self, task: str, seed: int = 0, action_repeat: int | None = None, episode_steps: int | None = None) -> None:
        ensure_gl_backend()
        from dm_control import suite

        base = dmc_task_spec(task)
        self.task_spec = TaskSpec(
            domain=base.domain,
            task=base.task,
            action_repeat=base.action_repeat if action_repeat is None else int(action_repeat),
            episode_steps=base.episode_steps if episode_steps is None else int(episode_steps),
            camera=base.camera,
            has_success=False,
        )
        if self.task_spec.action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {self.task_spec.action_repeat}")
        if self.task_spec.episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {self.task_spec.episode_steps}")
        domain_name, task_name = split_task_name(task)
        with _quiet_numpy_deprecations():
            self._env = suite.load(domain_name, task_name, task_kwargs={"random": seed, "time_limit": float("inf")})
        action_spec = self._env.action_spec()
        self._action_low = np.asarray(action_spec.minimum, dtype=np.float64)
        self._action_high = np.asarray(action_spec.maximum, dtype=np.float64)
        self.action_dim = int(action_spec.shape[0])
        state_dim = sum(int(np.prod(spec.shape)) for spec in self._env.observation_spec().values())
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(state_dim,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(self.action_dim,), dtype=np.float32)
        self._simulator_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; a seed reseeds the task's random state (initial pose, targets)."""
        super().reset(seed=seed)
        if seed is not None:
            self._env.task._random = np.random.RandomState(seed)
        with _quiet_numpy_deprecations():
            time_step = self._env.reset()
        self._simulator_steps = 0
        return _flatten_observation(time_step.observation), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply `action` (clipped to [-1, 1]) for action_repeat simulator steps, summing rewards."""
        normalised = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        if normalised.shape != (self.action_dim,):
            raise ValueError(f"action for {self.task_spec.name} must have shape ({self.action_dim},), got {np.shape(action)}")
        simulator_action = self._action_low + (normalised + 1.0) * 0.5 * (self._action_high - self._action_low)
        reward = 0.0
        terminated = False
        time_step = None
        for _ in range(self.task_spec.action_repeat):
            time_step = self._env.step(simulator_action)
            self._simulator_steps += 1
            reward += float(time_step.reward or 0.0)
            if time_step.last():
                terminated = time_step.discount is not None and float(time_step.discount) == 0.0
                break
            if self._simulator_steps >= self.task_spec.episode_steps:
                break
        assert time_step is not None
        truncated = not terminated and (time_step.last() or self._simulator_steps >= self.task_spec.episode_steps)
        return _flatten_observation(time_step.observation), reward, terminated, truncated, {}

    def close(self) -> None:
        """Free the simulator (safe to call twice)."""
        if self._env is not None:
            self._env.physics.free()
            self._env.close()
            self._env = None


def make_dmc_state_env(task: str, seed: int = 0, action_repeat: int | None = None) -> DMCStateEnv:
    """State-only DMC environment for `task` (e.g. "walker_walk"); raises KeyError for unknown tasks."""
    return DMCStateEnv(task, seed=seed, action_repeat=action_repeat)
