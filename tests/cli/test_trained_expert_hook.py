"""A plugin domain's `train_expert` hook (tests/trained_expert_plugin.py) is what `teachers add` and
`vid2act collect --policy expert` use for a task without a scripted expert."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import trained_expert_plugin
from vid2act_core.config import preset
from vid2act_envs.dataset import open_dataset
from vid2act_envs.mixed_collection import dataset_annotations
from vid2act_teachers import plugins
from vid2act_teachers.plugins import get_plugin_manager

from vid2act_cli.commands.app import app
from vid2act_cli.compose.reporter import PlainReporter
from vid2act_cli.compose.teacher_add import AddTeacherRequest, add_teacher

TASK = "pushfall:fall"


@pytest.fixture
def pushfall_plugin() -> Iterator[None]:
    """The `pushfall` plugin added to the process's plugin manager, as an installed plugin would be."""
    plugins.clear_plugin_manager_cache()
    assert get_plugin_manager().add_plugin(trained_expert_plugin, "pushfall")
    yield
    plugins.clear_plugin_manager_cache()


def _request() -> AddTeacherRequest:
    config = preset("tiny")
    config.train.batch_length = 16  # the ball lands after 8-12 steps
    config.pretrain.steps = 2
    return AddTeacherRequest(task=TASK, config=config, device="cpu", episodes=2, expert_steps=3)


def test_teachers_add_trains_the_domain_expert_and_collects_with_it(
    pushfall_plugin: None, capsys: pytest.CaptureFixture[str]
) -> None:
    home = Path(os.environ["VID2ACT_HOME"])
    add_teacher(_request(), PlainReporter())
    notes = capsys.readouterr().err
    cached = home / "experts" / "pushfall-fall.json"
    assert f"[1/4] expert: trying 3 constant pushes on {TASK} (kept in {cached})" in notes
    assert "[1/4] expert: constant push -1.00 (trained), best of 3, return" in notes
    dataset = home / "datasets" / "pushfall_fall.h5"
    with open_dataset(dataset) as data:
        assert len(data) == 2 and data.attrs.collector == "push-1.00"
        actions = np.concatenate([data.episode(index)["action"][1:] for index in range(2)])
    np.testing.assert_array_equal(actions, -1.0)
    assert dataset_annotations(dataset)["expert_push"] == -1.0
    # Asking again finds the expert cached; the dataset holds its episodes already.
    add_teacher(_request(), PlainReporter())
    again = capsys.readouterr().err
    assert "[1/4] expert: constant push -1.00 (cached)" in again and "trying" not in again
    assert f"[2/4] dataset: {dataset} already holds 2 episodes" in again


def test_collect_policy_expert_rolls_out_the_hook_expert_only_once_cached(pushfall_plugin: None, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "fall.h5"
    refused = runner.invoke(app, ["collect", TASK, "--episodes", "1", "--out", str(out)])
    assert refused.exit_code != 0 and len(refused.output.strip().splitlines()) == 1
    assert f"{TASK} has no scripted expert: no trained {TASK} expert" in refused.output and "--policy random" in refused.output
    assert not out.exists()
    home = Path(os.environ["VID2ACT_HOME"])
    trained_expert_plugin.cache_file(home / "experts", trained_expert_plugin.PUSHFALL_SPEC).parent.mkdir(parents=True)
    trained_expert_plugin.cache_file(home / "experts", trained_expert_plugin.PUSHFALL_SPEC).write_text(
        '{"push": 0.5, "return": 8.0, "candidates": 2}')
    collected = runner.invoke(app, ["collect", TASK, "--episodes", "2", "--out", str(out)])
    assert collected.exit_code == 0, collected.output
    with open_dataset(out) as data:
        assert len(data) == 2 and data.attrs.collector == "push+0.50"
        np.testing.assert_array_equal(data.episode(1)["action"][1:], 0.5)
    assert dataset_annotations(out)["expert_push"] == 0.5
