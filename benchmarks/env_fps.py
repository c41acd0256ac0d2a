"""Step + render throughput of the pixel environments: default rendering vs fast rendering.

For each task, two environments with the same seed run the same random actions: one with the
model's own rendering options (`fast_render=False`), one with the shadow map and framebuffer
sized to the image (`fast_render=True`, the default). Prints frames per second (one agent step
plus one rendered frame each), milliseconds per frame, and the mean absolute pixel difference
between the two image streams (0-255 scale).

    uv run python benchmarks/env_fps.py                       # ~100 steps per task
    uv run python benchmarks/env_fps.py --steps 300 --tasks walker_walk door-open
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from vid2act_envs.rendering import (
    ensure_gl_backend,
    fast_render_settings,
    mean_abs_pixel_difference,
)
from vid2act_teachers.domains import make_env

DEFAULT_TASKS = ["walker_walk", "cheetah_run", "quadruped_walk", "metaworld:button-press-topdown"]


def run_episode_frames(
    task: str, steps: int, image_size: int, fast_render: bool, seed: int
) -> tuple[float, np.ndarray]:
    """Frames per second over `steps` random-action steps (after reset) and the images seen."""
    env = make_env(task, seed=seed, image_size=image_size, fast_render=fast_render)
    action_rng = np.random.default_rng(seed)
    try:
        observation = env.reset(seed=seed)
        images = [observation["image"]]
        started = time.perf_counter()
        for _ in range(steps):
            action = action_rng.uniform(-1.0, 1.0, size=env.action_dim).astype(np.float32)
            observation = env.step(action)
            images.append(observation["image"])
            if observation["is_last"]:
                observation = env.reset()
                images.append(observation["image"])
        elapsed = time.perf_counter() - started
    finally:
        env.close()
    return steps / elapsed, np.stack(images)


def main() -> None:
    """Parse arguments, benchmark every task, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS, help="task names (any registered form)")
    parser.add_argument("--steps", type=int, default=100, help="agent steps per task and setting")
    parser.add_argument("--image-size", type=int, default=64, help="square image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    backend = ensure_gl_backend()
    print(f"MUJOCO_GL={backend}; image {args.image_size}x{args.image_size}; {args.steps} steps per run")
    print(f"fast rendering: {fast_render_settings(args.image_size).describe()}, MSAA and shadows kept")
    header = f"{'task':34s} {'default fps':>11s} {'fast fps':>9s} {'default ms':>10s} {'fast ms':>8s} {'speed-up':>8s} {'mean |px diff|':>14s}"
    print(header)
    print("-" * len(header))
    for task in args.tasks:
        default_fps, default_images = run_episode_frames(task, args.steps, args.image_size, False, args.seed)
        fast_fps, fast_images = run_episode_frames(task, args.steps, args.image_size, True, args.seed)
        difference = mean_abs_pixel_difference(default_images, fast_images)
        print(
            f"{task:34s} {default_fps:11.1f} {fast_fps:9.1f} {1000 / default_fps:10.1f} {1000 / fast_fps:8.1f}"
            f" {fast_fps / default_fps:7.2f}x {difference:14.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
