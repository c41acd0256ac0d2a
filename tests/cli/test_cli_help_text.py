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
