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

from vid2act_envs.base import TaskSpec, check_step_counts
from vid2act_envs.dmc import (
    _flatten_observation,
    dmc_task_spec,
    load_suite_env,
    reset_suite_env,
    scale_action,
    simulator_action_bounds,
    step_repeated,
)


class DMCStateEnv(gymnasium.Env):
    """One DeepMind Control task with flattened-state observations and actions in [-1, 1]."""

    metadata = {"render_modes": []}

    def __init__(self, task: str, seed: int = 0, action_repeat: int | None = None, episode_steps: int | None = None) -> None:
        base = dmc_task_spec(task)
        self.task_spec = TaskSpec(
            domain=base.domain,
            task=base.task,
            action_repeat=base.action_repeat if action_repeat is None else int(action_repeat),
            episode_steps=base.episode_steps if episode_steps is None else int(episode_steps),
            camera=base.camera,
            has_success=False,
        )
        check_step_counts(self.task_spec)
        self._env = load_suite_env(task, seed)
        self._action_low, self._action_high = simulator_action_bounds(self._env)
        self.action_dim = int(self._action_low.shape[0])
        state_dim = sum(int(np.prod(spec.shape)) for spec in self._env.observation_spec().values())
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(state_dim,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(self.action_dim,), dtype=np.float32)
        self._simulator_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; a seed reseeds the task's random state (initial pose, targets)."""
        super().reset(seed=seed)
        time_step = reset_suite_env(self._env, seed)
        self._simulator_steps = 0
        return _flatten_observation(time_step.observation), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply `action` (clipped to [-1, 1]) for action_repeat simulator steps, summing rewards."""
        simulator_action = scale_action(action, self._action_low, self._action_high, self.task_spec.name)
        outcome = step_repeated(self._env, simulator_action, self.task_spec, self._simulator_steps)
        self._simulator_steps = outcome.simulator_steps
        truncated = outcome.last and not outcome.terminal
        return _flatten_observation(outcome.time_step.observation), outcome.reward, outcome.terminal, truncated, {}

    def close(self) -> None:
        """Free the simulator (safe to call twice)."""
        if self._env is not None:
            self._env.physics.free()
            self._env.close()
            self._env = None


def make_dmc_state_env(task: str, seed: int = 0, action_repeat: int | None = None) -> DMCStateEnv:
    """State-only DMC environment for `task` (e.g. "walker_walk"); raises KeyError for unknown tasks."""
    return DMCStateEnv(task, seed=seed, action_repeat=action_repeat)
