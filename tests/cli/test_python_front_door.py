"""The Python front door (`vid2act_cli.api`): runs, errors, and the commands that go through it."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import vid2act_cli
from experts_fakes import write_fake_expert
from vid2act_cli import api
from vid2act_envs.mixed_collection import dataset_annotations

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = Path(vid2act_cli.__file__).parent / "commands"
# Commands whose option-to-config logic lives in api; each must reach the composition layer only through it.
CONVERTED = ("train_cmd.py", "evaluate_cmd.py", "transfer_cmd.py", "pretrain_cmd.py", "teachers_add_cmd.py", "collect_cmd.py",
             "probe_cmd.py", "report_cmd.py", "experiment_cmd.py", "demo_cmd.py", "experts_cmd.py")
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
    # One function per command: the Typer modules in CONVERTED each call at least one of these.
    assert {"train", "evaluate", "transfer", "pretrain", "add_teacher", "collect", "probe", "report", "launch",
            "experiment_status", "demo", "train_expert", "list_experts", "evaluate_expert",
            "collect_expert", "attach_data"} <= {function.__name__ for function in functions}


def test_every_request_and_result_is_frozen_and_documents_its_fields() -> None:
    classes = [getattr(api, name) for name in api.__all__ if name.endswith(("Request", "Result"))]
    for cls in classes:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__name__
        if cls.__name__.endswith("Request"):
            source = inspect.getsource(inspect.getmodule(cls))  # type: ignore[arg-type]
            for item in dataclasses.fields(cls):
                # A field's docstring is the string literal right below its annotation.
                assert re.search(rf"\n    {item.name}: [^\n]*\n    \"\"\"", source), f"{cls.__name__}.{item.name}"


# Registry browsing (list, show, remove, export, import, verify) uses the registry's own class; attach-data goes through api.
@pytest.mark.parametrize("module", (*CONVERTED, "teachers_cmd.py"))
def test_converted_commands_reach_the_composition_layer_only_through_api(module: str) -> None:
    tree = ast.parse((COMMANDS / module).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert "vid2act_cli.api" in imported or any(
        isinstance(node, ast.ImportFrom) and node.module == "vid2act_cli" and any(a.name == "api" for a in node.names)
        for node in ast.walk(tree))
    assert not [name for name in imported if name.startswith(COMPOSITION)], module


LOWER_PACKAGES = ("vid2act_core", "vid2act_envs", "vid2act_teachers")
# Torch-free tables that the options' choice lists are built from while `--help` renders, before api is imported.
HELP_TIME = {"vid2act_core.methods.method_names", "vid2act_core.config_schema.field_choices"}


@pytest.mark.parametrize("module", CONVERTED)
def test_converted_commands_take_only_types_from_the_lower_packages(module: str) -> None:
    """A pipeline command may name the lower packages' errors and types; their work is reached through api."""
    import importlib

    tree = ast.parse((COMMANDS / module).read_text())
    functions = [f"{node.module}.{alias.name}" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(LOWER_PACKAGES)
                 for alias in node.names
                 if not inspect.isclass(getattr(importlib.import_module(node.module), alias.name))
                 and f"{node.module}.{alias.name}" not in HELP_TIME]
    assert not functions, f"{module} calls the lower packages directly: {functions}"


def _one_line_error(call: Callable[[], object], option: str) -> None:
    """`call` raises a ValueError of one line that names `option`."""
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert option in message and "\n" not in message, message


@pytest.fixture(scope="module")
def tiny_transfer(tmp_path_factory: pytest.TempPathFactory) -> api.TransferResult:
    """A no-distill transfer run at preset tiny: DreamerV2 from scratch for a few hundred steps."""
    logdir = tmp_path_factory.mktemp("transfer") / "run"
    return api.transfer(api.TransferRequest(target="cartpole_balance", preset="tiny", steps=100, no_distill=True,
                                            device="cpu", logdir=logdir))


def test_transfer_without_teachers_returns_its_run(tiny_transfer: api.TransferResult) -> None:
    assert (tiny_transfer.run_dir / "DONE").exists()
    assert tiny_transfer.env_steps >= 100 and tiny_transfer.updates > 0
    assert tiny_transfer.dominant_teacher is None and tiny_transfer.final_mean_weight == {}


def test_transfer_rejects_a_bad_scorer_in_one_line(tmp_path: Path) -> None:
    _one_line_error(lambda: api.transfer(api.TransferRequest(target="cartpole_balance", preset="tiny", scorer="nope",
                                                             device="cpu", logdir=tmp_path / "bad")), "--scorer")


