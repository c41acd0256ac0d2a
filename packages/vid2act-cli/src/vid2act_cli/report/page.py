"""The report's numbers and its self-contained HTML page (figures embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vid2act_cli.report.runs import RETURN_KEY, SUCCESS_KEY, RunData, method_style


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
        cells = (row["task"], method_style(row["method"])[0], f"{row['seeds']} ({row['done']})", str(row["env_steps"]),
                 _mean_std(row["last_eval_return"]), _mean_std(row["last_eval_success"]),
                 _mean_std(row["evaluate_return"]) + (episodes if row["evaluate_return"] else ""),
                 _mean_std(row["evaluate_success"]), dominant)
        lines.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _spread(summary: dict[str, Any]) -> str:
    """"mean ± std (n=...)" of a `efficiency.mean_std` result."""
    if summary["mean"] is None:
        return "-"
    return f"{summary['mean']:.3g} ± {summary['std']:.2g} (n={summary['n']})"


def efficiency_html(tasks: list[dict[str, Any]]) -> str:
    """The sample-efficiency section: per task, a table of methods (fixed-step returns, AUC, steps to the
    threshold, paired AUC difference against DreamerV2) and a table of every seed."""
    if not tasks:
        return ""
    parts = ["<h2>Sample efficiency</h2>",
             "<p>From the evaluation return curves (deterministic policy); mean ± std over seeds (ddof 0). AUC: the area under "
             "the curve over the step range every run of the task covers, divided by that range (a mean return). Steps to "
             "threshold: the first evaluation at or above it, over the seeds that reached it. Against DreamerV2: the AUC "
             "difference per shared seed, and the seeds where it is positive. The numbers are in sample_efficiency.json.</p>"]
    for task in tasks:
        span = task["auc_range"]
        parts.append(f"<h3>{html.escape(task['task'])}</h3><p>AUC over env steps "
                     f"{'-' if span is None else f'{span[0]:g} to {span[1]:g}'}; threshold {task['threshold']:.3g} "
                     f"({html.escape(task['threshold_source'])}).</p>")
        header = (["method", "seeds"] + [f"return at {step}" for step in task["at_steps"]]
                  + ["AUC", "steps to threshold (reached)", "AUC − DreamerV2 (wins)"])
        lines = ["<table>", "<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in header) + "</tr>"]
        for method in task["methods"]:
            reach = method["steps_to_threshold"]
            versus = method.get("vs_baseline")
            paired = "-" if versus is None or versus["mean"] is None else f"{_spread(versus)}, wins {versus['wins']}/{versus['n']}"
            cells = ([method_style(method["method"])[0], ", ".join(map(str, method["seeds"]))]
                     + [_spread(entry) for entry in method["at"]]
                     + [_spread(method["auc"]), f"{_spread(reach)} ({reach['reached']}/{reach['runs']})", paired])
            lines.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>")
        lines.append("</table>")
        header = ["method", "seed", "evaluations"] + [f"return at {step}" for step in task["at_steps"]] + ["AUC", "steps to threshold"]
        lines += ["<table>", "<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in header) + "</tr>"]
        for method in task["methods"]:
            for seed in method["per_seed"]:
                reached = "not reached" if seed["steps_to_threshold"] is None else str(seed["steps_to_threshold"])
                cells = ([method_style(method["method"])[0], seed["seed"], seed["evaluations"]]
                         + [_number(value) for value in seed["at"]] + [_number(seed["auc"]), reached])
                lines.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>")
        lines.append("</table>")
        parts.append("\n".join(lines))
        parts.extend(f"<p>{html.escape(note)}</p>" for note in task["notes"])
    return "\n".join(parts)


CAPTIONS = {
    "eval_return": "Evaluation return (deterministic policy) against environment steps: mean over seeds, band = ± one std.",
    "eval_success": "Evaluation success rate (an episode succeeds if the task reports success at any step): mean ± std over seeds.",
    "task_weights": "Task weights of each teacher over training (softmax of f_weight, Eq. 3; dotted: uniform).",
    "selected_teacher": "Selected teacher k (argmax of the task weights) while acting: share of environment steps.",
    "selected_over_time": "Selected teacher k while acting, over training: share of the acting steps of each logging interval (mean ± std over seeds); in black, the share of steps within an episode on which k changed (0: one teacher per episode).",
    "model_loss": "World-model losses of the agent: image reconstruction and reward.",
    "diagnostics": ("Diagnostics per run (colour = method, line style = seed): std of the student's deterministic and stochastic "
                    "features (collapse), std of the distillation target and prediction, ratio of the distillation to the world-model "
                    "gradient norm on the shared encoder and RSSM, guidance input statistics, then the image and reward losses."),
}


def _figure_html(key: str, path: Path) -> str:
    """A figure embedded as base64 PNG, linking its file, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = CAPTIONS.get(key) or "Open-loop prediction strip: truth, the model's prediction and their difference."
    return (f'<figure><a href="{html.escape(path.name)}"><img src="data:image/png;base64,{data}" alt="{html.escape(key)}"></a>'
            f"<figcaption>{html.escape(caption)} <a href=\"{html.escape(path.name)}\">{html.escape(path.name)}</a></figcaption></figure>")


def page_html(runs: list[RunData], rows: list[dict[str, Any]], figures: dict[str, Path], notes: list[str],
              efficiency: list[dict[str, Any]] | None = None) -> str:
    """The whole report page: final numbers, sample efficiency, notes, embedded figures, the runs it was made from."""
    run_items = "".join(
        f"<li><code>{html.escape(str(run.path))}</code>: {html.escape(run.task)}, {html.escape(method_style(run.method)[0])}, seed {run.seed}"
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
{efficiency_html(efficiency or [])}
{'<h2>Notes</h2><ul>' + note_items + '</ul>' if notes else ''}
<h2>Figures</h2>
{body}
<h2>Runs</h2><ul>{run_items}</ul>
</body></html>
"""
