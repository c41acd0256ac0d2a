"""Option help texts several commands share, built from the library so they name what exists.

Help strings must not contain `[...]`: the rich help formatter reads it as markup and drops it
(write defaults as "(default: ...)").
"""

from __future__ import annotations

from vid2act_core.presets import PRESET_BLOCKS, PRESETS

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