def test_report_of_a_tiny_run_writes_its_page_and_numbers(tiny_transfer: api.TransferResult, tmp_path: Path) -> None:
    result = api.report(api.ReportRequest(run_dirs=(tiny_transfer.run_dir,), out=tmp_path / "report"))
    assert result.html == tmp_path / "report" / "index.html" and result.html.exists()
    assert [(row["task"], row["seeds"]) for row in result.rows] == [("dmc:cartpole_balance", 1)]
    assert result.figures and all(path.exists() for path in result.figures.values())
    _one_line_error(lambda: api.report(api.ReportRequest(run_dirs=(tiny_transfer.run_dir,), at=(-1,))), "--at")


def test_collect_writes_one_short_episode(tmp_path: Path) -> None:
    result = api.collect(api.CollectRequest(task="cartpole_balance", episodes=1, policy="random",
                                            out=tmp_path / "cartpole.h5", image_size=32, episode_steps=40))
    assert result.path == tmp_path / "cartpole.h5" and result.path.exists()
    assert result.episodes == 1 and result.steps > 0 and np.isfinite(result.mean_return)
    assert result.success_rate is None


def test_pretrain_and_add_teacher_reject_bad_counts_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VID2ACT_HOME", str(tmp_path / "home"))
    _one_line_error(lambda: api.pretrain(api.PretrainRequest(data=(tmp_path / "none.h5",), name="t", preset="tiny",
                                                             steps=0, device="cpu")), "--steps")
    _one_line_error(lambda: api.add_teacher(api.AddTeacherRequest(task="cartpole_balance", preset="tiny", episodes=0,
                                                                  device="cpu")), "--episodes")


def test_probe_names_an_unknown_pair_in_one_line() -> None:
    _one_line_error(lambda: api.probe(api.ProbeRequest(pair="nope")), "--pair")


def test_launch_dry_run_lists_the_grid_and_status_needs_a_launched_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VID2ACT_HOME", str(tmp_path / "home"))
    request = api.LaunchRequest(name="grid", dry_run=True, targets=("cartpole_balance",), methods=("dreamer",),
                                steps=100, seeds=2, device="cpu", root=tmp_path / "grid")
    result = api.launch(request)
    assert len(result.commands) == 2 and all("vid2act" in line and "cartpole_balance" in line for line in result.commands)
    assert result.root == (tmp_path / "grid").absolute() and not result.submitted
    assert not (tmp_path / "grid" / "jobs.json").exists()
    _one_line_error(lambda: api.launch(dataclasses.replace(request, seeds=0)), "--seeds")
    _one_line_error(lambda: api.experiment_status(api.ExperimentStatusRequest(directory=tmp_path / "grid")), "jobs.json")


def test_demo_checks_its_device_before_any_stage(tmp_path: Path) -> None:
    _one_line_error(lambda: api.demo(api.DemoRequest(out=tmp_path / "demo", device="cuda:99")), "--device")
    assert not (tmp_path / "demo").exists()


def test_experts_through_the_front_door_list_reuse_evaluate_and_collect(tmp_path: Path) -> None:
    home = tmp_path / "home"
    meta = write_fake_expert(home)
    [entry] = api.list_experts(api.ListExpertsRequest(home=home)).experts
    assert (entry.name, entry.state, entry.agent_steps, entry.eval_mean, entry.sha256) == (
        "cartpole_balance", "finished", 10, 1.0, meta.sha256)
    # A cached expert with at least the asked steps is reused, not trained again.
    reused = api.train_expert(api.TrainExpertRequest(task="cartpole_balance", steps=10, home=home))
    assert (reused.outcome, reused.sha256, reused.directory) == ("reused", meta.sha256, home / "experts" / "cartpole_balance")
    evaluated = api.evaluate_expert(api.EvaluateExpertRequest(task="cartpole_balance", episodes=2, home=home))
    assert len(evaluated.returns) == 2 and evaluated.mean == pytest.approx(np.mean(evaluated.returns))
    assert evaluated.evaluated == f"sha256 {meta.sha256[:12]}" and evaluated.mean > 0.0
    collected = api.collect_expert(api.CollectExpertRequest(task="cartpole_balance", episodes=1, out=tmp_path / "c.h5",
                                                            home=home))
    assert (collected.episodes, collected.expert_sha256, collected.path) == (1, meta.sha256, tmp_path / "c.h5")
    assert dataset_annotations(collected.path)["expert_sha256"] == meta.sha256


def test_expert_requests_reject_bad_fields_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _one_line_error(lambda: api.train_expert(api.TrainExpertRequest(task="cartpole_balance", steps=0, home=home)), "--steps")
    _one_line_error(lambda: api.train_expert(api.TrainExpertRequest(task="cartpole_balance", hidden_sizes=(0,), home=home)),
                    "--hidden")
    _one_line_error(lambda: api.evaluate_expert(api.EvaluateExpertRequest(task="cartpole_balance", episodes=0, home=home)),
                    "--episodes")
    _one_line_error(lambda: api.collect_expert(api.CollectExpertRequest(task="cartpole_balance", episodes=0, home=home)),
                    "--episodes")
    assert not (home / "experts").exists()
