"""`vid2act report`: PNG figures and one self-contained HTML page from run directories.

Runs are grouped by (task, method); curves show the mean over seeds with a band of one standard
deviation (the paper's figures: mean and std over 3 seeds), interpolated on a common grid of
environment steps. Partial runs are plotted as far as they got; a run without evaluations is
named in the page's notes.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vid2act_cli.compose.logger import read_metrics
from vid2act_cli.compose.runs import DONE_MARKER, RUN_CONFIG, load_run_config

RETURN_KEY = "eval/return_deterministic"
SUCCESS_KEY = "eval/success_deterministic"
WEIGHT_PREFIX = "losses/weight/"
SELECTED_PREFIX = "charts/selected/"
LOSS_KEYS = (("losses/image_loss", "image loss"), ("losses/reward_loss", "reward loss"))

METHOD_STYLE: dict[str, tuple[str, str]] = {
    "vid2act": ("Vid2Act", "tab:red"),
    "dreamer": ("DreamerV2", "tab:blue"),
    "init": ("DreamerV2 (pretrained init)", "tab:purple"),
    "uniform": ("Vid2Act w/o task weights", "tab:orange"),
    "noguide": ("Vid2Act w/o action guidance", "tab:green"),
}
"""Label and colour per method (the ablations use the paper's Fig. 4 colours)."""
METHOD_ORDER = tuple(METHOD_STYLE)
MAX_GRID_POINTS = 200


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
    )


def group_runs(runs: list[RunData]) -> dict[tuple[str, str], list[RunData]]:
    """Runs by (task, method), tasks in first-seen order and methods in the paper's order."""
    groups: dict[tuple[str, str], list[RunData]] = defaultdict(list)
    for run in runs:
        groups[(run.task, run.method)].append(run)
    tasks = list(dict.fromkeys(run.task for run in runs))

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        task, method = key
        rank = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
        return tasks.index(task), rank, method

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


def _style(method: str) -> tuple[str, str]:
    return METHOD_STYLE.get(method, (method, "tab:gray"))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
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
                label, color = _style(method)
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


def plot_task_weights(groups: dict[tuple[str, str], list[RunData]], path: Path) -> Path | None:
    """One panel per (task, method) with teachers: each teacher's mean task weight (Eq. 3) over training."""
    panels = [(key, runs) for key, runs in groups.items() if any(run.series(WEIGHT_PREFIX + t)[0].size for run in runs for t in run.teachers)]
    if not panels:
        return None
    plt = _plt()
    colors = plt.get_cmap("tab10")
    figure, axes = _subplots(len(panels))
    for axis, ((task, method), runs) in zip(axes, panels):
        teachers = list(dict.fromkeys(t for run in runs for t in run.teachers))
        for index, teacher in enumerate(teachers):
            grid, mean, std, _ = aggregate([run.series(WEIGHT_PREFIX + teacher) for run in runs])
            if len(grid):
                _band(axis, grid, mean, std, colors(index % 10), teacher)
        if teachers:
            axis.axhline(1 / len(teachers), color="gray", linestyle=":", linewidth=1)
        axis.set_title(f"{task} - {_style(method)[0]}", fontsize=10)
        axis.set_xlabel("environment steps")
        axis.set_ylabel("task weight")
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return _save(figure, path)


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
        axis.bar(range(len(names)), [shares[name] for name in names], color=_style(method)[1], alpha=0.8)
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        axis.set_ylim(0, 1)
        axis.set_ylabel("share of acting steps")
        axis.set_title(f"{task} - {_style(method)[0]}", fontsize=10)
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
                        _band(axis, grid, mean, std, _style(method)[1], _style(method)[0])
            axis.set_title(f"{task}: {label}", fontsize=10)
            axis.set_xlabel("environment steps")
            axis.grid(alpha=0.3)
            if axis.lines:
                axis.legend(fontsize=7)
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
    import imageio.v3 as iio

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
    figure.suptitle(f"open-loop prediction, {run.task} {_style(run.method)[0]} seed {run.seed} at {step} env steps "
                    f"(first {context} frames observed, then imagined from actions)", fontsize=9)
    return _save(figure, path)


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{np.mean(values):.3g} ± {np.std(values):.2g}"


