"""The `toy` domain's one task, `reach`: a point mass on a table pushed to a green target.

A 2-DoF MuJoCo model (two slide joints, two motors) written inline below. Each reset places the
point mass and the target uniformly at random in the arena; the agent's two actions in [-1, 1]
are forces along x and y. Reward is 1.0 while the point mass is inside the target disc and 0.0
otherwise (as DeepMind Control's reacher); `success` is the same condition. Episodes end only at
the time limit. Images come from a camera looking straight down, rendered by `mujoco.Renderer`.

This module implements `vid2act_envs.base.Env` exactly; it is what a plugin author writes for a
simulator vid2act does not know.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vid2act_envs.base import Observation, TaskSpec
from vid2act_envs.rendering import apply_render_settings, ensure_gl_backend, render_settings_for

ensure_gl_backend()  # MuJoCo reads MUJOCO_GL when it is imported: choose a backend first.

import mujoco  # noqa: E402  (must follow ensure_gl_backend)

ARENA_HALF_SIZE = 0.25
"""The point mass moves in [-ARENA_HALF_SIZE, ARENA_HALF_SIZE]^2 (metres; joint limits)."""

SPAWN_HALF_SIZE = 0.2
"""Point mass and target start uniformly in [-SPAWN_HALF_SIZE, SPAWN_HALF_SIZE]^2."""

TARGET_RADIUS = 0.05
"""The point mass is "at the target" (reward 1, success) within this distance of its centre."""

STATE_SIZE = 6
"""state = [x, y, vx, vy, target_x, target_y] (float32)."""

TOY_REACH_XML = f"""
<mujoco model="toy_reach">
  <option timestep="0.02" gravity="0 0 0"/>
  <visual>
    <global offwidth="64" offheight="64"/>
    <quality shadowsize="0"/>
  </visual>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1=".25 .3 .35" rgb2=".15 .2 .25" width="64" height="64"/>
    <material name="grid" texture="grid" texrepeat="4 4"/>
  </asset>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1" castshadow="false"/>
    <camera name="top" pos="0 0 0.75" xyaxes="1 0 0 0 1 0" fovy="45"/>
    <geom name="table" type="plane" size=".3 .3 .01" material="grid" contype="0" conaffinity="0"/>
    <geom name="wall_px" type="box" pos=" .29 0 .01" size=".01 .3 .02" rgba=".6 .6 .6 1" contype="0" conaffinity="0"/>
    <geom name="wall_nx" type="box" pos="-.29 0 .01" size=".01 .3 .02" rgba=".6 .6 .6 1" contype="0" conaffinity="0"/>
    <geom name="wall_py" type="box" pos="0  .29 .01" size=".3 .01 .02" rgba=".6 .6 .6 1" contype="0" conaffinity="0"/>
    <geom name="wall_ny" type="box" pos="0 -.29 .01" size=".3 .01 .02" rgba=".6 .6 .6 1" contype="0" conaffinity="0"/>
    <body name="target" mocap="true" pos="0 0 .002">
      <geom name="target" type="cylinder" size="{TARGET_RADIUS} .002" rgba=".2 .8 .2 1" contype="0" conaffinity="0"/>
    </body>
    <body name="pointmass" pos="0 0 .03">
      <joint name="x" type="slide" axis="1 0 0" limited="true" range="-{ARENA_HALF_SIZE} {ARENA_HALF_SIZE}" damping="0.5"/>
      <joint name="y" type="slide" axis="0 1 0" limited="true" range="-{ARENA_HALF_SIZE} {ARENA_HALF_SIZE}" damping="0.5"/>
      <geom name="pointmass" type="sphere" size=".03" mass="0.1" rgba=".95 .55 .1 1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="force_x" joint="x" gear="1" ctrllimited="true" ctrlrange="-1 1"/>
    <motor name="force_y" joint="y" gear="1" ctrllimited="true" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


