"""`vid2act transfer` without --teachers: every registered teacher that can serve the target, the rest named."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from registry_fakes import add_teacher, tiny_config, tiny_world_model
from vid2act_cli.compose.replay_sets import build_replay_set
from vid2act_cli.compose.teacher_choice import choose_teachers
from vid2act_cli.compose.transfer import plan_transfer
from vid2act_core.config import preset
from vid2act_core.world_model import WorldModel
from vid2act_teachers.registry import TeacherRegistry


def _episodes(action_dim: int = 3) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    steps = 12
    return [{
        "image": rng.integers(0, 255, (steps, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (steps, action_dim)).astype(np.float32),
        "reward": np.zeros(steps, np.float32),
        "is_first": np.arange(steps) == 0, "is_last": np.arange(steps) == steps - 1, "is_terminal": np.zeros(steps, bool),
    }]


def _with_set(registry: TeacherRegistry, name: str, seed: int, **overrides: Any) -> None:
    model, info = add_teacher(registry, name, seed=seed, **overrides)
    replay_set = build_replay_set(name, model, _episodes(), dataset_sha256=info.dataset_sha256, budget_mb=1)
    registry.attach_replay_set(name, replay_set)


def _target() -> Any:
    config = preset("tiny")
    config.env.task = "dmc:cartpole_balance"
    return config


@pytest.fixture()
def registry(monkeypatch: pytest.MonkeyPatch) -> TeacherRegistry:
    """A registry without plugin teachers: walker and cheetah can serve; noset has no action-replay
    set; wide has another architecture; mt is a multitask model."""
    monkeypatch.setenv("VID2ACT_PLUGINS", "")  # no external plugins: only these teachers
    registry = TeacherRegistry()
    _with_set(registry, "walker", seed=0)
    _with_set(registry, "cheetah", seed=1, task="cheetah_run")
    add_teacher(registry, "noset", seed=2)
    wide_config = tiny_config()
    wide_config.world_model.deter *= 2
    wide_model = WorldModel(wide_config.world_model, 3, wide_config.env.image_size)
    info = registry.add("wide", wide_model, wide_config, domain="dmc", task="hopper_hop", train_steps=1, dataset_sha256="b" * 64)
    registry.attach_replay_set("wide", build_replay_set("wide", wide_model, _episodes(), dataset_sha256=info.dataset_sha256, budget_mb=1))
    model, config = tiny_world_model(4)
    registry.add("mt", model, config, domain="multitask", task="walker_walk+cheetah_run", train_steps=1,
                 dataset_sha256="c" * 64, kind="multitask")
    return registry


def test_without_teachers_every_teacher_that_can_serve_is_used_and_the_others_are_named(registry: TeacherRegistry) -> None:
    for teachers in (None, "all"):
        plan = plan_transfer(_target(), teachers, None)
        assert plan.teacher_names == ["cheetah", "walker"]
        assert sorted(plan.replay_sets) == ["cheetah", "walker"]
        notes = "\n".join(plan.notes)
        assert "note: left out teacher 'noset' has no action-replay set" in notes
        assert "note: left out teacher 'wide' has another architecture than the student (deter: wide 64 vs student 32)" in notes
        assert "'mt'" not in notes  # a multitask model is never a teacher, so it is not "left out"
        assert plan.notes[-1].startswith("teachers: cheetah, walker (every registered teacher that can serve dmc:cartpole_balance")
        assert all("\n" not in note for note in plan.notes)


def test_without_guidance_a_teacher_without_a_set_serves(registry: TeacherRegistry) -> None:
    config = _target()
    config.transfer.guidance = False
    assert plan_transfer(config, None, None).teacher_names == ["cheetah", "noset", "walker"]


def test_named_teachers_that_cannot_serve_are_refused(registry: TeacherRegistry) -> None:
    with pytest.raises(ValueError, match="teacher 'noset' has no action-replay set"):
        plan_transfer(_target(), "walker,noset", None)
    with pytest.raises(ValueError, match=r"--teachers: teacher 'wide' has another architecture than 'walker' \(deter: wide 64 vs walker 32\)"):
        plan_transfer(_target(), "walker,wide", None)
    with pytest.raises(ValueError, match="teacher 'mt'.*multitask"):
        plan_transfer(_target(), "mt", None)
    assert plan_transfer(_target(), "wide", None).teacher_names == ["wide"]  # alone it may differ from the student


class OtherImageSize:
    """The registry, with one teacher's header saying it was trained on 32x32 images."""

    def __init__(self, registry: TeacherRegistry, name: str) -> None:
        self._registry, self._name = registry, name

    def info(self, name: str) -> Any:
        info = self._registry.info(name)
        return dataclasses.replace(info, image_size=32) if name == self._name else info

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._registry, attribute)


def test_a_teacher_of_another_image_size_is_left_out(registry: TeacherRegistry, tmp_path: Path) -> None:
    choice = choose_teachers(OtherImageSize(registry, "walker"), _target(), {}, tmp_path)
    assert choice.names == ["cheetah"]
    assert "note: left out teacher 'walker' was trained on 32x32 images, the target uses 64x64" in choice.notes


def test_teachers_of_one_other_architecture_all_serve_a_student_of_another(registry: TeacherRegistry, tmp_path: Path) -> None:
    config = _target()
    config.world_model.deter *= 4  # no teacher has the student's architecture: the one most share is taken
    choice = choose_teachers(registry, config, {}, tmp_path)
    assert choice.names == ["cheetah", "walker"]
    assert any("teacher 'wide' has another architecture than teacher 'cheetah'" in note for note in choice.notes)


def test_an_empty_registry_is_one_line_naming_teachers_add(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VID2ACT_PLUGINS", "")
    with pytest.raises(ValueError) as refused:
        plan_transfer(_target(), None, None)
    assert "\n" not in str(refused.value) and "`vid2act teachers add TASK`" in str(refused.value)


def test_none_that_can_serve_is_one_line_with_each_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VID2ACT_PLUGINS", "")
    add_teacher(TeacherRegistry(), "noset")
    with pytest.raises(ValueError) as refused:
        plan_transfer(_target(), None, None)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("no registered teacher can serve dmc:cartpole_balance: teacher 'noset'")
    assert "`vid2act teachers add TASK`" in message
