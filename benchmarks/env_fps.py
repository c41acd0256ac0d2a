"""Step + render throughput of the pixel environments: default rendering vs fast rendering.

For each task, two environments with the same seed run the same random actions: one with the
model's own rendering options (`fast_render=False`), one with the shadow map and framebuffer
sized to the image (`fast_render=True`, the default). Prints frames per second (one agent step
plus one rendered frame each), milliseconds per frame, and the mean absolute pixel difference
between the two image streams (0-255 scale).

    uv run python benchmarks/env_fps.py                       # ~100 steps per task
    uv run python benchmarks/env_fps.py --steps 300 --tasks walker_walk door-open
    uv run python benchmarks/env_fps.py --workers 2 --episodes 4 --tasks walker_walk

With `--workers N`: instead, collection throughput of `collect_dataset` (random policy, 64x64)
with one process and with N worker processes (`vid2act collect --workers N`), frames per second
including process start-up and HDF5 writing, and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from vid2act_envs.rendering import (
    ensure_gl_backend,
    fast_render_settings,
    mean_abs_pixel_difference,
)
from vid2act_teachers.plugins import domain_registry

DEFAULT_TASKS = ["walker_walk", "cheetah_run", "quadruped_walk", "metaworld:button-press-topdown"]


def run_episode_frames(
    task: str, steps: int, image_size: int, fast_render: bool, seed: int
) -> tuple[float, np.ndarray]:
    """Frames per second over `steps` random-action steps (after reset) and the images seen."""
    env = domain_registry().make_env(task, seed=seed, image_size=image_size, fast_render=fast_render)
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


def collection_fps(task: str, episodes: int, workers: int, image_size: int, episode_steps: int | None) -> float:
    """Frames per second of `collect_dataset` with `workers` processes (random policy, temp file)."""
    import tempfile
    from pathlib import Path

    from vid2act_envs.collect import collect_dataset
    from vid2act_teachers.plugins import domain_registry

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        stats, _ = collect_dataset(domain_registry(), task, episodes, policy="random", out=Path(folder) / "data.h5",
                                   image_size=image_size, episode_steps=episode_steps, workers=workers,
                                   registry_factory=domain_registry)
        return stats.steps / (time.perf_counter() - started)


def main() -> None:
    """Parse arguments, benchmark every task, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=DEFAULT_TASKS, help="task names (any registered form)")
    parser.add_argument("--steps", type=int, default=100, help="agent steps per task and setting")
    parser.add_argument("--image-size", type=int, default=64, help="square image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="measure collection with 1 and with N worker processes")
    parser.add_argument("--episodes", type=int, default=4, help="episodes per collection run (with --workers)")
    parser.add_argument("--episode-steps", type=int, default=None, help="time limit override (with --workers)")
    args = parser.parse_args()
    if args.workers:
        print(f"collection, random policy, {args.image_size}x{args.image_size}, {args.episodes} episodes per run, "
              f"{os.cpu_count()} CPUs, loadavg {os.getloadavg()[0]:.1f}")
        print(f"{'task':34s} {'1 process fps':>13s} {f'{args.workers} workers fps':>15s} {'speed-up':>8s}")
        for task in args.tasks:
            single = collection_fps(task, args.episodes, 1, args.image_size, args.episode_steps)
            parallel = collection_fps(task, args.episodes, args.workers, args.image_size, args.episode_steps)
            print(f"{task:34s} {single:13.1f} {parallel:15.1f} {parallel / single:7.2f}x", flush=True)
        return

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
