"""Shared pieces of the pretraining tests: small synthetic datasets and the metrics of a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter


def write_synthetic_dataset(
    path: Path, task: str = "button-press-topdown", domain: str = "metaworld", episodes: int = 2, steps: int = 24,
    seed: int = 0,
) -> Path:
    """A valid HDF5 dataset of moving squares (no simulator needed): image, action, is_first."""
    rng = np.random.default_rng(seed)
    attrs = DatasetAttrs(domain=domain, task=task, action_repeat=1, camera="corner", collector="expert",
                         image_size=(64, 64), action_dim=4)
    with EpisodeWriter(path, attrs) as writer:
        for _ in range(episodes):
            actions = rng.uniform(-1, 1, (steps, 4)).astype(np.float32)
            actions[0] = 0.0
            images = np.zeros((steps, 64, 64, 3), np.uint8)
            position = np.cumsum(np.round(actions[:, :2] * 3), 0).astype(int) % 54
            for t in range(steps):
                images[t, position[t, 0]:position[t, 0] + 10, position[t, 1]:position[t, 1] + 10] = 220
            is_first = np.zeros(steps, bool)
            is_first[0] = True
            writer.write_episode({"image": images, "action": actions, "is_first": is_first})
    return path


def read_metrics(run_dir: Path) -> list[dict]:
    """Every record of the run's metrics.jsonl."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def open_loop_errors(run_dir: Path) -> list[tuple[int, float]]:
    """(step, eval/open_loop_error) in logging order."""
    return [(record["step"], record["eval/open_loop_error"]) for record in read_metrics(run_dir)
            if "eval/open_loop_error" in record]
