"""A seeded pixel environment, a recording logger and a tiny online trainer, for the loop and resume tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.config import Config, preset
from vid2act_core.loop import OnlineTrainer
from vid2act_envs.replay import Replay

EPISODE_STEPS = 12
ACTION_DIM = 2


class SimulatedKill(RuntimeError):
    """Raised by `PointEnv` at a chosen step: the process 'dies' there, without any cleanup."""


class PointEnv:
    """A point moved by the actions; the image is seeded noise plus the point's position.

    Everything follows from the reset seed and the actions, so two runs that agree on both see the
    same frames. Records every reset seed and every action it is given.
    """

    def __init__(self, episode_steps: int = EPISODE_STEPS, action_dim: int = ACTION_DIM, kill_at_step: int | None = None) -> None:
        self.action_dim = action_dim
        self.episode_steps = episode_steps
        self.kill_at_step = kill_at_step
        self.reset_seeds: list[int | None] = []
        self.actions: list[list[np.ndarray]] = []
        self.total_steps = 0
        self._rng = np.random.default_rng(0)
        self._position = np.zeros(action_dim, np.float32)
        self._step = 0

    def _obs(self, reward: float, is_first: bool) -> dict[str, Any]:
        image = self._rng.integers(0, 64, (64, 64, 3), dtype=np.uint8)
        image[:, :, 0] += np.uint8(96 + 90 * np.tanh(self._position[0]))
        return {
            "image": image,
            "reward": np.float32(reward),
            "is_first": is_first,
            "is_last": self._step >= self.episode_steps,
            "is_terminal": False,
        }

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        self.reset_seeds.append(seed)
        self.actions.append([])
        self._rng = np.random.default_rng(seed)
        self._position = self._rng.uniform(-1, 1, self.action_dim).astype(np.float32)
        self._step = 0
        return self._obs(0.0, True)

    def step(self, action: np.ndarray) -> dict[str, Any]:
        if self.kill_at_step is not None and self.total_steps >= self.kill_at_step:
            raise SimulatedKill(f"killed at step {self.total_steps}")
        self.actions[-1].append(np.array(action, np.float32))
        self.total_steps += 1
        self._step += 1
        self._position = np.clip(self._position + 0.3 * np.asarray(action, np.float32), -2, 2)
        return self._obs(float(-np.abs(self._position).sum()), False)


class RecordingLogger:
    """The logger protocol, keeping every scalar record in memory."""

    def __init__(self) -> None:
        self.records: list[tuple[int, dict[str, float]]] = []
        self.videos: list[tuple[str, int]] = []

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.records.append((step, dict(values)))

    def video(self, name: str, frames: np.ndarray, step: int) -> None:
        self.videos.append((name, step))


def loop_config(steps: int = 96, seed: int = 0) -> Config:
    """The tiny preset on 12-step episodes: prefill 24, updates every 4 agent steps, checkpoints every 24."""
    config = preset("tiny")
    config.seed = seed
    train = config.train
    train.steps, train.prefill, train.train_every, train.pretrain_updates = steps, 24, 4, 2
    train.batch_size, train.batch_length = 3, 8
    train.checkpoint_every, train.log_every, train.eval_every, train.eval_episodes = 24, 24, 48, 1
    return config


def make_trainer(run_dir: Path, config: Config, kill_at_step: int | None = None) -> tuple[OnlineTrainer, PointEnv]:
    """A fresh process's view of `run_dir`: new env, agent, replay restored from disk, trainer (not yet resumed)."""
    torch.manual_seed(config.seed)
    env = PointEnv(kill_at_step=kill_at_step)
    agent = DreamerAgent(config, env.action_dim, "cpu")
    replay = Replay(run_dir / "episodes", capacity_steps=config.train.replay_capacity)
    trainer = OnlineTrainer(agent, config, env, PointEnv(), replay, RecordingLogger(), run_dir, action_repeat=1)
    return trainer, env
