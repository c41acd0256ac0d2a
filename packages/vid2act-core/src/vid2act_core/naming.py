"""Names that appear in run directories, reports and registries: method labels (from `vid2act_core.methods`) and slugs."""

from __future__ import annotations

import re

from vid2act_core.config import Config
from vid2act_core.methods import init_method, label_from_switches

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")


def slugify(text: str) -> str:
    """`text` made safe for a file name: each run of other characters becomes `_`, ends trimmed.

    "metaworld:door-open" -> "metaworld_door-open".
    """
    return _UNSAFE_RUN.sub("_", text).strip("_")


def method_label(config: Config, init_from: str | None = None) -> str:
    """Which of `vid2act_core.methods.METHODS` a transfer run with this config (and --init-from teacher) is."""
    if init_from:
        return init_method().name
    return label_from_switches(config.transfer)
