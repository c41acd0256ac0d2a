"""Names that appear in run directories, reports and registries: method labels and slugs."""

from __future__ import annotations

import re

from vid2act_core.config import Config

METHODS: tuple[str, ...] = ("vid2act", "dreamer", "uniform", "noguide", "init", "apv", "isodream")
"""Method labels: the full method, --no-distill (DreamerV2 from scratch), --uniform-weights,
--no-guidance, --init-from (a student initialised from one teacher's weights), and the baselines
--method apv and --method isodream (vid2act_core.baselines)."""

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")


def slugify(text: str) -> str:
    """`text` made safe for a file name: each run of other characters becomes `_`, ends trimmed.

    "metaworld:door-open" -> "metaworld_door-open".
    """
    return _UNSAFE_RUN.sub("_", text).strip("_")


def method_label(config: Config, init_from: str | None = None) -> str:
    """Which of `METHODS` a transfer run with this config (and --init-from teacher) is."""
    if init_from:
        return "init"
    if not config.transfer.distill:
        return "dreamer"
    if config.transfer.uniform_weights:
        return "uniform"
    if not config.transfer.guidance:
        return "noguide"
    return "vid2act"
