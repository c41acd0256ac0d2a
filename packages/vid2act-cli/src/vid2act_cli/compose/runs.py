"""Run directories: where a run lives, its saved config, and the marker of a finished run."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import yaml

from vid2act_core.config import Config, config_from_dict
from vid2act_core.fileio import atomic_write_text
from vid2act_core.loop import LoopState
from vid2act_core.naming import slugify

RUN_CONFIG = "config.yaml"
DONE_MARKER = "DONE"


def resolve_run_dir(logdir: str | Path | None, root: str | Path, task: str, method: str, seed: int) -> tuple[Path, bool]:
    """Pick the run directory and say whether it resumes an existing run.

    With `logdir`, that directory (resumed if it holds a run). Without, the newest unfinished
    `root/<task>-<method>-<seed>-<time>` is resumed, else a new one is created: re-running the
    same command continues where it stopped.
    """
    if logdir is not None:
        path = Path(logdir)
        return path, (path / RUN_CONFIG).exists()
    root = Path(root)
    prefix = f"{slugify(task)}-{method}-{seed}-"
    candidates = sorted(p for p in root.glob(prefix + "*") if (p / RUN_CONFIG).exists()) if root.exists() else []
    unfinished = [p for p in candidates if not (p / DONE_MARKER).exists()]
    if unfinished:
        return unfinished[-1], True
    return root / (prefix + time.strftime("%Y%m%d-%H%M%S")), False


def save_run_config(run_dir: Path, config: Config, extra: dict[str, Any] | None = None) -> None:
    """Write the resolved config (and the `run` section `extra`) as `config.yaml`, atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = config.to_dict()
    if extra:
        data["run"] = extra
    atomic_write_text(run_dir / RUN_CONFIG, yaml.safe_dump(data, sort_keys=False))


def load_run_config(run_dir: str | Path) -> tuple[Config, dict[str, Any]]:
    """The resolved config saved in a run directory, and its `run` section (task, method, ...)."""
    path = Path(run_dir) / RUN_CONFIG
    if not path.exists():
        raise ValueError(f"{run_dir}: not a vid2act run directory (no {RUN_CONFIG})")
    data = yaml.safe_load(path.read_text()) or {}
    extra = data.pop("run", {}) or {}
    return config_from_dict(data), extra


def config_differences(saved: Config, requested: Config, ignore: tuple[str, ...] = ("train.steps",)) -> list[str]:
    """Dotted keys whose values differ between two configs."""
    def flat(prefix: str, node: Any, out: dict[str, Any]) -> dict[str, Any]:
        if isinstance(node, dict):
            for key, value in node.items():
                flat(f"{prefix}.{key}" if prefix else key, value, out)
        else:
            out[prefix] = node
        return out

    left, right = flat("", saved.to_dict(), {}), flat("", requested.to_dict(), {})
    return sorted(key for key in left if key not in ignore and left.get(key) != right.get(key))


def mark_done(run_dir: Path, state: LoopState) -> None:
    """Mark a run finished; the marker holds its final counters."""
    atomic_write_text(run_dir / DONE_MARKER, json.dumps(dataclasses.asdict(state)) + "\n")
