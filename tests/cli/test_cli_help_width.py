"""Every command's `--help` at 80 columns: option names whole, defaults shown, the same text at any width."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from test_cli_help_text import walk_commands
from vid2act_cli.commands.app import app

COMMANDS = [(path, command) for path, command in walk_commands(typer.main.get_command(app))]


def render_help(path: str, columns: int) -> str:
    args = path.split()[1:] + ["--help"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(columns), "TERMINAL_WIDTH": None})
    assert result.exit_code == 0, result.output
    return result.output


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def visible_options(command: Any) -> list[Any]:
    return [param for param in command.params if param.param_type_name == "option" and not param.hidden]


def test_the_walk_covers_groups_subcommands_and_plugin_commands() -> None:
    paths = {path for path, _ in COMMANDS}
    assert {"vid2act probe", "vid2act teachers add", "vid2act experts train", "vid2act toy-info"} <= paths


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_help_at_80_columns_shows_every_option_whole_with_its_default(path: str) -> None:
    command = dict(COMMANDS)[path]
    text = render_help(path, 80)
    assert "…" not in text
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert too_long == [], f"{path}: lines wider than 80 columns"
    context = typer.main.get_command(app).make_context("vid2act", [], resilient_parsing=True)
    for param in visible_options(command):
        for name in [*param.opts, *param.secondary_opts]:
            assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{path}: option {name} is cut or missing"
        record = param.get_help_record(context)
        if record is None:
            continue
        assert squeezed(record[1]) in squeezed(text), f"{path} {param.opts[0]}: help text not shown whole"
        # A default worth showing: a value, or which side of an --x/--no-x switch is on.
        has_default = param.default not in (None, [], ()) and (not param.is_flag or bool(param.secondary_opts))
        if has_default and param.show_default is not False and param.name != "help":
            assert "[default:" in record[1], f"{path} {param.opts[0]}: default {param.default!r} not shown"


def help_in_a_terminal_of(path: str, columns: int) -> str:
    """The help as a real process prints it where the terminal is `columns` wide (the test runner
    forces 80 columns in-process)."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("TERMINAL_WIDTH", None)
    completed = subprocess.run([sys.executable, "-m", "vid2act_cli.app", *path.split()[1:], "--help"],
                               env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.parametrize("path", ["vid2act probe", "vid2act teachers add"])
def test_help_is_the_same_text_at_any_terminal_width(path: str) -> None:
    at_80 = help_in_a_terminal_of(path, 80)
    assert "--windows-per-episode" in at_80 or "--replay-set-mb" in at_80
    assert help_in_a_terminal_of(path, 60) == at_80
    assert help_in_a_terminal_of(path, 200) == at_80
