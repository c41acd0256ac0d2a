"""APV's action-free model through the teacher pretraining machinery: kind action-free, never a teacher."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pretrain_helpers import write_synthetic_dataset
from registry_fakes import add_teacher
from vid2act_cli.compose.pretraining import pretrain_teacher
from vid2act_cli.compose.pretrain_data import load_video_data
from vid2act_cli.compose.transfer import build_agent_factory, plan_transfer
from vid2act_core.baselines.apv import APVAgent
from vid2act_core.config import load_config
from vid2act_teachers.registry import TeacherError, TeacherRegistry

torch.set_num_threads(1)


def _config(steps: int = 2):
    config = load_config("tiny")
    config.pretrain.steps = steps
    config.apv.window = 3
    config.transfer.guidance = False
    return config


def test_videos_lose_their_actions(tmp_path: Path) -> None:
    data = load_video_data([write_synthetic_dataset(tmp_path / "a.h5")], batch_length=10)
    assert data.kind == "action-free" and data.action_dim == 1
    assert all(episode["action"].shape[1] == 1 and not episode["action"].any() for episode in data.train_episodes)


def test_action_free_pretraining_registers_a_model_only_apv_accepts(tmp_path: Path) -> None:
    info = pretrain_teacher([write_synthetic_dataset(tmp_path / "a.h5")], "videos", _config(), tmp_path / "run",
                            torch.device("cpu"), action_free=True)
    assert (info.kind, info.domain, info.replay_set) == ("action-free", "videos", None)
    registry = TeacherRegistry()
    model, stored_config, _ = registry.load("videos")
    assert stored_config.world_model.action_free and not any("img_in_action" in key for key in model.state_dict())
    add_teacher(registry, "walker", seed=0)
    everything = plan_transfer(_config(), "all", None).teacher_names
    assert "walker" in everything and "videos" not in everything
    with pytest.raises(TeacherError, match="action-free model .*use it with --method apv --init-from videos, not --teachers"):
        plan_transfer(_config(), "walker,videos", None)
    with pytest.raises(ValueError, match="is a task model, not an action-free one"):
        plan_transfer(_config(), None, "walker", method="apv")
    plan = plan_transfer(_config(), None, "videos", method="apv")
    agent = build_agent_factory(plan)(_config(), 3, torch.device("cpu"))
    assert isinstance(agent, APVAgent) and agent.loaded_modules[:2] == ["encoder", "action-free rssm"]
    assert torch.equal(agent.world_model.rssm.action_free.cell.linear.weight, model.rssm.cell.linear.weight)
