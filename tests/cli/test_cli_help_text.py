"""`vid2act ... --help` shows every help text whole, and `--preset` names the presets that exist."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from rich.markup import RE_TAGS

from vid2act_cli.commands.app import app
from vid2act_core.presets import PRESET_BLOCKS, PRESETS


def walk_commands(command: Any, path: str = "vid2act") -> Iterator[tuple[str, Any]]:
    """Every command of the app's (vendored) click tree, with its command line."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk_commands(sub, f"{path} {name}")


def help_texts() -> list[tuple[str, str]]:
    texts = []
    for path, command in walk_commands(typer.main.get_command(app)):
        if command.help:
            texts.append((path, command.help))
        for param in command.params:
            text = getattr(param, "help", None)
            if text:
                texts.append((f"{path} {param.opts[0] if param.opts else param.name}", text))
    return texts


def test_the_scan_finds_the_commands_and_their_options() -> None:
    where = {where for where, _ in help_texts()}
    assert {"vid2act teachers add --name", "vid2act experiment --root", "vid2act train --preset"} <= where


def test_no_help_text_holds_markup_that_rich_would_drop() -> None:
    """`[default: x]` in a help string is read as a rich tag and vanishes, leaving "Teacher name ."."""
    dropped = [f"{where}: {match.group(0)}" for where, text in help_texts() for match in RE_TAGS.finditer(text)]
    assert dropped == []


def test_the_markup_check_catches_a_bracketed_default() -> None:
    assert RE_TAGS.search("Teacher name [default: the task].")


@pytest.mark.parametrize("command", ["train", "transfer", "pretrain", "teachers add", "probe"])
def test_preset_help_names_every_full_preset_and_block(command: str) -> None:
    text = dict(help_texts())[f"vid2act {command} --preset"]
    for name in [*PRESETS, *PRESET_BLOCKS]:
        assert name in text, f"{command} --preset help does not name {name}"


def test_transfer_help_names_the_scorer_and_the_distillation_form_with_their_defaults() -> None:
    from vid2act_core.config import TransferConfig
    from vid2act_core.transfer.distillation import DISTILL_FORMS
    from vid2act_core.transfer.scorers import SCORERS

    texts = dict(help_texts())
    defaults = TransferConfig()
    for option, choices, default in (("--scorer", SCORERS, defaults.scorer), ("--distill-form", DISTILL_FORMS, defaults.distill_form)):
        text = texts[f"vid2act transfer {option}"]
        assert all(choice in text for choice in choices) and f"default {default}" in text


def test_transfer_refuses_an_unknown_distillation_form_naming_the_option() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["transfer", "--target", "cartpole_balance", "--distill-form", "both"])
    assert result.exit_code != 0
    assert "--distill-form" in result.output and "'both' is not one of student_head, paper, published" in result.output
