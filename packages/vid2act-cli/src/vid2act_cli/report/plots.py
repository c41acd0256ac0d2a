"""The report's figures as PNG files: evaluation curves (mean ± std over seeds), task weights, selected teacher, losses,
per-run diagnostics, open-loop strip."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import matplotlib
import numpy as np

from vid2act_cli.report.runs import (DIAG_PREFIX, LOSS_KEYS, SELECTED_PREFIX, SUCCESS_KEY, SWITCH_RATE_SERIES, WEIGHT_PREFIX, RunData,
                                     aggregate, method_style)


def _plt():
    matplotlib.use("Agg")
    # why: pyplot only after use("Agg"), at the first figure: importing this module must not load pyplot into a caller's session.
    import matplotlib.pyplot as plt

    return plt


def _subplots(count: int, ncols: int = 3, size: tuple[float, float] = (4.2, 3.2)):
    plt = _plt()
    ncols = max(1, min(ncols, count))
    nrows = max(1, math.ceil(count / ncols))
    figure, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    flat = list(axes.flat)
    for axis in flat[count:]:
        axis.set_visible(False)
    return figure, flat[:count]


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    _plt().close(figure)
    return path


def _band(axis: Any, grid: np.ndarray, mean: np.ndarray, std: np.ndarray, color: str, label: str) -> None:
    marker = "o" if len(grid) <= 12 else None
    axis.plot(grid, mean, color=color, label=label, marker=marker, markersize=3, linewidth=1.6)
    if np.any(std > 0):
        axis.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)


def plot_eval(groups: dict[tuple[str, str], list[RunData]], key: str, ylabel: str, path: Path) -> Path:
    """One panel per task: an evaluation metric against env steps, one line per method (mean ± std over seeds)."""
    tasks = list(dict.fromkeys(task for task, _ in groups))
    figure, axes = _subplots(len(tasks))
    for axis, task in zip(axes, tasks):
        plotted = False
        for (group_task, method), runs in groups.items():
            if group_task != task:
                continue
            grid, mean, std, _ = aggregate([run.eval_series(key) for run in runs])
            if len(grid):
                label, color = method_style(method)
                _band(axis, grid, mean, std, color, f"{label} (n={len(runs)})")
                plotted = True
        axis.set_title(task)
        axis.set_xlabel("environment steps")
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        if key == SUCCESS_KEY:
            axis.set_ylim(-0.05, 1.05)
        if plotted:
            axis.legend(fontsize=8)
        else:
            axis.text(0.5, 0.5, "no evaluations yet", ha="center", va="center", transform=axis.transAxes, color="gray")
    return _save(figure, path)


def _plot_teacher_series(
    groups: dict[tuple[str, str], list[RunData]], prefix: str, ylabel: str, path: Path,
    extra: tuple[str, str] | None = None,
) -> Path | None:
    """One panel per (task, method) with teachers: the logged series `prefix + teacher` of every teacher
    against env steps (mean ± std over seeds), or None when no run logged it; `extra` (key, label) adds
    one more series on the same axis, in black."""
    panels = [(key, runs) for key, runs in groups.items() if any(run.series(prefix + t)[0].size for run in runs for t in run.teachers)]
    if not panels:
        return None
    plt = _plt()
    colors = plt.get_cmap("tab10")
    figure, axes = _subplots(len(panels))
    for axis, ((task, method), runs) in zip(axes, panels):
        teachers = list(dict.fromkeys(t for run in runs for t in run.teachers))
        for index, teacher in enumerate(teachers):
            grid, mean, std, _ = aggregate([run.series(prefix + teacher) for run in runs])
            if len(grid):
                _band(axis, grid, mean, std, colors(index % 10), teacher)
        if extra is not None:
            grid, mean, std, _ = aggregate([run.series(extra[0]) for run in runs])
            if len(grid):
                _band(axis, grid, mean, std, "black", extra[1])
        if teachers:
            axis.axhline(1 / len(teachers), color="gray", linestyle=":", linewidth=1)
        axis.set_title(f"{task} - {method_style(method)[0]} (n={len(runs)})", fontsize=10)
        axis.set_xlabel("environment steps")
        axis.set_ylabel(ylabel)
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _save(figure, path)


def plot_task_weights(groups: dict[tuple[str, str], list[RunData]], path: Path) -> Path | None:
    """One panel per (task, method) with teachers: each teacher's mean task weight (Eq. 3) over training."""
    return _plot_teacher_series(groups, WEIGHT_PREFIX, "task weight", path)


def plot_selected_over_time(groups: dict[tuple[str, str], list[RunData]], path: Path) -> Path | None:
    """One panel per (task, method) with teachers: the share of acting steps on which each teacher was the
    selected k, per logging interval, over training, and (black) the share of steps within an episode on
    which k changed: 0 where one teacher is held for a whole episode."""
    return _plot_teacher_series(groups, SELECTED_PREFIX, "share of acting steps selected", path,
                                extra=(SWITCH_RATE_SERIES, "k changed within an episode"))


def selected_shares(runs: list[RunData]) -> dict[str, float]:
    """Mean share of acting steps on which each teacher was the selected k, over records and seeds."""
    teachers = list(dict.fromkeys(t for run in runs for t in run.teachers))
    shares = {}
    for teacher in teachers:
        values = [float(np.mean(run.series(SELECTED_PREFIX + teacher)[1])) for run in runs if run.series(SELECTED_PREFIX + teacher)[0].size]
        if values:
            shares[teacher] = float(np.mean(values))
    return shares


