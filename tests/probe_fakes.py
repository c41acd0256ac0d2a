"""Helpers for the probe tests: a tiny target dataset, tiny registry teachers, a tiny probe request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from episode_fakes import make_attrs, make_episode
from vid2act_core.config import preset
from vid2act_core.world_model import WorldModel
from vid2act_envs.dataset import EpisodeWriter
from vid2act_teachers.registry import TeacherRegistry

from vid2act_cli.compose.probe import ProbeRequest

IMAGE_SIZE = 64
TARGET_ACTION_DIM = 3
TEACHERS = ("alpha", "beta", "gamma")
"""Tiny registry teachers; `alpha` plays the related one. beta has another action size."""


def write_target(path: Path, episodes: int = 4, length: int = 12, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """A target dataset of random 64x64 episodes (action size 3)."""
    rng = np.random.default_rng(seed)
    written = [make_episode(rng, length, TARGET_ACTION_DIM, IMAGE_SIZE, with_success=False) for _ in range(episodes)]
    with EpisodeWriter(path, make_attrs(image_size=IMAGE_SIZE, action_dim=TARGET_ACTION_DIM)) as writer:
        for episode in written:
            writer.write_episode(episode)
    return written


def register_teachers(names: tuple[str, ...] = TEACHERS) -> None:
    """Tiny teachers (seeded, untrained) in the current VID2ACT_HOME registry."""
    registry = TeacherRegistry()
    for index, name in enumerate(names):
        config = preset("tiny")
        config.world_model.use_reward_head = False
        torch.manual_seed(100 + index)
        action_dim = 2 if name == "beta" else TARGET_ACTION_DIM
        model = WorldModel(config.world_model, action_dim, IMAGE_SIZE)
        registry.add(name, model, config, domain="fake", task=name, train_steps=1, dataset_sha256="0" * 64)


def tiny_request(out: Path, data: Path, **changes: Any) -> ProbeRequest:
    """A probe over the fake target with the `tiny` student, a few updates, 2 seeds, one form, no controls."""
    settings: dict[str, Any] = dict(
        target_data=data, teachers=list(TEACHERS), related="alpha", config=preset("tiny"), out=out,
        updates=[3], batch_size=2, batch_length=8, log_every=2,
        train_episodes=[2], eval_episodes=2, seeds=2, scorers=["prediction_error", "paper"], forms=["student_head"],
        controls=["none"], context=2, horizons=[3, 6], windows_per_episode=2,
    )
    settings.update(changes)
    return ProbeRequest(**settings)
