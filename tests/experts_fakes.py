"""A small state expert written straight to a VID2ACT_HOME (no training) for store/rollout tests."""

from __future__ import annotations

from pathlib import Path

import torch

from vid2act_teachers.experts.config import ExpertConfig
from vid2act_teachers.experts.policy import StateActor
from vid2act_teachers.experts.store import ExpertMetadata, expert_dir, write_expert

CARTPOLE_STATE_DIM = 5
CARTPOLE_ACTION_DIM = 1


def write_fake_expert(home: Path, task: str = "cartpole_balance", seed: int = 0) -> ExpertMetadata:
    """An untrained 16x16 actor for cartpole_balance stored as a finished expert."""
    torch.manual_seed(seed)
    config = ExpertConfig(hidden_sizes=(16, 16))
    actor = StateActor(CARTPOLE_STATE_DIM, CARTPOLE_ACTION_DIM, config.hidden_sizes)
    weights = {key: value.detach().contiguous() for key, value in actor.state_dict().items()}
    metadata = ExpertMetadata(
        task=task, seed=seed, algorithm="sac", agent_steps=10, env_steps=20, state_dim=CARTPOLE_STATE_DIM,
        action_dim=CARTPOLE_ACTION_DIM, config=config.to_dict(), eval_mean=1.0, eval_std=0.0, eval_returns=[1.0],
        train_seconds=0.0, versions={}, sha256="", created="2026-01-01T00:00:00+00:00",
    )
    return write_expert(expert_dir(home, task, seed), weights, metadata)
