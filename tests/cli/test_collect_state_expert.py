"""`vid2act collect TASK --policy expert` on DeepMind Control uses the cached state expert (or says how to get one)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from experts_fakes import write_fake_expert
from vid2act_cli.commands.app import app


def test_collect_expert_rolls_out_the_cached_state_expert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("VID2ACT_HOME", str(home))
    meta = write_fake_expert(home)
    out = tmp_path / "cb.h5"
    result = CliRunner().invoke(app, ["collect", "cartpole_balance", "--episodes", "2", "--episode-steps", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as file:
        assert file.attrs["collection.expert_sha256"] == meta.sha256
        assert str(file.attrs["collector"]).startswith("sac-expert:cartpole_balance:")
        assert int(file.attrs["num_episodes"]) == 2


def test_collect_expert_without_a_cached_expert_names_the_training_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VID2ACT_HOME", str(tmp_path / "home"))
    out = tmp_path / "cb.h5"
    result = CliRunner().invoke(app, ["collect", "cartpole_balance", "--episodes", "1", "--out", str(out)])
    assert result.exit_code != 0
    assert "vid2act experts train cartpole_balance" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()
