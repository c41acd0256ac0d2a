"""`vid2act report RUN_DIR...|EXPERIMENT_DIR`: curves over seeds, task weights, teacher selection and open-loop predictions as PNG + HTML."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from vid2act_cli.commands.errors import cli_errors, fail


def parse_steps(text: str) -> list[int]:
    """"10000,50000" -> [10000, 50000]; anything but comma-separated non-negative integers is a one-line error."""
    try:
        steps = [int(part) for part in text.split(",")]
    except ValueError:
        steps = []
    if not steps or any(step < 0 for step in steps):
        fail(f"--at: expected comma-separated env steps (non-negative integers, e.g. 10000,50000), got {text!r}")
    return sorted(set(steps))


def parse_threshold(text: str) -> float:
    """A finite return; anything else is a one-line error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        fail(f"--threshold: expected a finite evaluation return (e.g. 300), got {text!r}")
    return value


def register(app: typer.Typer) -> None:
    @app.command("report")
    @cli_errors
    def report_command(
        run_dirs: list[Path] = typer.Argument(..., help="Run directories made by train or transfer, or an experiment directory (its runs/*); partial runs are fine."),
        out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: reports/<time>/)."),
        at: str = typer.Option(None, "--at", help="Env steps for the sample-efficiency returns, comma-separated (default: the evaluation steps all runs of a task share)."),
        threshold: str = typer.Option(None, "--threshold", help="Evaluation return counted as reached for steps-to-threshold (default: a third of a task's best final return)."),
    ) -> None:
        """Figures (evaluation return/success vs env steps, mean ± std over seeds per method and task, task weights, selected teacher, model losses, per-run diagnostics, open-loop strip), a sample-efficiency summary (sample_efficiency.json) and one self-contained HTML page."""
        from vid2act_cli import api

        steps = tuple(parse_steps(at)) if at is not None else None
        level = parse_threshold(threshold) if threshold is not None else None
        report = api.report(api.ReportRequest(run_dirs=tuple(run_dirs), out=out, at=steps, threshold=level))
        for note in report.notes:
            typer.echo(f"note: {note}", err=True)
        for row in report.rows:
            parts = [f"{row['task']} {row['method']}: {row['seeds']} seed(s), {row['env_steps']} env steps"]
            if row["last_eval_return"]:
                parts.append(f"last eval return {sum(row['last_eval_return']) / len(row['last_eval_return']):.1f}")
            if row["last_eval_success"]:
                parts.append(f"success {sum(row['last_eval_success']) / len(row['last_eval_success']):.2f}")
            if "dominant_teacher" in row:
                parts.append(f"dominant teacher {row['dominant_teacher']}")
            typer.echo(", ".join(parts))
        for task in report.efficiency:
            for method in task["methods"]:
                auc, reach, versus = method["auc"], method["steps_to_threshold"], method.get("vs_baseline")
                parts = [f"{task['task']} {method['method']}: AUC " + ("-" if auc["mean"] is None else f"{auc['mean']:.1f} ± {auc['std']:.1f}"),
                         f"reached {task['threshold']:.1f} in {reach['reached']}/{reach['runs']} seed(s)"]
                if versus is not None and versus["mean"] is not None:
                    parts.append(f"AUC vs {versus['baseline']} {versus['mean']:+.1f} ± {versus['std']:.1f}, wins {versus['wins']}/{versus['n']}")
                typer.echo(", ".join(parts))
        typer.echo(f"report: {report.html} ({len(report.figures)} figures)")
