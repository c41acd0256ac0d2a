"""`vid2act experiment NAME`: the paper's experiment grids, run in order or printed for a scheduler."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import EXIT_FAILURE, cli_errors, fail


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    @cli_errors
    def experiment_command(
        name: str = typer.Argument(..., help="paper-metaworld or paper-dmc."),
        print_only: bool = typer.Option(False, "--print", help="Print one `uv run vid2act ...` line per job (dependency order) instead of running."),
        scale: float = typer.Option(1.0, "--scale", help="Multiply step budgets and episode counts (e.g. 0.01 for a local trial)."),
        seeds: int = typer.Option(3, "--seeds", help="Seeds per (target, method)."),
        device: str = typer.Option("auto", "--device", help="Device every job uses: cpu, cuda, cuda:N or auto."),
        root: Path = typer.Option(None, "--root", help="Where runs and the experiment's teacher registry go [default: experiments/NAME, or experiments/NAME-scaleF]."),
        preset: str = typer.Option(None, "--preset", help="Use this preset for every job instead of the paper's (e.g. small for a CPU trial)."),
    ) -> None:
        """Expand a paper experiment (experts, teachers, transfer runs with baselines and ablations) and run it; re-running skips finished jobs and resumes interrupted ones."""
        from vid2act_cli.experiments import JobFailedError, expand_experiment, run_jobs

        if preset is not None:
            from vid2act_core.config import preset as load_preset

            load_preset(preset)
        jobs = expand_experiment(name, root, scale, seeds, device, preset)
        if print_only:
            for job in jobs:
                typer.echo(job.shell_line())
            return
        try:
            ran = run_jobs(jobs, title=name)
        except JobFailedError as error:
            fail(str(error), EXIT_FAILURE)
        typer.echo(f"{name}: all {len(jobs)} jobs finished ({ran} run now); report: uv run vid2act report {jobs[-1].done_file.parent.parent}/*")
