"""Command modules. Each exposes `register(app: typer.Typer) -> None`."""

from __future__ import annotations

from types import ModuleType

from vid2act_cli.commands import collect_cmd, envs_cmd, plugins_cmd, train_cmd
from vid2act_cli.commands import teachers_cmd

COMMAND_MODULES: list[ModuleType] = [envs_cmd, plugins_cmd, train_cmd, collect_cmd]
COMMAND_MODULES.append(teachers_cmd)
from vid2act_cli.commands import pretrain_cmd  # noqa: E402

COMMAND_MODULES.append(pretrain_cmd)
