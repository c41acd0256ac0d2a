"""`vid2act plugins`, plugin commands and `vid2act envs` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import vid2act_teachers
from vid2act_cli.app import app

VID2ACT = Path(sys.executable).parent / "vid2act"


def run_vid2act(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("VID2ACT_PLUGINS", "VID2ACT_DISABLE_PLUGINS")}
    environment.update(env, COLUMNS="200")
    return subprocess.run([str(VID2ACT), *args], capture_output=True, text=True, env=environment, timeout=120)


def test_vid2act_plugins_lists_builtins_and_the_example() -> None:
    result = run_vid2act("plugins")
    assert result.returncode == 0, result.stderr
    rows: dict[str, list[str]] = {}  # plugin -> its cells, a plugin's row continuing on lines with an empty first cell
    for line in result.stdout.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.split("│")[1:-1]]
            if cells[0]:
                current = cells[0]
            rows.setdefault(current, []).extend(cell for cell in cells[1:] if cell)
    assert {"dmc", "metaworld", "example"} <= set(rows)
    assert rows["dmc"] == ["loaded", f"builtin (vid2act-teachers {vid2act_teachers.__version__})", "domains: dmc"]
    assert "entry point (vid2act-plugin-example 0.2.0)" in rows["example"]
    assert {"domains: toy", "teachers: toy_reach", "commands: toy-info"} <= set(rows["example"])


def test_vid2act_plugins_json_respects_the_disable_variable() -> None:
    result = run_vid2act("plugins", "--json", VID2ACT_DISABLE_PLUGINS="example")
    assert result.returncode == 0, result.stderr
    report = {row["name"]: row for row in json.loads(result.stdout)}
    assert report["example"]["status"] == "blocked" and report["example"]["domains"] == []
    assert report["dmc"]["source"] == "builtin" and report["dmc"]["domains"] == ["dmc"]


def test_example_command_is_registered_and_runs() -> None:
    runner = CliRunner()
    help_result = runner.invoke(app, ["--help"])
    assert help_result.exit_code == 0 and "toy-info" in help_result.output
    result = runner.invoke(app, ["toy-info"])
    assert result.exit_code == 0, result.output
    assert "task: toy:reach" in result.output and "125 agent steps" in result.output


def test_envs_lists_plugin_tasks() -> None:
    result = CliRunner().invoke(app, ["envs", "--domain", "toy"])
    assert result.exit_code == 0, result.output
    assert "toy:reach" in result.output
