"""Which runs are seeds of one configuration: the full configuration, not just (task, method).

Two runs belong to one group when everything that defines the experiment is equal: the task, the
method, the teachers (their order too: it is the order of the task weights), the `--init-from`
model and every config value except the seed and the purely operational keys in `IGNORED_KEYS`.
Within a (task, method), configurations that differ are labelled by the keys that differ
("vid2act [teachers=a,b]"), so they are plotted and tabulated apart; `describe_groups` says
what was grouped.
"""

from __future__ import annotations

import json
from typing import Any

IGNORED_KEYS = frozenset({
    "seed", "train.threads", "train.log_every", "train.checkpoint_every", "train.video_every", "train.compile",
})
"""Config keys that do not change what a run measures (or `pretrain.*`, which train/transfer never read)."""
LABEL_SEPARATOR = " ["


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"steps": 5}} -> {"train.steps": 5}."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_configuration(config: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The values that define a run's experiment (see the module docstring), flat."""
    flat = {key: value for key, value in flatten(config).items() if key not in IGNORED_KEYS and not key.startswith("pretrain.")}
    flat["teachers"] = ",".join(info.get("teachers") or []) or "-"
    flat["init_from"] = info.get("init_from") or "-"
    return flat


def configuration_labels(configurations: list[dict[str, Any]]) -> list[str]:
    """For the configurations of one (task, method): a suffix per configuration naming what differs ("" if all equal)."""
    keys = sorted({key for configuration in configurations for key in configuration})
    differing = [key for key in keys if len({json.dumps(c.get(key), sort_keys=True) for c in configurations}) > 1]
    if not differing:
        return ["" for _ in configurations]
    return [LABEL_SEPARATOR + "; ".join(f"{key}={configuration.get(key)}" for key in differing) + "]" for configuration in configurations]


def base_method(label: str) -> str:
    """The method of a group label: "vid2act [teachers=a]" -> "vid2act"."""
    return label.split(LABEL_SEPARATOR, 1)[0]


def describe_groups(groups: dict[tuple[str, str], list[Any]]) -> list[str]:
    """One line per group: the task, the method with what sets its configuration apart, and its seeds."""
    lines = []
    for (task, label), runs in groups.items():
        seeds = ", ".join(str(run.seed) for run in runs)
        lines.append(f"grouped {len(runs)} run(s) as {task} {label}: seeds {seeds}")
    return lines
