"""The one method table (`vid2act_core.methods`): every entry reaches the grid, the report and the transfer config,
and an entry added to it reaches them with no other edit."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import vid2act_cli.compose.transfer as compose_transfer
import vid2act_core.methods as methods
from vid2act_cli.app import app
from vid2act_cli.experiments import GridSpec, expand_experiment
from vid2act_cli.report.runs import legend_rank, method_style
from vid2act_core.methods import Method, all_methods
from vid2act_core.naming import method_label

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
COMPOSE = PACKAGES / "vid2act-cli" / "src" / "vid2act_cli" / "compose"
NEW = Method("uniform-noguide", "Vid2Act w/o weights and guidance", "tab:olive", 7,
             {"uniform_weights": True, "guidance": False}, ("--method", "uniform-noguide"))
"""The entry docs/architecture.md ("Adding a method") shows."""


def _grid_argv(method: Method, root: Path) -> list[str]:
    """The transfer argv the grid writes for one run of `method`."""
    spec = GridSpec(("walker_walk",), (method.name,), 10, teachers=("t1", "t2"),
                    video_model="vm" if method.needs_video_model else None)
    jobs = [job for job in expand_experiment("grid", root=root, seeds=1, grid=spec) if job.kind == "transfer"]
    assert [job.label for job in jobs] == [f"transfer walker_walk {method.name} seed 0"]
    assert Path(jobs[0].argv[jobs[0].argv.index("--logdir") + 1]).name == f"walker_walk-{method.name}-0"
    return list(jobs[0].argv)


def _transfer_options() -> set[str]:
    command = typer.main.get_command(app).commands["transfer"]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def _planned_transfer(monkeypatch: pytest.MonkeyPatch, argv: list[str], tmp_path: Path) -> tuple[Any, Any]:
    """Run `vid2act <argv>` up to training: the config and request `compose.transfer` would train with."""
    seen: dict[str, Any] = {}

    def fake_transfer_to_target(config: Any, request: Any, reporter: Any = None) -> tuple[Any, Path, dict[str, Any]]:
        seen.update(config=config, request=request)
        return SimpleNamespace(env_steps=0, updates=0), tmp_path / "run", {}

    monkeypatch.setattr(compose_transfer, "transfer_to_target", fake_transfer_to_target)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    return seen["config"], seen["request"]


def _check_switches(method: Method, config: Any, request: Any) -> None:
    for key, value in method.switches.items():
        assert getattr(config.transfer, key) == value, f"{method.name}: transfer.{key}"
    if method.agent == methods.TRANSFER_AGENT:
        assert method_label(config, request.init_from) == method.name
    else:
        assert request.method == method.name


@pytest.mark.parametrize("name", [method.name for method in all_methods()])
def test_every_method_runs_in_the_grid_and_sets_the_switches_it_declares(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    method = methods.get_method(name)
    argv = _grid_argv(method, tmp_path / "exp")
    options = _transfer_options()
    assert all(token in options for token in argv[1:] if token.startswith("--")), argv
    assert method.flags == () or " ".join(method.flags) in " ".join(argv)
    assert ("--teachers" in argv or "--init-from" in argv) == (method.needs_teachers or method.needs_video_model)
    config, request = _planned_transfer(monkeypatch, argv, tmp_path)
    _check_switches(method, config, request)


def test_every_method_has_its_own_report_style_in_legend_order() -> None:
    entries = all_methods()
    assert [method_style(method.name) for method in entries] == [(method.title, method.colour) for method in entries]
    assert len({method.colour for method in entries}) == len(entries) and "tab:gray" not in {m.colour for m in entries}
    assert sorted(legend_rank(method.name) for method in entries) == list(range(len(entries)))
    assert method_style("unknown") == ("unknown", "tab:gray") and legend_rank("unknown") == len(entries)


def test_the_paper_grids_take_their_methods_from_the_table(tmp_path: Path) -> None:
    jobs = expand_experiment("paper-metaworld", root=tmp_path / "mw", seeds=1)
    run_methods = {job.label.split()[2] for job in jobs if job.kind == "transfer"}
    assert run_methods == {method.name for method in all_methods() if method.paper}


def test_an_added_entry_reaches_the_grid_the_report_the_label_and_the_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(methods, "METHODS", (*methods.METHODS, NEW))
    argv = _grid_argv(NEW, tmp_path / "exp")
    assert argv[argv.index("--teachers"):argv.index("--teachers") + 4] == ["--teachers", "t1,t2", "--method", NEW.name]
    assert method_style(NEW.name) == (NEW.title, NEW.colour) and legend_rank(NEW.name) == 7
    config, request = _planned_transfer(monkeypatch, argv, tmp_path)
    _check_switches(NEW, config, request)
    # The older single-switch methods keep their labels beside it.
    config.transfer.guidance = True
    assert method_label(config) == "uniform"


def test_an_unknown_method_is_refused_by_the_grid_and_by_transfer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose from vid2act, dreamer, uniform, noguide, init, apv, isodream"):
        GridSpec(("walker_walk",), ("nope",), 10)
    result = CliRunner().invoke(app, ["transfer", "--target", "walker_walk", "--preset", "tiny", "--method", "nope"])
    assert result.exit_code != 0 and "--method 'nope': choose from vid2act" in result.output


def test_compose_baselines_and_transfer_do_not_import_each_other() -> None:
    def imports(path: Path) -> set[str]:
        return {node.module for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}

    assert "vid2act_cli.compose.transfer" not in imports(COMPOSE / "baselines.py")
    assert "vid2act_cli.compose.baselines" in imports(COMPOSE / "transfer.py")
