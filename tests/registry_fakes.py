"""Helpers for the teacher-registry tests: tiny world models and teachers written to a registry."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from vid2act_core.config import Config, preset
from vid2act_core.world_model import WorldModel
from vid2act_teachers.registry import TeacherInfo, TeacherRegistry

ACTION_DIM = 3


def tiny_config(seed: int = 0) -> Config:
    """The `tiny` preset as a teacher uses it (no reward head)."""
    config = preset("tiny")
    config.seed = seed
    config.world_model.use_reward_head = False
    return config


def tiny_world_model(seed: int = 0, action_dim: int = ACTION_DIM) -> tuple[WorldModel, Config]:
    """A freshly initialised tiny world model (seeded) and its config."""
    config = tiny_config(seed)
    torch.manual_seed(seed)
    return WorldModel(config.world_model, action_dim, config.env.image_size), config


def dataset_hash(label: str) -> str:
    """A stand-in dataset sha256."""
    return hashlib.sha256(label.encode()).hexdigest()


def add_teacher(registry: TeacherRegistry, name: str, seed: int = 0, **overrides: object) -> tuple[WorldModel, TeacherInfo]:
    """Add a tiny teacher named `name`; return the model that was saved and its info."""
    model, config = tiny_world_model(seed)
    arguments: dict[str, object] = dict(
        domain="dmc", task="walker_walk", train_steps=100 + seed, dataset_sha256=dataset_hash(name)
    )
    arguments.update(overrides)
    info = registry.add(name, model, config, **arguments)  # type: ignore[arg-type]
    return model, info


def tree_snapshot(directory: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `directory` (lock files excluded)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }
