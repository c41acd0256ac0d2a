"""`vid2act evaluate RUN_DIR`: return and success of a trained run."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import cli_errors


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    @cli_errors
    def evaluate_command(
        run_dir: Path = typer.Argument(..., help="A run directory made by train or transfer."),
        episodes: int = typer.Option(10, "--episodes", help="Evaluation episodes."),
        deterministic: bool = typer.Option(True, "--deterministic/--stochastic", help="Actor mode (deterministic) or sampled actions."),
        video: bool = typer.Option(False, "--video", help="Also write a GIF of the first episode under RUN_DIR/videos/."),
        device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto."),
        seed: int | None = typer.Option(
            None, "--seed", help="Reset seed of the first evaluation episode (episode i uses SEED + i). Default: derived from the run's training seed."
        ),
        workers: int = typer.Option(1, "--workers", help="Worker processes running episodes in parallel (one agent and environment each)."),
    ) -> None:
        """Evaluate a run's latest checkpoint; writes evaluation_<mode>.json beside the run."""
        from vid2act_cli import api

        result = api.evaluate(api.EvaluateRequest(run_dir=run_dir, episodes=episodes, deterministic=deterministic,
                                                  video=video, device=device, seed=seed, workers=workers))
        line = (f"{result.task} ({result.method}, {result.env_steps_trained} env steps, {result.mode}): "
                f"return {result.return_mean:.1f} ± {result.return_std:.1f}")
        if result.success_rate is not None:
            line += f", success {result.success_rate:.2f}"
        typer.echo(f"{line} over {result.episodes} episodes -> {result.file}")
        if result.video is not None:
            typer.echo(f"video: {result.video}")
