"""The pretrained-DreamerV2 baseline: several tasks (and action sizes) pretrained into one model of kind multitask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pretrain_helpers import write_synthetic_dataset
from registry_fakes import add_teacher
from vid2act_cli.app import app
from vid2act_cli.compose.pretrain_data import load_multitask_data
from vid2act_cli.compose.pretraining import pretrain_teacher
from vid2act_cli.compose.transfer import apply_init_architecture, build_agent_factory, plan_transfer
from vid2act_core.config import load_config
from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter, open_dataset
from vid2act_teachers.registry import TeacherError, TeacherRegistry


def _two_action_dataset(path: Path, task: str = "reach", steps: int = 24) -> Path:
    """A valid dataset of another task with 2 action dimensions (the synthetic one has 4)."""
    rng = np.random.default_rng(1)
    attrs = DatasetAttrs(domain="metaworld", task=task, action_repeat=1, camera="corner", collector="expert",
                         image_size=(64, 64), action_dim=2)
    with EpisodeWriter(path, attrs) as writer:
        for _ in range(2):
            actions = rng.uniform(-1, 1, (steps, 2)).astype(np.float32)
            actions[0] = 0.0
            is_first = np.zeros(steps, bool)
            is_first[0] = True
            images = rng.integers(0, 255, (steps, 64, 64, 3), dtype=np.uint8)
            writer.write_episode({"image": images, "action": actions, "is_first": is_first})
    return path


@pytest.fixture()
def two_tasks(tmp_path: Path) -> list[Path]:
    return [write_synthetic_dataset(tmp_path / "bpt.h5"), _two_action_dataset(tmp_path / "reach.h5")]


def _config(steps: int = 2):
    config = load_config("tiny")
    config.pretrain.steps = steps
    config.transfer.guidance = False
    return config


def test_datasets_of_two_tasks_pool_with_actions_padded_to_the_largest(two_tasks: list[Path]) -> None:
    data = load_multitask_data(two_tasks, batch_length=10)
    assert data.kind == "multitask" and data.action_dim == 4
    assert data.task == "metaworld:button-press-topdown+metaworld:reach"
    episodes = data.train_episodes + data.eval_episodes
    assert len(episodes) == 4 and all(episode["action"].shape[1] == 4 for episode in episodes)
    with open_dataset(two_tasks[1]) as dataset:
        original = [episode["action"] for episode in dataset]
    reach = episodes[2:]
    for episode, actions in zip(reach, original):
        assert np.array_equal(episode["action"][:, :2], actions) and not episode["action"][:, 2:].any()
    with pytest.raises(ValueError, match="needs two tasks or more"):
        load_multitask_data(two_tasks[:1], batch_length=10)


def test_multitask_pretrain_registers_one_model_never_taken_for_a_teacher(two_tasks: list[Path], tmp_path: Path) -> None:
    info = pretrain_teacher(two_tasks, "mt", _config(), tmp_path / "run", torch.device("cpu"), multitask=True)
    assert (info.kind, info.action_dim, info.domain, info.train_steps) == ("multitask", 4, "multitask", 2)
    assert info.replay_set is None
    registry = TeacherRegistry()
    assert registry.info("mt").kind == "multitask"
    add_teacher(registry, "walker", seed=0)
    assert registry.info("walker").kind == "task"

    # --teachers all skips it; naming it as a teacher is refused in one line.
    everything = plan_transfer(_config(), "all", None).teacher_names
    assert "walker" in everything and "mt" not in everything and set(everything) < set(registry.names())
    with pytest.raises(TeacherError) as refused:
        plan_transfer(_config(), "walker,mt", None)
    assert "\n" not in str(refused.value) and "teacher 'mt'" in str(refused.value) and "multitask" in str(refused.value)

    # --init-from accepts it: a 3-action student takes its weights (3 of its 4 action columns).
    config = _config()
    plan = plan_transfer(config, None, "mt")
    apply_init_architecture(config, "mt")
    student = build_agent_factory(plan)(config, 3, torch.device("cpu"))
    teacher, _, _ = registry.load("mt")
    assert torch.equal(student.world_model.encoder.net[0].weight, teacher.encoder.net[0].weight)
    assert torch.equal(student.world_model.rssm.img_in_action.weight, teacher.rssm.img_in_action.weight[:, :3])

    listing = CliRunner().invoke(app, ["teachers", "list"], env={"COLUMNS": "250"})
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if " mt " in line)
    assert "multitask" in row
    assert "task" in next(line for line in listing.output.splitlines() if " walker " in line)


def test_without_multitask_two_tasks_stay_refused(two_tasks: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a teacher is trained on one source task"):
        pretrain_teacher(two_tasks, "mixed", _config(), tmp_path / "run", torch.device("cpu"))


def test_pooled_loaders_refuse_other_frames_repeats_and_short_pools_in_one_line(two_tasks: list[Path], tmp_path: Path) -> None:
    from vid2act_cli.compose.pretrain_data import load_video_data

    other = tmp_path / "other.h5"
    attrs = DatasetAttrs(domain="dmc", task="walker_walk", action_repeat=2, camera=0, collector="expert",
                         image_size=(64, 64), action_dim=6)
    with EpisodeWriter(other, attrs) as writer:
        is_first = np.zeros(12, bool)
        is_first[0] = True
        writer.write_episode({"image": np.zeros((12, 64, 64, 3), np.uint8), "action": np.zeros((12, 6), np.float32),
                              "is_first": is_first})
    for loader, model in ((load_multitask_data, "a multitask model"), (load_video_data, "an action-free model")):
        with pytest.raises(ValueError) as refused:
            loader([two_tasks[0], other], batch_length=10)
        message = str(refused.value)
        assert "\n" not in message and message.startswith(f"{other}: action_repeat 2 differs from {two_tasks[0]}'s 1")
        assert message.endswith(f"{model} is pretrained on one kind of frames")
        with pytest.raises(ValueError, match="the same file is given more than once"):
            loader([two_tasks[0], two_tasks[0]], batch_length=10)
        with pytest.raises(ValueError, match=r"96 steps in all, fewer than one window of train\.batch_length=100"):
            loader(two_tasks, batch_length=100)
