"""Resuming a run refuses options that contradict it (task, method, teachers, preset, --set keys) and
keeps taking the ones that may change (steps, device, threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vid2act_cli.commands.app import app
from vid2act_cli.compose.runs import check_resume, load_run_config, read_saved_run, requested_keys, save_run_config
from vid2act_cli.compose.training import RESUMABLE_CHANGES
from vid2act_core.config import preset


def _saved_run(run_dir: Path, task: str = "dmc:cartpole_balance", method: str = "dreamer", **info: Any) -> bytes:
    config = preset("tiny")
    config.env.task = task
    save_run_config(run_dir, config, {"task": task, "method": method, **info})
    return (run_dir / "config.yaml").read_bytes()


def _train(run_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["train", "--device", "cpu", "--no-progress", "--logdir", str(run_dir), *args])


def test_train_on_a_run_of_another_task_is_refused_naming_both(tmp_path: Path) -> None:
    run_dir = tmp_path / "cartpole"
    before = _saved_run(run_dir)
    result = _train(run_dir, "--task", "walker_walk", "--preset", "tiny")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {run_dir} was started with task dmc:cartpole_balance, not dmc:walker_walk (--task); "
        "to resume it, run it with its own task; to start a new run, give another --logdir"
    ]
    assert (run_dir / "config.yaml").read_bytes() == before and not (run_dir / "episodes").exists()


@pytest.mark.parametrize(
    ("args", "key", "values"),
    [
        (["--preset", "small"], "preset", "tiny, not small (--preset)"),
        (["--preset", "tiny", "--set", "world_model.deter=64"], "world_model.deter", "32, not 64 (--set)"),
    ],
)
def test_train_with_a_contradicting_option_is_refused(tmp_path: Path, args: list[str], key: str, values: str) -> None:
    run_dir = tmp_path / "run"
    before = _saved_run(run_dir)
    result = _train(run_dir, "--task", "cartpole_balance", *args)
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {run_dir} was started with {key} {values};")
    assert (run_dir / "config.yaml").read_bytes() == before


def test_train_on_a_transfer_run_is_refused_naming_the_methods(tmp_path: Path) -> None:
    run_dir = tmp_path / "transfer"
    _saved_run(run_dir, method="vid2act", teachers=["walker"])
    result = _train(run_dir, "--task", "cartpole_balance", "--preset", "tiny")
    assert result.exit_code == 2
    assert f"{run_dir} was started with method vid2act, not dreamer (the command and its method switches)" in result.output


def test_steps_device_threads_and_an_auto_preset_may_change_on_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _saved_run(run_dir)
    saved, _ = load_run_config(run_dir)
    asked = preset("small")  # what `--preset auto` may resolve to on another machine: not given, not checked
    asked.env.task = saved.env.task
    asked.train.steps, asked.train.threads = 10**6, 3
    info = {"task": saved.env.task, "method": "dreamer"}
    explicit = {"task": "--task", **requested_keys(None, None, ["train.steps=1000000", "train.threads=3"])}
    check_resume(read_saved_run(run_dir), asked, info, explicit, RESUMABLE_CHANGES)
    with pytest.raises(ValueError, match="train.steps 200, not 1000000"):
        check_resume(read_saved_run(run_dir), asked, info, explicit)  # only because steps and threads are declared resumable


def test_requested_keys_come_from_preset_config_file_and_set(tmp_path: Path) -> None:
    file = tmp_path / "over.yaml"
    file.write_text("world_model:\n  deter: 64\ntrain:\n  batch_size: 2\n")
    assert requested_keys("tiny", file, ["transfer.alpha=0.5"]) == {
        "preset": "--preset", "world_model.deter": f"--config {file}", "train.batch_size": f"--config {file}",
        "transfer.alpha": "--set",
    }
    assert requested_keys(None, None, []) == {}


def test_transfer_without_teachers_resumes_with_the_runs_own_teachers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A teacher registered since the run started is not added to it: its replay holds the old teachers' states."""
    import vid2act_cli.compose.transfer as transfer
    from test_transfer_teacher_choice import _target, _with_set
    from vid2act_teachers.registry import TeacherRegistry

    monkeypatch.setenv("VID2ACT_PLUGINS", "")
    registry = TeacherRegistry()
    _with_set(registry, "walker", seed=0)
    _with_set(registry, "cheetah", seed=1, task="cheetah_run")
    run_dir = tmp_path / "run"
    _saved_run(run_dir, method="vid2act", teachers=["walker"])
    planned: list[Any] = []
    monkeypatch.setattr(transfer, "run_transfer", lambda config, plan, *rest: planned.append(plan) or (None, None, {}))

    class Said:
        lines: list[str] = []

        def echo(self, message: str) -> None:
            self.lines.append(message)

        say = echo

    request = transfer.TransferRequest(None, None, [], "cpu", run_dir, tmp_path, None, {"task": "--target"})
    transfer.transfer_to_target(_target(), request, Said())  # type: ignore[arg-type]
    assert planned[0].teacher_names == ["walker"]
    assert "note: resuming with the run's own teachers: walker" in Said.lines