class ToyReachEnv:
    """Point mass reaching a target, as a vid2act pixel environment (`vid2act_envs.base.Env`)."""

    def __init__(
        self,
        spec: TaskSpec,
        seed: int = 0,
        image_size: int | tuple[int, int] = 64,
        render: bool = True,
        fast_render: bool = True,
    ):
        """Build the model. `render=False` skips drawing and returns black images (fast scripted
        rollouts); `fast_render` sizes the offscreen buffers to the image (vid2act_envs.rendering)."""
        if spec.action_repeat < 1 or spec.episode_steps < spec.action_repeat:
            raise ValueError(
                f"toy:{spec.task}: need action_repeat >= 1 and episode_steps >= action_repeat, "
                f"got {spec.action_repeat} and {spec.episode_steps}"
            )
        height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if height <= 0 or width <= 0:
            raise ValueError(f"toy:{spec.task}: image_size must be positive, got {image_size!r}")
        self.spec = spec
        self.action_dim = 2
        self.image_size = (int(height), int(width))
        self._model = mujoco.MjModel.from_xml_string(TOY_REACH_XML)
        apply_render_settings(self._model, render_settings_for(self.image_size, fast_render))
        self._model.vis.global_.offwidth = max(int(self._model.vis.global_.offwidth), self.image_size[1])
        self._model.vis.global_.offheight = max(int(self._model.vis.global_.offheight), self.image_size[0])
        self._data = mujoco.MjData(self._model)
        self._renderer: Any = mujoco.Renderer(self._model, *self.image_size) if render else None
        self._rng = np.random.default_rng(seed)
        self._step_count: int | None = None  # None until the first reset()

    # -- the Env protocol ----------------------------------------------------------------

    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode; `seed` reseeds the layout generator (same seed, same first observation)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        mujoco.mj_resetData(self._model, self._data)
        self._data.qpos[:2] = self._rng.uniform(-SPAWN_HALF_SIZE, SPAWN_HALF_SIZE, size=2)
        self._data.mocap_pos[0, :2] = self._rng.uniform(-SPAWN_HALF_SIZE, SPAWN_HALF_SIZE, size=2)
        mujoco.mj_forward(self._model, self._data)
        self._step_count = 0
        return self._observation(reward=0.0, is_first=True, is_last=False)

    def step(self, action: np.ndarray) -> Observation:
        """Apply `action` (2 forces in [-1, 1], clipped) for `spec.action_repeat` physics steps."""
        if self._step_count is None:
            raise RuntimeError(f"toy:{self.spec.task}: call reset() before step()")
        if self._step_count >= self.spec.agent_steps:
            raise RuntimeError(f"toy:{self.spec.task}: the episode is over (is_last was True); call reset()")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (self.action_dim,):
            raise ValueError(f"toy:{self.spec.task}: action must have shape ({self.action_dim},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"toy:{self.spec.task}: action must be finite, got {action.tolist()}")
        self._data.ctrl[:] = np.clip(action, -1.0, 1.0)
        for _ in range(self.spec.action_repeat):
            mujoco.mj_step(self._model, self._data)
        self._step_count += 1
        reward = 1.0 if self._at_target() else 0.0
        return self._observation(reward=reward, is_first=False, is_last=self._step_count >= self.spec.agent_steps)

    def close(self) -> None:
        """Free the renderer's OpenGL resources."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # -- helpers -------------------------------------------------------------------------

    def _distance_to_target(self) -> float:
        return float(np.linalg.norm(self._data.qpos[:2] - self._data.mocap_pos[0, :2]))

    def _at_target(self) -> bool:
        return self._distance_to_target() <= TARGET_RADIUS

    def _state(self) -> np.ndarray:
        state = np.concatenate([self._data.qpos[:2], self._data.qvel[:2], self._data.mocap_pos[0, :2]])
        return state.astype(np.float32)

    def _image(self) -> np.ndarray:
        if self._renderer is None:
            return np.zeros((*self.image_size, 3), dtype=np.uint8)
        self._renderer.update_scene(self._data, camera=self.spec.camera)
        return np.ascontiguousarray(self._renderer.render(), dtype=np.uint8)

    def _observation(self, reward: float, is_first: bool, is_last: bool) -> Observation:
        return {
            "image": self._image(),
            "state": self._state(),
            "reward": np.float32(reward),
            "success": self._at_target(),
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": False,
        }


class ToyReachExpert:
    """Scripted expert: a proportional-derivative controller on the state, saturated to [-1, 1]."""

    name = "toy-reach-pd"

    def __init__(self, position_gain: float = 20.0, velocity_gain: float = 2.0):
        """Force = position_gain * (target - position) - velocity_gain * velocity."""
        self.position_gain = position_gain
        self.velocity_gain = velocity_gain

    def reset(self) -> None:
        """Stateless: nothing to reset."""

    def __call__(self, obs: Observation) -> np.ndarray:
        """Action for one observation (uses obs["state"] only)."""
        state = np.asarray(obs["state"], dtype=np.float64)
        position, velocity, target = state[0:2], state[2:4], state[4:6]
        force = self.position_gain * (target - position) - self.velocity_gain * velocity
        return np.clip(force, -1.0, 1.0).astype(np.float32)
