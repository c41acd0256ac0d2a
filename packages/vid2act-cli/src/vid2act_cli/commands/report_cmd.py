"""`vid2act report RUN_DIR...|EXPERIMENT_DIR`: curves over seeds, task weights, teacher selection and open-loop predictions as PNG + HTML."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from vid2act_cli.commands.errors import cli_errors


def register(app: typer.Typer) -> None:
    @app.command("report")
    @cli_errors
    def report_command(
        run_dirs: list[Path] = typer.Argument(..., help="Run directories made by train or transfer, or an experiment directory (its runs/*); partial runs are fine."),
        out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: reports/<time>/)."),
    ) -> None:
        """Figures (evaluation return/success vs env steps, mean ± std over seeds per method and task, task weights, selected teacher, model losses, open-loop strip) and one self-contained HTML page."""
        from vid2act_cli.report import build_report

        target = out if out is not None else Path("reports") / time.strftime("%Y%m%d-%H%M%S")
        report = build_report(list(run_dirs), target)
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
        typer.echo(f"report: {report.html} ({len(report.figures)} figures)")
