"""Wiring shared by `train`, `transfer` and `evaluate`: devices, run directories, env + replay + agent.

Every function here is plain Python that tests call directly; the Typer commands only parse
arguments and call them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from vid2act_core.config import Config, config_from_dict
from vid2act_core.loop import LoopState

RUN_CONFIG = "config.yaml"
DONE_MARKER = "DONE"


def resolve_device(name: str) -> torch.device:
    """`cpu`, `cuda`, `cuda:N`, `mps` or `auto`; a device that is not available is a clear error."""
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        print("note: --device auto: no CUDA device available, using the CPU", file=sys.stderr)
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine (torch {torch.__version__}); use --device cpu or auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    if name == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("--device mps: MPS is not available on this machine")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"--device {name!r}: expected cpu, cuda, cuda:N, mps or auto")


def configure_threads(config: Config) -> None:
    if config.train.threads > 0:
        torch.set_num_threads(config.train.threads)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


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
    prefix = f"{_slug(task)}-{method}-{seed}-"
    candidates = sorted(p for p in root.glob(prefix + "*") if (p / RUN_CONFIG).exists()) if root.exists() else []
    unfinished = [p for p in candidates if not (p / DONE_MARKER).exists()]
    if unfinished:
        return unfinished[-1], True
    return root / (prefix + time.strftime("%Y%m%d-%H%M%S")), False


def save_run_config(run_dir: Path, config: Config, extra: dict[str, Any] | None = None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    data = config.to_dict()
    if extra:
        data["run"] = extra
    temp = run_dir / f".{RUN_CONFIG}.tmp"
    temp.write_text(yaml.safe_dump(data, sort_keys=False))
    temp.replace(run_dir / RUN_CONFIG)


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
    (run_dir / DONE_MARKER).write_text(json.dumps(dataclasses.asdict(state)) + "\n")


def make_progress_callback(total_steps: int, description: str) -> tuple[Any, Callable[[LoopState, dict[str, float]], None]]:
    """A rich Progress plus the loop's progress callback (updates the bar at most ~4 times a second)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )
    task_id = progress.add_task(description, total=total_steps, info="")
    last = [0.0]

    def callback(state: LoopState, summary: dict[str, float]) -> None:
        now = time.time()
        if now - last[0] < 0.25 and state.env_steps < total_steps:
            return
        last[0] = now
        parts = []
        if "charts/episode_return" in summary:
            parts.append(f"return {summary['charts/episode_return']:.1f}")
        if "eval/return_deterministic" in summary:
            parts.append(f"eval {summary['eval/return_deterministic']:.1f}")
        if "charts/updates_per_second" in summary:
            parts.append(f"{summary['charts/updates_per_second']:.2f} upd/s")
        parts.append(f"{state.updates} updates")
        progress.update(task_id, completed=min(state.env_steps, total_steps), info=" | ".join(parts))

    return progress, callback
