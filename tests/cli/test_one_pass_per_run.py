"""One pass per run: a transfer (new or resumed) builds the target's environment once for training
and once for evaluation, never to learn the task's name, and reads the run's `config.yaml` once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vid2act_cli import api
from vid2act_cli.compose import runs
from vid2act_envs.tasks import DomainRegistry


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {"envs": [], "config_reads": []}
    make_env, load_run_config = DomainRegistry.make_env, runs.load_run_config

    def counting_make_env(self: DomainRegistry, name_or_spec: Any, *args: Any, **kwargs: Any) -> Any:
        calls["envs"].append((name_or_spec, kwargs.get("render", True)))
        return make_env(self, name_or_spec, *args, **kwargs)

    def counting_load(run_dir: Any) -> Any:
        calls["config_reads"].append(Path(run_dir))
        return load_run_config(run_dir)

    monkeypatch.setattr(DomainRegistry, "make_env", counting_make_env)
    monkeypatch.setattr(runs, "load_run_config", counting_load)
    return calls


def _transfer(logdir: Path, steps: int) -> api.TransferResult:
    return api.transfer(api.TransferRequest(target="cartpole_balance", preset="tiny", steps=steps, no_distill=True,
                                            device="cpu", logdir=logdir))


def test_a_transfer_builds_its_two_environments_and_reads_its_config_once_on_resume(
    tmp_path: Path, counted: dict[str, list[Any]]
) -> None:
    logdir = tmp_path / "run"
    _transfer(logdir, steps=60)
    assert len(counted["envs"]) == 2, counted["envs"]  # the training env and the evaluation env
    assert all(rendered for _, rendered in counted["envs"])
    assert counted["config_reads"] == []  # a new run has nothing saved to read
    counted["envs"].clear()
    result = _transfer(logdir, steps=120)  # resume with a larger budget
    assert result.env_steps >= 120
    assert len(counted["envs"]) == 2, counted["envs"]
    assert counted["config_reads"] == [logdir]


def test_train_reads_a_resumed_runs_config_once(tmp_path: Path, counted: dict[str, list[Any]]) -> None:
    logdir = tmp_path / "run"
    request = dict(task="cartpole_balance", preset="tiny", device="cpu", logdir=logdir)
    api.train(api.TrainRequest(steps=60, **request))
    api.train(api.TrainRequest(steps=120, **request))
    assert counted["config_reads"] == [logdir]
    assert len(counted["envs"]) == 4  # two runs of the command, each with a training and an evaluation env
