"""Headless OpenGL backend selection and render-cost settings for MuJoCo-based environments.

Two jobs, both needed before the first frame is drawn:

1. `ensure_gl_backend()` picks a working headless OpenGL backend when `MUJOCO_GL` is unset
   (EGL first, then OSMesa), *before* mujoco / dm_control / metaworld are imported: those
   libraries read `MUJOCO_GL` at import time. Every module of this package that imports a
   simulator calls it first.
2. `RenderSettings` sizes MuJoCo's offscreen resources to the image actually rendered. MuJoCo
   allocates the offscreen framebuffer and the shadow map when the rendering context is created,
   from the model's `vis` options. Meta-World asks for a 4096 x 4096 shadow map (DeepMind Control
   2048) even for a 64 x 64 picture, and the shadow pass then dominates the cost of a frame.
   `fast_render_settings(image_size)` shrinks the shadow map and the framebuffer while keeping
   shadows and multisampling, so the picture stays the same to the eye (see docs/rendering.md
   for the measured speed-up and pixel differences). `apply_render_settings(model, settings)`
   writes them into an `MjModel` before its rendering context exists.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

HEADLESS_BACKENDS: tuple[str, ...] = ("egl", "osmesa")
"""Backends tried, in order, when MUJOCO_GL is unset."""

_PYOPENGL_PLATFORM_FOR_BACKEND: dict[str, str] = {"egl": "egl", "osmesa": "osmesa"}

_PROBE_SCRIPT = """
import mujoco
if "{backend}" == "egl":
    from mujoco.egl import GLContext
else:
    from mujoco.osmesa import GLContext
context = GLContext(16, 16)
context.make_current()
model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='1'/></worldbody></mujoco>")
mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
context.free()
print("ok")
"""

_chosen_backend: str | None = None


class NoGLBackendError(RuntimeError):
    """No headless OpenGL backend could create a rendering context."""


def _backend_works(backend: str, timeout_s: float = 60.0) -> tuple[bool, str]:
    """Try to create a MuJoCo rendering context with `backend` in a fresh Python process.

    A subprocess keeps a failing backend (a crash inside a GL driver, or PyOpenGL having
    bound the wrong platform) from poisoning the calling process.
    """
    env = dict(os.environ)
    env["MUJOCO_GL"] = backend
    env["PYOPENGL_PLATFORM"] = _PYOPENGL_PLATFORM_FOR_BACKEND[backend]
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT.format(backend=backend)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"{type(error).__name__}: {error}"
    if completed.returncode == 0 and completed.stdout.strip().endswith("ok"):
        return True, ""
    last_error_line = (completed.stderr.strip().splitlines() or [f"exit code {completed.returncode}"])[-1]
    return False, last_error_line


def _preload_triton() -> None:
    """Load triton's bundled LLVM before Mesa's, if triton is installed.

    Mesa's software rasteriser (llvmpipe, used by EGL and OSMesa on machines without a GPU)
    links its own LLVM. When torch later imports triton (the first optimizer or torch.compile
    does), triton's LLVM loaded into the same process after Mesa's crashes with a segmentation
    fault. In the other order both work, so import triton first. Only triton is imported here,
    never torch.
    """
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        return
    try:
        import triton  # noqa: F401
    except Exception as error:  # a broken triton only matters to torch.compile on CUDA
        logger.debug("could not preload triton (%s)", error)


def ensure_gl_backend() -> str:
    """Make sure MUJOCO_GL names a working backend and return it.

    If MUJOCO_GL is already set (by the user or an earlier call) it is respected as is, with
    PYOPENGL_PLATFORM filled in to match when that is unset. Otherwise EGL and then OSMesa are
    probed in a subprocess; the first that can create a MuJoCo context is exported to
    MUJOCO_GL and PYOPENGL_PLATFORM and logged. Must run before mujoco, dm_control or
    metaworld is imported. Raises NoGLBackendError when no backend works.
    """
    global _chosen_backend
    _preload_triton()
    preset_backend = os.environ.get("MUJOCO_GL")
    if preset_backend:
        if preset_backend in _PYOPENGL_PLATFORM_FOR_BACKEND:
            os.environ.setdefault("PYOPENGL_PLATFORM", _PYOPENGL_PLATFORM_FOR_BACKEND[preset_backend])
        if _chosen_backend is None:
            logger.info("Rendering with MUJOCO_GL=%s (set in the environment).", preset_backend)
            _chosen_backend = preset_backend
        return preset_backend

    failures: list[str] = []
    for backend in HEADLESS_BACKENDS:
        works, reason = _backend_works(backend)
        if works:
            os.environ["MUJOCO_GL"] = backend
            os.environ["PYOPENGL_PLATFORM"] = _PYOPENGL_PLATFORM_FOR_BACKEND[backend]
            _chosen_backend = backend
            logger.info("MUJOCO_GL was unset; rendering headless with MUJOCO_GL=%s.", backend)
            return backend
        failures.append(f"{backend}: {reason}")
    raise NoGLBackendError(
        "no headless OpenGL backend works (" + "; ".join(failures) + "); "
        "install Mesa's EGL (libegl1) or OSMesa (apt-get install -y libosmesa6), or set MUJOCO_GL"
    )


@dataclass(frozen=True)
class RenderSettings:
    """MuJoCo offscreen rendering options written into a model before its context is created.

    `None` leaves the model's own value in place.
    """

    shadow_map_size: int | None = None
    """Side of the square shadow map texture (`vis.quality.shadowsize`)."""
    multisamples: int | None = None
    """MSAA samples of the offscreen buffer (`vis.quality.offsamples`); 0 disables it."""
    framebuffer_size: tuple[int, int] | None = None
    """(width, height) of the offscreen framebuffer (`vis.global_.offwidth/offheight`)."""

    def describe(self) -> str:
        """One line for logs and benchmark output."""
        if self == RenderSettings():
            return "model defaults"
        parts = []
        if self.shadow_map_size is not None:
            parts.append(f"shadow map {self.shadow_map_size}")
        if self.multisamples is not None:
            parts.append(f"MSAA {self.multisamples}")
        if self.framebuffer_size is not None:
            parts.append(f"framebuffer {self.framebuffer_size[0]}x{self.framebuffer_size[1]}")
        return ", ".join(parts)


DEFAULT_RENDER_SETTINGS = RenderSettings()
"""Leave every rendering option as the model file sets it."""

FAST_SHADOW_MAP_FACTOR = 4
"""Fast rendering uses a shadow map this many times the image side (see docs/rendering.md)."""

FAST_SHADOW_MAP_MIN = 256
"""Smallest shadow map fast rendering uses, however small the image."""


def fast_render_settings(image_size: tuple[int, int] | int) -> RenderSettings:
    """Render-cost settings sized to an image of `image_size` ((height, width) or one side).

    The shadow map is FAST_SHADOW_MAP_FACTOR times the longer image side (at least
    FAST_SHADOW_MAP_MIN, rounded up to a power of two) and the framebuffer is exactly the image;
    multisampling and shadows stay on so the picture matches the default closely.
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    wanted = max(FAST_SHADOW_MAP_MIN, FAST_SHADOW_MAP_FACTOR * max(height, width))
    shadow_map_size = 1 << (wanted - 1).bit_length()
    return RenderSettings(shadow_map_size=shadow_map_size, framebuffer_size=(width, height))


