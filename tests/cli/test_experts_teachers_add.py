"""`teachers add` on DMC uses the cached state expert by default and records its hash in the dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from experts_fakes import write_fake_expert

from vid2act_core.config import preset
from vid2act_envs.dataset import open_dataset
from vid2act_envs.mixed_collection import dataset_annotations
from typer.testing import CliRunner

from vid2act_cli.commands.app import app
from vid2act_cli.compose.reporter import PlainReporter
from vid2act_cli.compose.teacher_add import AddTeacherRequest, add_teacher


def _request(**changes: object) -> AddTeacherRequest:
    config = preset("tiny")
    config.env.episode_steps = 20
    config.pretrain.steps = 2
    values = dict(task="cartpole_balance", config=config, device="cpu", episodes=1, expert_steps=10)
    values.update(changes)
    return AddTeacherRequest(**values)  # type: ignore[arg-type]


def test_teachers_add_collects_with_the_cached_state_expert(capsys: pytest.CaptureFixture[str]) -> None:
    home = Path(os.environ["VID2ACT_HOME"])
    meta = write_fake_expert(home)
    info = add_teacher(_request(), PlainReporter())
    notes = capsys.readouterr().err
    assert "[1/4] expert: SAC from state (cached), 10 agent steps" in notes
    dataset = home / "datasets" / "cartpole_balance.h5"
    with open_dataset(dataset) as data:
        assert len(data) == 1 and data.attrs.collector == f"sac-expert:cartpole_balance:{meta.sha256[:12]}"
    assert dataset_annotations(dataset)["expert_sha256"] == meta.sha256
    assert info.name == "cartpole_balance"
    assert info.source_expert == {"sha256": meta.sha256, "algorithm": "sac", "agent_steps": 10, "eval_return": 1.0}
    listing = CliRunner(env={"COLUMNS": "220"}).invoke(app, ["teachers", "list"])
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if "cartpole_balance" in line)
    assert "dmc:cartpole_balance" in row and "│ 1.0 " in row


def test_teachers_add_rejects_an_unknown_expert_kind() -> None:
    with pytest.raises(ValueError, match="--expert must be one of state, dreamer"):
        add_teacher(_request(expert="pixels"), PlainReporter())