def final_numbers(groups: dict[tuple[str, str], list[RunData]]) -> list[dict[str, Any]]:
    """One row per (task, method): last evaluation return/success over seeds, `vid2act evaluate` results, dominant teacher."""
    rows = []
    for (task, method), runs in groups.items():
        returns = [float(run.series(RETURN_KEY)[1][-1]) for run in runs if run.series(RETURN_KEY)[0].size]
        successes = [float(run.series(SUCCESS_KEY)[1][-1]) for run in runs if run.series(SUCCESS_KEY)[0].size]
        evaluated = [run.evaluations["deterministic"] for run in runs if "deterministic" in run.evaluations]
        dominant = Counter(run.summary["dominant_teacher"] for run in runs if run.summary and "dominant_teacher" in run.summary)
        row: dict[str, Any] = {
            "task": task, "method": method, "seeds": len(runs), "done": sum(run.done for run in runs),
            "env_steps": min(run.last_step for run in runs),
            "last_eval_return": returns, "last_eval_success": successes,
            "evaluate_return": [float(result["return_mean"]) for result in evaluated],
            "evaluate_success": [float(result["success_rate"]) for result in evaluated if "success_rate" in result],
            "evaluate_episodes": sorted({int(result["episodes"]) for result in evaluated}),
        }
        if dominant:
            name, votes = dominant.most_common(1)[0]
            weights = [run.summary["final_mean_weight"][name] for run in runs
                       if run.summary and name in run.summary.get("final_mean_weight", {})]
            row["dominant_teacher"] = name
            row["dominant_votes"] = votes
            row["dominant_weight"] = float(np.mean(weights)) if weights else None
        rows.append(row)
    return rows


def _table_html(rows: list[dict[str, Any]]) -> str:
    header = ("task", "method", "seeds (done)", "env steps", "last eval return", "last eval success",
              "vid2act evaluate return", "vid2act evaluate success", "dominant teacher")
    lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in header) + "</tr>"]
    for row in rows:
        dominant = "-"
        if "dominant_teacher" in row:
            weight = f", weight {row['dominant_weight']:.2f}" if row.get("dominant_weight") is not None else ""
            dominant = f"{row['dominant_teacher']} ({row['dominant_votes']}/{row['seeds']} seeds{weight})"
        episodes = f" ({'/'.join(map(str, row['evaluate_episodes']))} ep.)" if row["evaluate_episodes"] else ""
        cells = (row["task"], _style(row["method"])[0], f"{row['seeds']} ({row['done']})", str(row["env_steps"]),
                 _mean_std(row["last_eval_return"]), _mean_std(row["last_eval_success"]),
                 _mean_std(row["evaluate_return"]) + (episodes if row["evaluate_return"] else ""),
                 _mean_std(row["evaluate_success"]), dominant)
        lines.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


@dataclass
class Report:
    """What `build_report` wrote."""

    html: Path
    figures: dict[str, Path]
    """Figure key (eval_return, eval_success, task_weights, selected_teacher, model_loss, open_loop_*) -> PNG."""
    rows: list[dict[str, Any]]
    notes: list[str]


CAPTIONS = {
    "eval_return": "Evaluation return (deterministic policy) against environment steps: mean over seeds, band = ± one std.",
    "eval_success": "Evaluation success rate (an episode succeeds if the task reports success at any step): mean ± std over seeds.",
    "task_weights": "Task weights of each teacher over training (softmax of f_weight, Eq. 3; dotted: uniform).",
    "selected_teacher": "Selected teacher k (argmax of the task weights) while acting: share of environment steps.",
    "model_loss": "World-model losses of the agent: image reconstruction and reward.",
}


