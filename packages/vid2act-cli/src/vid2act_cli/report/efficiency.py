"""Sample efficiency of online runs, from each run's evaluation return curve (eval/return_deterministic).

Per task and method (the report's groups), over seeds:
- the return at fixed env steps (`at`; default: the evaluation steps every run of the task shares),
  each run interpolated linearly within its own curve, missing beyond it (`n` says how many seeds count);
- the area under the curve: trapezoid over env steps divided by the step range, so it reads as a mean
  return; the range is the one every run of the task covers, so the areas of shorter and longer runs compare;
- the first evaluation step whose return reaches `threshold` (default: a third of the best final return
  of the task), None for a run that never reaches it;
- against DreamerV2 (`BASELINE`): the AUC difference per shared seed, its mean ± std and the seeds it wins.
Std is over seeds with ddof=0, as in the rest of the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vid2act_cli.report.grouping import base_method
from vid2act_cli.report.runs import RETURN_KEY, RunData

BASELINE = "dreamer"
"""The method the paired comparison measures every other method against (`--no-distill`, DreamerV2)."""
DEFAULT_THRESHOLD_FRACTION = 1 / 3


def mean_std(values: list[float]) -> dict[str, float | int | None]:
    """{"mean", "std" (ddof=0), "n"} of the values; mean and std None when there are none."""
    if not values:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def value_at(steps: np.ndarray, values: np.ndarray, step: float) -> float | None:
    """The curve at `step`, linear between evaluations; None outside the curve's step range."""
    if not len(steps) or step < steps[0] or step > steps[-1]:
        return None
    return float(np.interp(step, steps, values))


def normalised_auc(steps: np.ndarray, values: np.ndarray, start: float, end: float) -> float | None:
    """Trapezoid area under the curve over [start, end] (end points interpolated) / (end - start): a mean return.
    None when the range is empty or the curve does not cover it."""
    if end <= start or not len(steps) or start < steps[0] or end > steps[-1]:
        return None
    inside = (steps > start) & (steps < end)
    x = np.concatenate([[start], steps[inside], [end]])
    y = np.concatenate([[np.interp(start, steps, values)], values[inside], [np.interp(end, steps, values)]])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / (end - start))


def steps_to_threshold(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """The first evaluation step whose return is at least `threshold`; None when no evaluation reaches it."""
    reached = np.flatnonzero(values >= threshold)
    return int(steps[reached[0]]) if len(reached) else None


def common_eval_steps(curves: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
    """The evaluation steps every curve has."""
    shared = set.intersection(*(set(int(step) for step in steps) for steps, _ in curves)) if curves else set()
    return sorted(shared)


def _task_summary(task: str, groups: dict[str, list[RunData]], at: list[int] | None, threshold: float | None) -> dict[str, Any]:
    curves = {label: [(run, run.eval_series(RETURN_KEY)) for run in runs] for label, runs in groups.items()}
    evaluated = [curve for members in curves.values() for _, curve in members if len(curve[0])]
    notes: list[str] = []
    at_steps = list(at) if at is not None else common_eval_steps(evaluated)
    if at is None and not at_steps:
        notes.append(f"{task}: the runs share no evaluation step; pass --at for returns at fixed steps")
    spanning = [curve for curve in evaluated if len(curve[0]) >= 2]
    start = max((float(steps[0]) for steps, _ in spanning), default=0.0)
    end = min((float(steps[-1]) for steps, _ in spanning), default=0.0)
    if end <= start:
        notes.append(f"{task}: the runs' evaluation curves share no step range; no area under the curve")
    source = "given (--threshold)"
    if threshold is None:
        finals = [float(values[-1]) for _, values in evaluated]
        threshold = max(finals) * DEFAULT_THRESHOLD_FRACTION
        source = "a third of the best final evaluation return of the task"
    methods: list[dict[str, Any]] = []
    for label, members in curves.items():
        per_seed = []
        for run, (steps, values) in members:
            per_seed.append({
                "seed": run.seed, "path": str(run.path), "evaluations": len(steps),
                "at": [value_at(steps, values, step) for step in at_steps],
                "auc": normalised_auc(steps, values, start, end),
                "steps_to_threshold": steps_to_threshold(steps, values, threshold) if len(steps) else None,
            })
        reached = [seed["steps_to_threshold"] for seed in per_seed if seed["steps_to_threshold"] is not None]
        methods.append({
            "method": label, "seeds": [seed["seed"] for seed in per_seed], "per_seed": per_seed,
            "at": [{"step": step, **mean_std([seed["at"][index] for seed in per_seed if seed["at"][index] is not None])}
                   for index, step in enumerate(at_steps)],
            "auc": mean_std([seed["auc"] for seed in per_seed if seed["auc"] is not None]),
            "steps_to_threshold": {**mean_std([float(step) for step in reached]), "reached": len(reached), "runs": len(per_seed)},
        })
    baseline = next((method for method in methods if base_method(method["method"]) == BASELINE), None)
    if baseline is None:
        notes.append(f"{task}: no {BASELINE} (DreamerV2) runs; no paired comparison")
    else:
        reference = {seed["seed"]: seed["auc"] for seed in baseline["per_seed"] if seed["auc"] is not None}
        for method in methods:
            if method is baseline:
                continue
            differences = [{"seed": seed["seed"], "auc_difference": seed["auc"] - reference[seed["seed"]]}
                           for seed in method["per_seed"] if seed["auc"] is not None and seed["seed"] in reference]
            values = [entry["auc_difference"] for entry in differences]
            method["vs_baseline"] = {"baseline": baseline["method"], "per_seed": differences, **mean_std(values),
                                     "wins": sum(value > 0 for value in values)}
    return {"task": task, "at_steps": at_steps, "auc_range": [start, end] if end > start else None,
            "threshold": threshold, "threshold_source": source, "baseline": baseline["method"] if baseline else None,
            "methods": methods, "notes": notes}


def sample_efficiency(groups: dict[tuple[str, str], list[RunData]], at: list[int] | None = None,
                      threshold: float | None = None) -> list[dict[str, Any]]:
    """One summary per task whose runs logged an evaluation return (see the module docstring).

    groups: the report's groups, (task, label) -> runs. at: env steps for the fixed-step returns
    (None: the evaluation steps all the task's runs share). threshold: the return that counts as
    reached (None: a third of the task's best final evaluation return).
    """
    by_task: dict[str, dict[str, list[RunData]]] = {}
    for (task, label), runs in groups.items():
        by_task.setdefault(task, {})[label] = runs
    return [_task_summary(task, members, at, threshold) for task, members in by_task.items()
            if any(len(run.eval_series(RETURN_KEY)[0]) for runs in members.values() for run in runs)]