def render_settings_for(image_size: tuple[int, int] | int, fast_render: bool) -> RenderSettings:
    """The settings an environment factory applies: sized to the image, or the model defaults."""
    return fast_render_settings(image_size) if fast_render else DEFAULT_RENDER_SETTINGS


def apply_render_settings(model: Any, settings: RenderSettings) -> None:
    """Write `settings` into an `mujoco.MjModel` (before the first frame is rendered).

    The framebuffer is set to exactly the requested size, so frames up to that size fit.
    """
    if settings.shadow_map_size is not None:
        model.vis.quality.shadowsize = int(settings.shadow_map_size)
    if settings.multisamples is not None:
        model.vis.quality.offsamples = int(settings.multisamples)
    if settings.framebuffer_size is not None:
        width, height = settings.framebuffer_size
        model.vis.global_.offwidth = int(width)
        model.vis.global_.offheight = int(height)


def mean_abs_pixel_difference(images_a: Any, images_b: Any) -> float:
    """Mean absolute difference (0-255 scale) between two equally shaped uint8 image stacks."""
    import numpy as np

    first = np.asarray(images_a, dtype=np.int16)
    second = np.asarray(images_b, dtype=np.int16)
    if first.shape != second.shape:
        raise ValueError(f"image shapes differ: {first.shape} vs {second.shape}")
    return float(np.abs(first - second).mean())


class _Closeable(Protocol):
    def close(self) -> None: ...


_open_environments: weakref.WeakSet[Any] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()


def _close_open_environments() -> None:
    for environment in list(_open_environments):
        try:
            environment.close()
        except Exception as error:  # noqa: BLE001 - best effort at interpreter exit
            logger.debug("closing %r at exit failed: %s", environment, error)


def close_at_exit(environment: _Closeable) -> None:
    """Close `environment` at interpreter exit if the caller has not.

    Rendering contexts freed after the EGL display is terminated print EGL_BAD_DISPLAY
    tracebacks at exit (mujoco.egl and dm_control share one EGL display, and each terminates it
    in an atexit hook registered when its first context is created). atexit runs hooks last-in
    first-out, so the hook is re-registered on every call: call this again right after an
    environment's first frame (when its context now exists) to keep the hook in front.
    """
    with _exit_hook_lock:
        atexit.unregister(_close_open_environments)
        atexit.register(_close_open_environments)
        _open_environments.add(environment)