def build_report(run_dirs: list[str | Path], out: str | Path) -> Report:
    """Load runs, draw the figures into `out`, write `out/index.html`; NotARunError names a bad path."""
    runs: list[RunData] = []
    notes: list[str] = []
    for path in run_dirs:
        try:
            runs.append(load_run(path))
        except NotARunError as error:
            if "pretraining" in str(error) and len(run_dirs) > 1:
                notes.append(f"skipped {path}: teacher pretraining directory")
                continue
            raise
    if not runs:
        raise NotARunError("no train/transfer run directories given")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups = group_runs(runs)
    for run in runs:
        if not run.series(RETURN_KEY)[0].size and "deterministic" not in run.evaluations:
            notes.append(f"{run.path}: no evaluations yet ({run.last_step} env steps logged)")
        if not run.done:
            notes.append(f"{run.path}: unfinished (no {DONE_MARKER} marker); plotted up to {run.last_step} env steps")
    figures: dict[str, Path] = {"eval_return": plot_eval(groups, RETURN_KEY, "return", out / "eval_return.png")}
    if any(run.eval_series(SUCCESS_KEY)[0].size for run in runs):
        figures["eval_success"] = plot_eval(groups, SUCCESS_KEY, "success rate", out / "eval_success.png")
    for key, function in (("task_weights", plot_task_weights), ("selected_teacher", plot_selected), ("model_loss", plot_model_loss)):
        result = function(groups, out / f"{key}.png")
        if result is not None:
            figures[key] = result
    for (task, method), group in groups.items():
        with_video = [run for run in group if latest_open_loop_gif(run) is not None]
        if with_video:
            key = f"open_loop_{task.replace(':', '_')}_{method}"
            result = plot_open_loop(with_video[0], out / f"{key}.png")
            if result is not None:
                figures[key] = result
    rows = final_numbers(groups)
    html_path = out / "index.html"
    html_path.write_text(_page(runs, rows, figures, notes))
    (out / "summary.json").write_text(json.dumps({"runs": [str(run.path) for run in runs], "rows": rows, "notes": notes}, indent=2) + "\n")
    return Report(html=html_path, figures=figures, rows=rows, notes=notes)


def _figure_html(key: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = CAPTIONS.get(key) or "Open-loop prediction strip: truth, the model's prediction and their difference."
    return (f'<figure><a href="{html.escape(path.name)}"><img src="data:image/png;base64,{data}" alt="{html.escape(key)}"></a>'
            f"<figcaption>{html.escape(caption)} <a href=\"{html.escape(path.name)}\">{html.escape(path.name)}</a></figcaption></figure>")


def _page(runs: list[RunData], rows: list[dict[str, Any]], figures: dict[str, Path], notes: list[str]) -> str:
    run_items = "".join(
        f"<li><code>{html.escape(str(run.path))}</code>: {html.escape(run.task)}, {html.escape(_style(run.method)[0])}, seed {run.seed}"
        f"{', teachers ' + html.escape(', '.join(run.teachers)) if run.teachers else ''}, {run.last_step} env steps"
        f"{'' if run.done else ' (unfinished)'}</li>" for run in runs
    )
    note_items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    body = "\n".join(_figure_html(key, path) for key, path in figures.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vid2act report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1300px; }}
table {{ border-collapse: collapse; margin: 1em 0; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 0.9em; }}
th {{ background: #f3f3f3; }} img {{ max-width: 100%; }} figure {{ margin: 1.5em 0; }} figcaption {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<h1>vid2act report</h1>
<p>Generated {html.escape(time.strftime('%Y-%m-%d %H:%M:%S'))} from {len(runs)} run(s). Figures are embedded; the PNG files sit beside this page.</p>
<h2>Final numbers</h2>
<p>"last eval" is the last evaluation logged during training (mean ± std over seeds); "vid2act evaluate" is the
result of <code>vid2act evaluate</code> on the final checkpoint, where it was run.</p>
{_table_html(rows)}
{'<h2>Notes</h2><ul>' + note_items + '</ul>' if notes else ''}
<h2>Figures</h2>
{body}
<h2>Runs</h2><ul>{run_items}</ul>
</body></html>
"""
