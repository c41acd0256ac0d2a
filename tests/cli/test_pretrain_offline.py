"""Offline teacher pretraining (Eq. 2): learning on real frames, resume, NaN guard, input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pretrain_helpers import open_loop_errors, read_metrics, write_synthetic_dataset
from vid2act_cli.app import app
from vid2act_cli.compose.pretraining import pretrain_teacher
from vid2act_core.agent import NonFiniteLossError
from vid2act_core.runtime.checkpoint import load_checkpoint
from vid2act_core.config import load_config
from vid2act_core.pretrain import CHECKPOINT_NAME, TeacherPretrainer
from vid2act_envs.collect import collect_dataset
from vid2act_teachers.plugins import domain_registry
from vid2act_teachers.registry import TeacherRegistry


@pytest.fixture(scope="module")
def real_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 60-step expert episodes of Meta-World button-press-topdown (two to train, one held out)."""
    path = tmp_path_factory.mktemp("data") / "bpt.h5"
    collect_dataset(domain_registry(), "metaworld:button-press-topdown", 3, out=path, seed=0, episode_steps=60)
    return path


def tiny_config(steps: int):
    config = load_config("tiny")
    config.pretrain.steps = steps
    return config


def test_pretraining_on_real_frames_lowers_the_open_loop_error(real_dataset: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    info = pretrain_teacher([real_dataset], "bpt", tiny_config(60), run_dir, torch.device("cpu"))
    errors = open_loop_errors(run_dir)
    assert errors[0][0] == 0 and errors[-1][0] == 60
    untrained, trained = errors[0][1], errors[-1][1]
    assert trained < 0.75 * untrained, f"open-loop error {untrained:.5f} -> {trained:.5f}"
    assert any("losses/image_loss" in record and "losses/kl" in record for record in read_metrics(run_dir))
    assert not any("losses/reward_loss" in record for record in read_metrics(run_dir))
    assert list((run_dir / "videos").glob("eval_open_loop_*.gif"))
    assert list(run_dir.glob("events.out.tfevents.*"))

    assert info.name == "bpt" and info.qualified_task == "metaworld:button-press-topdown" and info.train_steps == 60
    world_model, config, _ = TeacherRegistry().load("bpt")
    assert world_model.reward_head is None and world_model.cont_head is None
    assert config.world_model.use_reward_head is False
    assert "bpt" in TeacherRegistry().names()


def test_a_second_call_resumes_from_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_synthetic_dataset(tmp_path / "squares.h5")
    run_dir = tmp_path / "run"
    first = pretrain_teacher([data], "squares", tiny_config(10), run_dir, torch.device("cpu"))
    assert first.train_steps == 10
    assert load_checkpoint(run_dir / CHECKPOINT_NAME, required_key="world_model")["step"] == 10
    capsys.readouterr()

    second = pretrain_teacher([data], "squares", tiny_config(20), run_dir, torch.device("cpu"))
    assert "resumed" in capsys.readouterr().err
    assert second.train_steps == 20
    assert load_checkpoint(run_dir / CHECKPOINT_NAME, required_key="world_model")["step"] == 20
    # The untrained model was evaluated once, in the first call; the second continued at step 10.
    assert [step for step, _ in open_loop_errors(run_dir)].count(0) == 1
    loss_steps = [record["step"] for record in read_metrics(run_dir) if "losses/model_loss" in record]
    assert loss_steps == [10, 20]


def test_non_finite_loss_stops_before_the_update(tmp_path: Path) -> None:
    class NanActions:
        def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
            return {
                "image": np.zeros((batch_size, length, 64, 64, 3), np.uint8),
                "action": np.full((batch_size, length, 4), np.nan, np.float32),
                "is_first": np.zeros((batch_size, length), bool),
            }

    trainer = TeacherPretrainer(tiny_config(5), 4, NanActions(), tmp_path, distributed=None)
    before = [parameter.detach().clone() for parameter in trainer.world_model.parameters()]
    with pytest.raises(NonFiniteLossError, match="pretraining step 0"):
        trainer.train_step()
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.world_model.parameters()))
    assert not (tmp_path / CHECKPOINT_NAME).exists()


runner = CliRunner()


def test_data_files_of_different_tasks_are_refused_naming_the_file(tmp_path: Path) -> None:
    first = write_synthetic_dataset(tmp_path / "a.h5", task="button-press-topdown")
    second = write_synthetic_dataset(tmp_path / "b.h5", task="door-open")
    result = runner.invoke(app, ["pretrain", "--data", str(first), "--data", str(second), "--name", "mixed",
                                 "--preset", "tiny", "--steps", "2", "--device", "cpu", "--logdir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert f"error: {second}: holds task metaworld:door-open" in result.output
    assert "one source task" in result.output
    assert "mixed" not in TeacherRegistry().names()


def test_missing_data_file_is_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.h5"
    result = runner.invoke(app, ["pretrain", "--data", str(missing), "--name", "x", "--preset", "tiny",
                                 "--device", "cpu", "--logdir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {missing}: file not found"


def test_datasets_with_fewer_steps_than_one_window_are_refused(tmp_path: Path) -> None:
    # Episodes shorter than the window are fine (tests/cli/test_short_episodes_pipeline.py); 2 x 4 steps
    # cannot fill one window of train.batch_length=10.
    short = write_synthetic_dataset(tmp_path / "short.h5", steps=4)
    result = runner.invoke(app, ["pretrain", "--data", str(short), "--name", "short", "--preset", "tiny",
                                 "--device", "cpu", "--logdir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "hold 8 steps in total" in result.output
    assert "train.batch_length=10" in result.output and str(short) in result.output


def test_teachers_add_unknown_task(tmp_path: Path) -> None:
    result = runner.invoke(app, ["teachers", "add", "metaworld:door-opne", "--preset", "tiny", "--device", "cpu"])
    assert result.exit_code == 2
    assert "error: unknown task 'metaworld:door-opne'" in result.output and "door-open" in result.output