def plot_selected(groups: dict[tuple[str, str], list[RunData]], path: Path) -> Path | None:
    """Histogram of the selected teacher k (argmax of the task weights) while acting, per (task, method)."""
    panels = [(key, selected_shares(runs)) for key, runs in groups.items()]
    panels = [(key, shares) for key, shares in panels if shares]
    if not panels:
        return None
    figure, axes = _subplots(len(panels))
    for axis, ((task, method), shares) in zip(axes, panels):
        names = list(shares)
        axis.bar(range(len(names)), [shares[name] for name in names], color=method_style(method)[1], alpha=0.8)
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        axis.set_ylim(0, 1)
        axis.set_ylabel("share of acting steps")
        axis.set_title(f"{task} - {method_style(method)[0]}", fontsize=10)
        axis.grid(alpha=0.3, axis="y")
    return _save(figure, path)


def plot_model_loss(groups: dict[tuple[str, str], list[RunData]], path: Path) -> Path | None:
    """Image and reward loss of the (student) world model against env steps, per task, one line per method."""
    tasks = [task for task in dict.fromkeys(task for task, _ in groups)
             if any(run.series(key)[0].size for (t, _), runs in groups.items() if t == task for run in runs for key, _ in LOSS_KEYS)]
    if not tasks:
        return None
    plt = _plt()
    figure, axes = plt.subplots(len(tasks), len(LOSS_KEYS), figsize=(4.6 * len(LOSS_KEYS), 3.2 * len(tasks)), squeeze=False)
    for row, task in enumerate(tasks):
        for column, (key, label) in enumerate(LOSS_KEYS):
            axis = axes[row][column]
            for (group_task, method), runs in groups.items():
                if group_task == task:
                    grid, mean, std, _ = aggregate([run.series(key) for run in runs])
                    if len(grid):
                        _band(axis, grid, mean, std, method_style(method)[1], method_style(method)[0])
            axis.set_title(f"{task}: {label}", fontsize=10)
            axis.set_xlabel("environment steps")
            axis.grid(alpha=0.3)
            if axis.lines:
                axis.legend(fontsize=7)
    return _save(figure, path)


SEED_LINESTYLES = ("-", "--", ":", "-.")


def diagnostic_keys(runs: list[RunData]) -> list[str]:
    """The `diag/` statistics any of the runs logged, in first-seen order (full metric keys)."""
    return list(dict.fromkeys(key for run in runs for record in run.records for key in record if key.startswith(DIAG_PREFIX)))


def plot_diagnostics(groups: dict[tuple[str, str], list[RunData]], path: Path) -> Path | None:
    """One panel per `diag/` statistic, then the image and reward losses, against env steps: one line per run
    (colour = method, line style = seed), so a collapsing or gradient-starved seed stays visible rather than
    averaged away. None (no file) when no run logged a diagnostic."""
    runs = [run for group in groups.values() for run in group]
    keys = diagnostic_keys(runs)
    if not keys:
        return None
    panels = [(key, key[len(DIAG_PREFIX):]) for key in keys] + list(LOSS_KEYS)
    several_tasks = len({task for task, _ in groups}) > 1
    figure, axes = _subplots(len(panels))
    for axis, (key, title) in zip(axes, panels):
        for (task, method), group in groups.items():
            label, color = method_style(method)
            for index, run in enumerate(group):
                steps, values = run.series(key)
                if len(steps):
                    name = f"{task} {label} seed {run.seed}" if several_tasks else f"{label} seed {run.seed}"
                    axis.plot(steps, values, color=color, linestyle=SEED_LINESTYLES[index % len(SEED_LINESTYLES)],
                              marker="o" if len(steps) <= 12 else None, markersize=3, linewidth=1.4, label=name)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("environment steps")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7)
        else:
            axis.text(0.5, 0.5, "not logged", ha="center", va="center", transform=axis.transAxes, color="gray")
    return _save(figure, path)


def latest_open_loop_gif(run: RunData) -> Path | None:
    """The run's newest `videos/eval_open_loop_*.gif` (names carry the zero-padded step)."""
    files = sorted((run.path / "videos").glob("eval_open_loop_*.gif"))
    return files[-1] if files else None


def plot_open_loop(run: RunData, path: Path, columns: int = 8, context: int = 5) -> Path | None:
    """Truth, model prediction and difference of the first sequence of the newest open-loop GIF, at a few time steps."""
    gif = latest_open_loop_gif(run)
    if gif is None:
        return None
    frames = np.asarray(iio.imread(gif, index=None))[..., :3]  # (T, 4*S, 3*S, 3): sequences stacked vertically
    size = run.image_size
    if frames.ndim != 4 or frames.shape[1] < size or frames.shape[2] < 3 * size:
        return None
    steps = np.unique(np.linspace(0, len(frames) - 1, min(columns, len(frames))).round().astype(int))
    plt = _plt()
    figure, axes = plt.subplots(3, len(steps), figsize=(1.25 * len(steps) + 0.8, 4.2), squeeze=False)
    for column, t in enumerate(steps):
        for row, name in enumerate(("truth", "model", "|difference|")):
            axis = axes[row][column]
            axis.imshow(frames[t, :size, row * size:(row + 1) * size])
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(f"t={t}" + (" (obs)" if t < context else ""), fontsize=8)
            if column == 0:
                axis.set_ylabel(name, fontsize=9)
    step = gif.stem.rsplit("_", 1)[-1].lstrip("0") or "0"
    figure.suptitle(f"open-loop prediction, {run.task} {method_style(run.method)[0]} seed {run.seed} at {step} env steps "
                    f"(first {context} frames observed, then imagined from actions)", fontsize=9)
    return _save(figure, path)
