"""Run directories: where a run lives, its saved config, and the marker of a finished run."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from vid2act_core.config import Config, config_from_dict
from vid2act_core.runtime.fileio import atomic_write_text
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


@dataclasses.dataclass(frozen=True)
class SavedRun:
    """A run directory's `config.yaml` as one command reads it: once, then handed to every check
    (resume, teacher pins, the teachers a resumed run goes on with) and to the training loop."""

    run_dir: Path
    config: Config
    info: dict[str, Any]
    """The `run` section: task, method, teachers, pins, ..."""


def read_saved_run(run_dir: str | Path) -> SavedRun | None:
    """The run saved in `run_dir`, or None where none has started there yet."""
    run_dir = Path(run_dir)
    if not (run_dir / RUN_CONFIG).exists():
        return None
    config, info = load_run_config(run_dir)
    return SavedRun(run_dir, config, info)


def _flat(node: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """A nested mapping as dotted keys -> leaf values."""
    out = {} if out is None else out
    if isinstance(node, dict):
        for key, value in node.items():
            _flat(value, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = node
    return out


def config_differences(saved: Config, requested: Config, ignore: tuple[str, ...] = ("train.steps",)) -> list[str]:
    """Dotted keys whose values differ between two configs."""
    left, right = _flat(saved.to_dict()), _flat(requested.to_dict())
    return sorted(key for key in left if key not in ignore and left.get(key) != right.get(key))


RUN_IDENTITY: dict[str, str] = {"task": "the task", "method": "the command and its method switches"}
"""What a resumed run must always agree with (a run of another task or method cannot be continued),
and how an error names where the request came from when the command did not say."""


def requested_keys(preset: str | None, config_file: Path | None, overrides: Sequence[str]) -> dict[str, str]:
    """The run settings a command line gave explicitly -> the option that gave them: `preset`
    (None: the default, e.g. `auto`, which may resolve otherwise on another machine), every key of
    the `--config` YAML file and every `--set` key. What a resumed run is checked against."""
    keys: dict[str, str] = {}
    if preset is not None:
        keys["preset"] = "--preset"
    if config_file is not None:
        data = yaml.safe_load(Path(config_file).read_text()) or {}
        keys.update({key: f"--config {config_file}" for key in _flat(data)})
    for entry in overrides:
        keys[entry.split("=", 1)[0].strip()] = "--set"
    return keys


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def check_resume(
    saved_run: SavedRun | None, config: Config, info: dict[str, Any], explicit: dict[str, str],
    may_change: Sequence[str] = (),
) -> None:
    """Refuse to resume `saved_run` (None: a new run, nothing to check) where the command contradicts
    it: its task or method (always), or a setting in `explicit` (key -> the option that gave it:
    `teachers`, `preset`, or a config key).

    info: the command's run section (task, method, teachers, ...); may_change: config keys a resumed
    run takes from the command (steps, threads). One line naming the run, the key, both values, and
    how to go on.
    """
    if saved_run is None:
        return
    saved, saved_info = saved_run.config, saved_run.info
    stored = {**_flat(saved.to_dict()), **saved_info, "preset": saved.preset}
    stored.setdefault("task", saved.env.task)
    stored.setdefault("teachers", [])  # runs of methods without teachers
    asked = {**_flat(config.to_dict()), **info, "preset": config.preset}
    for key, option in {**RUN_IDENTITY, **explicit}.items():
        if key in may_change or key not in asked:
            continue
        before, now = stored.get(key), asked[key]
        if before != now:
            raise ValueError(
                f"{saved_run.run_dir} was started with {key} {_shown(before)}, not {_shown(now)} ({option}); "
                f"to resume it, run it with its own {key}; to start a new run, give another --logdir"
            )


def mark_done(run_dir: Path, state: LoopState) -> None:
    """Mark a run finished; the marker holds its final counters."""
    atomic_write_text(run_dir / DONE_MARKER, json.dumps(dataclasses.asdict(state)) + "\n")
