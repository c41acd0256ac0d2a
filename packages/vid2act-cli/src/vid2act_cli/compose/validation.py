"""Counts a run is given must make sense: one-line errors naming the option or config key.

`require_count(value, "--steps")` checks a command-line count; `check_config_counts(config)`
checks every integer of a resolved config (set by a preset, a YAML file or `--set`): sizes, steps,
batch sizes and intervals must be >= 1, the few that may be off (`ZERO_ALLOWED`) >= 0. Both raise
ValueError, which the commands print as one `error: ...` line before any run directory exists.
"""

from __future__ import annotations

import dataclasses
from typing import Any

ZERO_ALLOWED = frozenset({
    "train.prefill", "train.pretrain_updates", "train.eval_episodes", "train.video_every", "train.threads",
    "world_model.reward_layers", "actor_critic.actor_layers", "actor_critic.critic_layers",
    "transfer.distill_layers", "transfer.distill_burn_in", "pretrain.open_loop_context", "pretrain.threads",
})
"""Integer config keys for which 0 means "none" or "off" (eval episodes, video, prefill, threads = auto, ...)."""

UNCHECKED = frozenset({"seed"})
"""Integer keys any value of which is valid."""


def require_count(value: int | None, option: str, minimum: int = 1) -> int | None:
    """`value` if it is None or an integer >= `minimum`; else ValueError naming `option`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{option} must be an integer >= {minimum}, got {value!r}")
    return value


def _integer_fields(node: Any, prefix: str = "") -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            found += _integer_fields(value, key + ".")
        elif isinstance(value, int) and not isinstance(value, bool):
            found.append((key, value))
    return found


def check_config_counts(config: Any) -> None:
    """Raise ValueError naming the first integer config key below its minimum (see the module docstring)."""
    for key, value in _integer_fields(config):
        if key in UNCHECKED:
            continue
        minimum = 0 if key in ZERO_ALLOWED else 1
        if value < minimum:
            raise ValueError(f"{key} must be >= {minimum}, got {value} (set by the preset, --config or --set {key}=...)")
