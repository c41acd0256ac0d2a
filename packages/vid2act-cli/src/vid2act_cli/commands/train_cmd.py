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
        from vid2act_core.config import load_config

        from vid2act_cli.commands.console import RichReporter
        from vid2act_cli.compose.devices import explicit_preset, resolve_preset
        from vid2act_cli.compose.runs import requested_keys
        from vid2act_cli.compose.validation import require_count
        from vid2act_cli.compose.training import train_task

        reporter = RichReporter(progress, bars_on_stderr=False)
        config = load_config(resolve_preset(preset, device, task, reporter), config_file, list(overrides))
        config.env.task = task
        config.seed = seed
        if steps is not None:
            config.train.steps = require_count(steps, "--steps")
        explicit = {"task": "--task", **requested_keys(explicit_preset(preset), config_file, overrides)}
        state, run_dir = train_task(config, device, logdir, root, reporter, explicit)
        typer.echo(f"done: {state.env_steps} env steps, {state.updates} updates, {state.episodes} episodes -> {run_dir}")
