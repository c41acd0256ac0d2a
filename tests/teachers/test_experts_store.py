"""Cached experts: corrupt files are reported in one line naming the file; list shows returns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from experts_fakes import write_fake_expert
from typer.testing import CliRunner

from vid2act_cli.app import app
from vid2act_teachers.experts import ExpertError, expert_dir, list_experts, load_expert, train_expert
from vid2act_teachers.experts.store import METADATA_FILE, POLICY_FILE


def _home() -> Path:
    import os

    return Path(os.environ["VID2ACT_HOME"])


def test_fake_expert_round_trips() -> None:
    meta = write_fake_expert(_home())
    policy, loaded = load_expert(expert_dir(_home(), "cartpole_balance"))
    assert loaded == meta and len(meta.sha256) == 64 and meta.sha256[:12] in policy.name
    action = policy({"state": [0.0] * 5})
    assert action.shape == (1,) and -1.0 <= float(action[0]) <= 1.0
    with pytest.raises(ValueError, match="state of size 5"):
        policy.act([0.0] * 4)


def test_corrupt_weights_are_one_line_errors_naming_the_file() -> None:
    write_fake_expert(_home())
    weights = expert_dir(_home(), "cartpole_balance") / POLICY_FILE
    weights.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ExpertError) as caught:
        load_expert(weights.parent)
    assert str(weights) in str(caught.value) and "\n" not in str(caught.value)
    # A second `train` call must not silently retrain over (or reuse) a corrupt expert.
    with pytest.raises(ExpertError, match="policy.safetensors"):
        train_expert("cartpole_balance", _home(), steps=10)
    result = CliRunner().invoke(app, ["experts", "evaluate", "cartpole_balance", "--episodes", "1"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and str(weights) in lines[0]


def test_corrupt_metadata_is_reported_by_load_and_list() -> None:
    write_fake_expert(_home())
    metadata = expert_dir(_home(), "cartpole_balance") / METADATA_FILE
    metadata.write_text("{not json")
    with pytest.raises(ExpertError, match="expert.json: unreadable"):
        load_expert(metadata.parent)
    metadata.write_text(json.dumps({"task": "cartpole_balance"}))
    with pytest.raises(ExpertError, match="missing field"):
        load_expert(metadata.parent)
    [(directory, meta, problem)] = list_experts(_home())
    assert directory == metadata.parent and meta is None and str(metadata) in problem


def test_experts_list_shows_the_evaluation_return() -> None:
    write_fake_expert(_home())
    (_home() / "experts" / "walker_walk-0").mkdir(parents=True)  # a pixel DreamerV2 expert run: skipped
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["experts", "list"])
    assert result.exit_code == 0, result.output
    assert "cartpole_balance" in result.output and "1.0 ± 0.0" in result.output
    assert "walker_walk-0" not in result.output


def test_experts_list_fits_80_columns_unwrapped() -> None:
    write_fake_expert(_home())
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["experts", "list"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    row = next(line for line in result.output.splitlines() if "cartpole_balance" in line)
    assert "1.0 ± 0.0" in row and "sac" in row
