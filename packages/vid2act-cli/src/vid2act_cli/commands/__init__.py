"""Command modules. Each exposes `register(app: typer.Typer) -> None`; the order is the help order."""

from __future__ import annotations

from types import ModuleType

from vid2act_cli.commands import (
    collect_cmd,
    demo_cmd,
    envs_cmd,
    evaluate_cmd,
    experiment_cmd,
    experts_cmd,
    plugins_cmd,
    pretrain_cmd,
    probe_cmd,
    report_cmd,
    teachers_add_cmd,
    teachers_cmd,
    train_cmd,
    transfer_cmd,
)

COMMAND_MODULES: list[ModuleType] = [
    envs_cmd,
    collect_cmd,
    train_cmd,
    pretrain_cmd,
    teachers_cmd,
    teachers_add_cmd,
    experts_cmd,
    transfer_cmd,
    evaluate_cmd,
    report_cmd,
    experiment_cmd,
    probe_cmd,
    demo_cmd,
    plugins_cmd,
]
