"""Resume pins teachers by content: a resumed transfer run refuses a teacher whose weights changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vid2act_cli.compose.transfer as transfer_module
from registry_fakes import add_teacher
from vid2act_cli.compose.runs import load_run_config, save_run_config
from vid2act_cli.compose.transfer import PINS_KEY, check_teacher_pins
from vid2act_cli.compose.transfer import TransferPlan, run_transfer
from vid2act_core.config import preset
from vid2act_core.loop import LoopState
from vid2act_teachers.registry import TeacherRegistry
from vid2act_teachers.teacher_replay_set import weights_digest


def _record_start(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replace the training by what it does first (save the run's config and run section)."""
    started: list[dict] = []

    def fake_run_online(config, run_dir, device, method, agent_factory=None, reporter=None, run_info=None, explicit=None,
                        saved_run=None, spec=None):
        save_run_config(Path(run_dir), config, {"method": method, **(run_info or {})})
        started.append(dict(run_info or {}))
        return LoopState(), None

    monkeypatch.setattr(transfer_module, "run_online", fake_run_online)
    return started


def test_resume_with_a_changed_teacher_is_refused_naming_it_and_both_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = TeacherRegistry()
    _, first = add_teacher(registry, "t0", seed=0)
    add_teacher(registry, "t1", seed=1)
    started = _record_start(monkeypatch)
    plan = TransferPlan(method="vid2act", teacher_names=["t0", "t1"])
    run_dir = tmp_path / "run"
    run_transfer(preset("tiny"), plan, run_dir, torch.device("cpu"))
    _, info = load_run_config(run_dir)
    first_pin = weights_digest(registry.load("t0")[0].state_dict())
    assert info[PINS_KEY] == {"t0": first_pin, "t1": weights_digest(registry.load("t1")[0].state_dict())}

    run_transfer(preset("tiny"), plan, run_dir, torch.device("cpu"))  # unchanged teachers: resumes
    assert len(started) == 2

    _, changed = add_teacher(registry, "t0", seed=5, overwrite=True)
    assert changed.weights_sha256 != first.weights_sha256
    changed_pin = weights_digest(registry.load("t0")[0].state_dict())
    with pytest.raises(ValueError) as refused:
        run_transfer(preset("tiny"), plan, run_dir, torch.device("cpu"))
    message = str(refused.value)
    assert "\n" not in message and "teacher 't0'" in message
    assert first_pin in message and changed_pin in message
    assert len(started) == 2  # refused before training


def test_init_from_teacher_is_pinned_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = TeacherRegistry()
    add_teacher(registry, "base", seed=0)
    _record_start(monkeypatch)
    plan = TransferPlan(method="init", init_from="base")
    run_transfer(preset("tiny"), plan, tmp_path / "run", torch.device("cpu"))
    add_teacher(registry, "base", seed=3, overwrite=True)
    with pytest.raises(ValueError, match="teacher 'base' changed since this run started"):
        run_transfer(preset("tiny"), plan, tmp_path / "run", torch.device("cpu"))


def test_runs_without_recorded_pins_and_unchanged_teachers_pass() -> None:
    check_teacher_pins(Path("run"), None, {"t0": "a" * 64})
    check_teacher_pins(Path("run"), {"t0": "a" * 64}, {"t0": "a" * 64, "t1": "b" * 64})
    with pytest.raises(ValueError, match=f"tensor sha256 {'a' * 64} then, {'c' * 64} now"):
        check_teacher_pins(Path("run"), {"t0": "a" * 64}, {"t0": "c" * 64})


def test_the_same_weights_written_again_keep_their_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-importing a teacher rewrites its file (safetensors orders the header anew, so its file sha256
    changes); the weights are the same and the run resumes."""
    registry = TeacherRegistry()
    add_teacher(registry, "t0", seed=0)
    started = _record_start(monkeypatch)
    plan = TransferPlan(method="vid2act", teacher_names=["t0"])
    run_transfer(preset("tiny"), plan, tmp_path / "run", torch.device("cpu"))
    exported = registry.export("t0", tmp_path / "t0.safetensors")
    before = registry.info("t0").weights_sha256
    for _ in range(3):  # the header order is random per write: one rewrite may keep the file hash
        registry.import_file(exported, "t0", overwrite=True)
        if registry.info("t0").weights_sha256 != before:
            break
    assert registry.info("t0").weights_sha256 != before
    run_transfer(preset("tiny"), plan, tmp_path / "run", torch.device("cpu"))
    assert len(started) == 2
