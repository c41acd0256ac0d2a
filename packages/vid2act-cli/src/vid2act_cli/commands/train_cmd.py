"""`vid2act train`: DreamerV2 from scratch on one task (the paper's baseline)."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import cli_errors
from vid2act_cli.commands.help_text import AUTO_PRESET_HELP


def register(app: typer.Typer) -> None:
    @app.command("train")
    @cli_errors
    def train_command(
        task: str = typer.Option(..., "--task", help="Task name, e.g. cartpole_swingup or metaworld:door-open."),
        preset: str = typer.Option("auto", "--preset", help=AUTO_PRESET_HELP),
        device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto."),
        logdir: Path = typer.Option(None, "--logdir", help="Run directory (default: runs/<task>-dreamer-<seed>-<time>; an unfinished one is resumed)."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        steps: int = typer.Option(None, "--steps", help="Environment steps (overrides the preset's train.steps)."),
        config_file: Path = typer.Option(None, "--config", help="YAML file of config overrides."),
        overrides: list[str] = typer.Option([], "--set", help="Override one config key, e.g. --set world_model.deter=256."),
        root: Path = typer.Option(Path("runs"), "--root", help="Where new run directories are created."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    ) -> None:
        """Train a DreamerV2 agent online from scratch; re-running the same command resumes."""
        from vid2act_cli import api
        from vid2act_cli.commands.console import RichReporter

        request = api.TrainRequest(task=task, preset=preset, device=device, logdir=logdir, seed=seed, steps=steps,
                                   config_file=config_file, overrides=tuple(overrides), root=root)
        result = api.train(request, RichReporter(progress, bars_on_stderr=False))
        typer.echo(f"done: {result.env_steps} env steps, {result.updates} updates, {result.episodes} episodes"
                   f" -> {result.run_dir}")
