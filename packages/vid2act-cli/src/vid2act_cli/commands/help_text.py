"""Option help texts several commands share, built from the library so they name what exists.

Help is click's plain formatter at a fixed width (`HELP_SETTINGS`): rich's help panels cut long
option names at 80 columns and fold the help into a narrow column, and a fixed width gives the same
text in any terminal. Help strings still avoid `[...]` (write defaults as "(default: ...)"), so a
plugin sub-app left on rich's formatter shows them whole too.
"""

from __future__ import annotations

from typing import Any

from vid2act_core.presets import PRESET_BLOCKS, PRESETS

HELP_WIDTH = 78
"""Width of every help text: an 80-column terminal less click's margin, whatever the terminal is."""

HELP_SETTINGS: dict[str, Any] = {
    "rich_markup_mode": None,
    "context_settings": {"terminal_width": HELP_WIDTH, "max_content_width": HELP_WIDTH},
}
"""`typer.Typer(**HELP_SETTINGS)`: plain help at HELP_WIDTH (subcommands' contexts inherit the width)."""

_STACK = (
    f"a full preset ({', '.join(PRESETS)}), optionally followed by override blocks applied left to right "
    f"({', '.join(PRESET_BLOCKS)}), e.g. small,cpu-demo; see docs/presets.md"
)

PRESET_HELP = f"Preset stack: {_STACK}."
"""`--preset` of commands whose default is a fixed preset (pretrain, teachers add, probe)."""

AUTO_PRESET_HELP = (
    "auto (the paper preset of the task's suite on CUDA, small on the CPU; blocks after it are kept), "
    f"or a preset stack: {_STACK}."
)
"""`--preset` of train and transfer, whose default is `auto` (`vid2act_cli.compose.devices.resolve_preset`)."""
