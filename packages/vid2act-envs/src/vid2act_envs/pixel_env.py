"""What the built-in pixel environments (`DMCEnv`, `MetaWorldEnv`) share.

The spec's counts and the image size checked once, the rendering settings, the frame (black
without rendering; the interpreter-exit hook re-registered after the first real frame, see
`rendering.close_at_exit`), the refusal to step past the end of an episode, and an idempotent
close. Each simulator supplies its frame (`_frame`) and how it frees itself (`_free`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from vid2act_envs.base import TaskSpec, check_step_counts
from vid2act_envs.rendering import close_at_exit, render_settings_for


class PixelEnv(ABC):
    """Base of a pixel environment; subclasses build the simulator after `super().__init__`."""

    def __init__(self, spec: TaskSpec, image_size: int | tuple[int, int], render: bool, fast_render: bool) -> None:
        check_step_counts(spec)
        height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.spec = spec
        self.image_size: tuple[int, int] = (int(height), int(width))
        self.render_enabled = render
        self.render_settings = render_settings_for(self.image_size, fast_render)
        self._simulator_steps = 0
        self._episode_over = True
        self._closed = False
        self._rendered_once = False

    @abstractmethod
    def _frame(self) -> np.ndarray:
        """The simulator's current (H, W, 3) frame, upright (called only with rendering on)."""

    @abstractmethod
    def _free(self) -> None:
        """Free the simulator and its rendering context (called once, by `close`)."""

    def _render(self) -> np.ndarray:
        height, width = self.image_size
        if not self.render_enabled:
            return np.zeros((height, width, 3), dtype=np.uint8)
        frame = self._frame()
        if not self._rendered_once:
            self._rendered_once = True
            close_at_exit(self)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def _check_running(self) -> None:
        if self._episode_over:
            raise RuntimeError(f"{self.spec.name}: step() called after the episode ended; call reset() first")

    def close(self) -> None:
        """Free the simulator and its rendering context (safe to call twice)."""
        if not self._closed:
            self._closed = True
            self._episode_over = True
            self._free()
