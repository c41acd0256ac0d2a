"""Runs for a report: read a run directory, find the runs of an experiment directory, group and aggregate.

Runs are grouped by their full configuration (`report.grouping`: task, method, teachers and every
config value but the seed), labelled by what sets them apart within a (task, method); curves are averaged over seeds with a band of one standard
deviation (the paper's figures: mean and std over 3 seeds), interpolated on a common grid of
environment steps. A partial run contributes as far as it got.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vid2act_core.methods import all_methods, find_method

from vid2act_cli.compose.logger import read_metrics
from vid2act_cli.compose.runs import DONE_MARKER, RUN_CONFIG, load_run_config
from vid2act_cli.report.grouping import base_method, configuration_labels, run_configuration

RETURN_KEY = "eval/return_deterministic"
SUCCESS_KEY = "eval/success_deterministic"
WEIGHT_PREFIX = "losses/weight/"
SELECTED_PREFIX = "charts/selected/"
SWITCH_RATE_SERIES = "charts/selection_switch_rate"
"""Share of within-episode acting steps whose selected teacher changed (`TransferAgent.acting_metrics`)."""
LOSS_KEYS = (("losses/image_loss", "image loss"), ("losses/reward_loss", "reward loss"))
DIAG_PREFIX = "losses/diag/"
"""The agents return their collapse and gradient-balance statistics as `diag/...`; the loop's metrics
accumulator writes every training metric under `losses/`, so metrics.jsonl holds `losses/diag/...`."""

MAX_GRID_POINTS = 200
EXPERIMENT_RUNS = "runs"
"""The folder of an experiment directory that holds its transfer runs."""


@dataclass
class RunData:
    """What the report needs from one run directory."""

    path: Path
    task: str
    method: str
    seed: int
    teachers: list[str]
    records: list[dict[str, Any]]
    done: bool
    summary: dict[str, Any] | None = None
    """transfer_summary.json, if any."""
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`vid2act evaluate` results by mode (deterministic, stochastic)."""
    image_size: int = 64
    done_env_steps: int = 0
    """Env steps recorded in the DONE marker (0 for an unfinished run)."""
    configuration: dict[str, Any] = field(default_factory=dict)
    """What defines the run's experiment (`grouping.run_configuration`): runs with equal ones are seeds of one group."""

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one metric, finite values only, sorted by step; duplicates keep the last."""
        points: dict[int, float] = {}
        for record in self.records:
            value = record.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                points[int(record["step"])] = float(value)
        steps = np.array(sorted(points), dtype=float)
        return steps, np.array([points[int(step)] for step in steps], dtype=float)

    def eval_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """An evaluation metric, extended by the final `vid2act evaluate` result if that is later."""
        steps, values = self.series(key)
        result = self.evaluations.get("deterministic")
        field_name = {RETURN_KEY: "return_mean", SUCCESS_KEY: "success_rate"}.get(key)
        if result and field_name in result:
            step = float(result.get("env_steps_trained", -1))
            if not len(steps) or step > steps[-1]:
                steps, values = np.append(steps, step), np.append(values, float(result[field_name]))
        return steps, values

    @property
    def last_step(self) -> int:
        """The furthest env step the run logged or finished at."""
        return max([self.done_env_steps, *(int(record.get("step", 0)) for record in self.records)])


class NotARunError(ValueError):
    """A path given to the report is not a train/transfer run directory."""


def load_run(path: str | Path) -> RunData:
    """Read a run directory; a path that is not one raises NotARunError naming it."""
    path = Path(path)
    if not path.is_dir():
        raise NotARunError(f"{path}: not a run directory ({'no such directory' if not path.exists() else 'a file'})")
    if not (path / RUN_CONFIG).exists():
        raise NotARunError(f"{path}: not a vid2act run directory (no {RUN_CONFIG})")
    config, info = load_run_config(path)
    if info.get("kind") == "pretrain" or "method" not in info:
        raise NotARunError(f"{path}: a teacher pretraining directory, not a train/transfer run")
    summary = None
    if (path / "transfer_summary.json").exists():
        summary = json.loads((path / "transfer_summary.json").read_text())
    done_env_steps = 0
    if (path / DONE_MARKER).exists():
        try:
            done_env_steps = int(json.loads((path / DONE_MARKER).read_text()).get("env_steps", 0))
        except (json.JSONDecodeError, AttributeError, ValueError):
            done_env_steps = 0
    evaluations = {}
    for mode in ("deterministic", "stochastic"):
        file = path / f"evaluation_{mode}.json"
        if file.exists():
            evaluations[mode] = json.loads(file.read_text())
    return RunData(
        path=path, task=str(info.get("task", config.env.task)), method=str(info["method"]), seed=int(config.seed),
        teachers=list(info.get("teachers") or []), records=read_metrics(path), done=(path / DONE_MARKER).exists(),
        summary=summary, evaluations=evaluations, image_size=int(config.env.image_size), done_env_steps=done_env_steps,
        configuration=run_configuration(config.to_dict(), info),
    )


def expand_run_paths(paths: list[str | Path]) -> tuple[list[Path], list[str]]:
    """The paths, each experiment directory (one with a `runs/` folder, made by `vid2act experiment`)
    replaced by its started runs; notes name the runs not started yet. An experiment without a
    started run is a NotARunError naming it."""
    expanded: list[Path] = []
    notes: list[str] = []
    for path in map(Path, paths):
        if (path / RUN_CONFIG).exists() or not (path / EXPERIMENT_RUNS).is_dir():
            expanded.append(path)
            continue
        children = sorted(child for child in (path / EXPERIMENT_RUNS).iterdir() if child.is_dir())
        started = [child for child in children if (child / RUN_CONFIG).exists()]
        if not started:
            raise NotARunError(f"{path}: an experiment directory without a started run yet (nothing in {path / EXPERIMENT_RUNS})")
        expanded.extend(started)
        notes.extend(f"{child}: not started yet" for child in children if child not in started)
    return expanded, notes


def group_runs(runs: list[RunData]) -> dict[tuple[str, str], list[RunData]]:
    """Runs by (task, label): one group per full configuration, the label being the method plus what
    sets the configuration apart within its (task, method); tasks in first-seen order, methods in the paper's order."""
    by_method: dict[tuple[str, str], dict[str, list[RunData]]] = defaultdict(dict)
    for run in runs:
        by_method[(run.task, run.method)].setdefault(json.dumps(run.configuration, sort_keys=True, default=str), []).append(run)
    groups: dict[tuple[str, str], list[RunData]] = {}
    for (task, method), configurations in by_method.items():
        members = list(configurations.values())
        for suffix, group in zip(configuration_labels([group[0].configuration for group in members]), members):
            groups[(task, method + suffix)] = group
    tasks = list(dict.fromkeys(run.task for run in runs))

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        task, label = key
        method = base_method(label)
        return tasks.index(task), legend_rank(method), label

    return {key: sorted(groups[key], key=lambda run: run.seed) for key in sorted(groups, key=order)}


