"""`vid2act demo`: collect, pretrain, transfer, evaluate and report, small, on the CPU (its jobs side by side on all cores)."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import EXIT_FAILURE, cli_errors, fail


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @cli_errors
    def demo_command(
        out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Demo folder (its own teacher registry in OUT/home)."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto."),
        jobs: int = typer.Option(None, "--jobs", "-j",
                                 help="Jobs side by side, each with cores // jobs threads (default: all cores, at most 4: what can run at once)."),
    ) -> None:
        """The whole pipeline on two Meta-World sources and one target; re-running continues or reuses what is done."""
        from vid2act_cli import api
        from vid2act_cli.commands.console import RichReporter

        try:
            result = api.demo(api.DemoRequest(out=out, device=device, jobs=jobs), RichReporter())
        except api.StageFailedError as error:
            fail(str(error), EXIT_FAILURE)
        for row in result.rows:
            parts = [f"{row['task']} {row['method']}"]
            if row["evaluate_return"]:
                parts.append(f"return {row['evaluate_return'][0]:.1f}")
            if row["evaluate_success"]:
                parts.append(f"success {row['evaluate_success'][0]:.2f}")
            if "dominant_teacher" in row:
                parts.append(f"dominant teacher {row['dominant_teacher']}")
            typer.echo(", ".join(parts))
        typer.echo(f"demo finished in {result.seconds / 60:.1f} min; report: {result.page}")
