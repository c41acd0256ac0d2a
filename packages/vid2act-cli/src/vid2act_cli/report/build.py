"""`build_report`: load runs, draw the figures, write the HTML page, summary.json and sample_efficiency.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vid2act_core.naming import slugify

from vid2act_cli.compose.runs import DONE_MARKER
from vid2act_cli.report.efficiency import sample_efficiency
from vid2act_cli.report.grouping import describe_groups
from vid2act_cli.report.page import final_numbers, page_html
from vid2act_cli.report.plots import plot_diagnostics, plot_eval, plot_model_loss, plot_open_loop, plot_selected, plot_selected_over_time, plot_task_weights, latest_open_loop_gif
from vid2act_cli.report.runs import RETURN_KEY, SUCCESS_KEY, NotARunError, RunData, expand_run_paths, group_runs, load_run


@dataclass
class Report:
    """What `build_report` wrote."""

    html: Path
    figures: dict[str, Path]
    """Figure key (eval_return, eval_success, task_weights, selected_teacher, selected_over_time, model_loss, diagnostics,
    open_loop_*) -> PNG."""
    rows: list[dict[str, Any]]
    notes: list[str]
    efficiency: list[dict[str, Any]]
    """`efficiency.sample_efficiency`: one summary per task with evaluations, also in sample_efficiency.json."""



def build_report(run_dirs: list[str | Path], out: str | Path, at: list[int] | None = None, threshold: float | None = None) -> Report:
    """Load runs (an experiment directory stands for its runs), draw the figures into `out`, write `out/index.html`;
    NotARunError names a bad path.

    at: env steps for the sample-efficiency returns (None: the evaluation steps all runs of a task share);
    threshold: the return counted as reached (None: a third of a task's best final evaluation return).
    """
    run_dirs, notes = expand_run_paths(run_dirs)
    runs: list[RunData] = []
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
    notes.extend(describe_groups(groups))
    for run in runs:
        if not run.series(RETURN_KEY)[0].size and "deterministic" not in run.evaluations:
            notes.append(f"{run.path}: no evaluations yet ({run.last_step} env steps logged)")
        if not run.done:
            notes.append(f"{run.path}: unfinished (no {DONE_MARKER} marker); plotted up to {run.last_step} env steps")
    figures: dict[str, Path] = {"eval_return": plot_eval(groups, RETURN_KEY, "return", out / "eval_return.png")}
    if any(run.eval_series(SUCCESS_KEY)[0].size for run in runs):
        figures["eval_success"] = plot_eval(groups, SUCCESS_KEY, "success rate", out / "eval_success.png")
    for key, function in (("task_weights", plot_task_weights), ("selected_teacher", plot_selected),
                          ("selected_over_time", plot_selected_over_time), ("model_loss", plot_model_loss),
                          ("diagnostics", plot_diagnostics)):
        result = function(groups, out / f"{key}.png")
        if result is not None:
            figures[key] = result
    for (task, method), group in groups.items():
        with_video = [run for run in group if latest_open_loop_gif(run) is not None]
        if with_video:
            key = f"open_loop_{task.replace(':', '_')}_{slugify(method)}"
            result = plot_open_loop(with_video[0], out / f"{key}.png")
            if result is not None:
                figures[key] = result
    rows = final_numbers(groups)
    efficiency = sample_efficiency(groups, at, threshold)
    (out / "sample_efficiency.json").write_text(json.dumps({"tasks": efficiency}, indent=2) + "\n")
    html_path = out / "index.html"
    html_path.write_text(page_html(runs, rows, figures, notes, efficiency))
    (out / "summary.json").write_text(json.dumps({"runs": [str(run.path) for run in runs], "rows": rows, "notes": notes}, indent=2) + "\n")
    return Report(html=html_path, figures=figures, rows=rows, notes=notes, efficiency=efficiency)