def aggregate(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over curves on a common step grid: (grid, mean, std, count).

    Each curve is interpolated linearly within its own step range and missing beyond it, so a
    partial run contributes only as far as it got.
    """
    curves = [(x, y) for x, y in curves if len(x)]
    if not curves:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    grid = np.unique(np.concatenate([x for x, _ in curves]))
    if len(grid) > MAX_GRID_POINTS:
        grid = np.linspace(grid[0], grid[-1], MAX_GRID_POINTS)
    stacked = np.full((len(curves), len(grid)), np.nan)
    for row, (x, y) in enumerate(curves):
        inside = (grid >= x[0]) & (grid <= x[-1])
        stacked[row, inside] = np.interp(grid[inside], x, y)
    count = np.sum(~np.isnan(stacked), axis=0)
    keep = count > 0
    stacked, grid, count = stacked[:, keep], grid[keep], count[keep]
    mean = np.nanmean(stacked, axis=0)
    std = np.nanstd(stacked, axis=0)
    return grid, mean, std, count


def method_style(method: str) -> tuple[str, str]:
    """(label, matplotlib colour) of a method; unknown methods are grey under their own name."""
    base = base_method(method)
    known = find_method(base)
    if known is not None:
        return known.title + method[len(base):], known.colour
    return method, "tab:gray"


def legend_rank(method: str) -> int:
    """A method's place in the legend (`Method.legend_rank`); unknown methods after every known one."""
    known = find_method(method)
    return known.legend_rank if known is not None else len(all_methods())
