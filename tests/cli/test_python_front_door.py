"""The Python front door (`vid2act_cli.api`): runs, errors, and the commands that go through it."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

import vid2act_cli
from vid2act_cli import api

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = Path(vid2act_cli.__file__).parent / "commands"
# Commands whose option-to-config logic lives in api; each must reach the composition layer only through it.
CONVERTED = ("train_cmd.py", "evaluate_cmd.py", "transfer_cmd.py", "pretrain_cmd.py", "teachers_add_cmd.py", "collect_cmd.py",
             "probe_cmd.py", "report_cmd.py", "experiment_cmd.py", "demo_cmd.py")
COMPOSITION = ("vid2act_cli.compose", "vid2act_cli.experiments", "vid2act_cli.report")


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's From Python section has no python example"
    return match.group(1)


def test_the_readme_example_runs_and_leaves_the_documented_files(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(_readme_example(), "README.md", "exec"), {"logdir": str(tmp_path)})
    run_dir = tmp_path / "run"
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/latest.pt", "DONE"):
        assert (run_dir / name).exists(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*records)
    for key in ("losses/model_loss", "eval/return_deterministic", "charts/env_steps_per_second"):
        assert key in keys, key
    assert all(np.isfinite(r["losses/model_loss"]) for r in records if "losses/model_loss" in r)
    assert str(run_dir) in capsys.readouterr().out
    assert list(run_dir.glob("evaluation_*.json"))


def test_train_returns_the_run_and_rejects_a_bad_field_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as error:
        api.train(api.TrainRequest(task="cartpole_balance", preset="tiny", steps=0, device="cpu",
                                   logdir=tmp_path / "bad"))
    message = str(error.value)
    assert "--steps" in message and "\n" not in message


def test_every_public_function_takes_one_frozen_request() -> None:
    functions = [getattr(api, name) for name in api.__all__ if inspect.isfunction(getattr(api, name))]
    assert functions
    for function in functions:
        hints = inspect.get_annotations(function, eval_str=True)
        request = hints[next(iter(inspect.signature(function).parameters))]
        assert dataclasses.is_dataclass(request) and request.__dataclass_params__.frozen, function.__name__
        assert request.__name__ == function.__name__.title().replace("_", "") + "Request", function.__name__
        assert "return" in hints and function.__doc__, function.__name__


@pytest.mark.parametrize("module", CONVERTED)
def test_converted_commands_reach_the_composition_layer_only_through_api(module: str) -> None:
    tree = ast.parse((COMMANDS / module).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert "vid2act_cli.api" in imported or any(
        isinstance(node, ast.ImportFrom) and node.module == "vid2act_cli" and any(a.name == "api" for a in node.names)
        for node in ast.walk(tree))
    assert not [name for name in imported if name.startswith(COMPOSITION)], module
