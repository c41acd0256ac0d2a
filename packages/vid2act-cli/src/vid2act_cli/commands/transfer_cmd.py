"""`vid2act transfer`: train a student on a target task with the registry's teachers."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_core.config import TransferConfig
from vid2act_core.config_schema import field_choices
from vid2act_core.methods import method_names

from vid2act_cli.commands.errors import cli_errors
from vid2act_cli.commands.help_text import AUTO_PRESET_HELP

DEFAULTS = TransferConfig()


def register(app: typer.Typer) -> None:
    @app.command("transfer")
    @cli_errors
    def transfer_command(
        target: str = typer.Option(..., "--target", help="Target task, e.g. quadruped_run or metaworld:button-press."),
        teachers: str = typer.Option(None, "--teachers", help="Comma-separated teacher names (default, or 'all': every registered teacher that can serve the target)."),
        preset: str = typer.Option("auto", "--preset", help=AUTO_PRESET_HELP),
        alpha: float = typer.Option(None, "--alpha", help=f"Scale of the distillation loss (Eq. 5); default {DEFAULTS.alpha:g}."),
        scorer: str = typer.Option(
            None, "--scorer", help=f"Task weights W (Eq. 3): {', '.join(field_choices(TransferConfig, 'scorer'))}; default {DEFAULTS.scorer} (docs/method.md).",
        ),
        distill_form: str = typer.Option(
            None, "--distill-form", help=f"Distillation (Eq. 4): {', '.join(field_choices(TransferConfig, 'distill_form'))}; default {DEFAULTS.distill_form} (docs/method.md).",
        ),
        device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        steps: int = typer.Option(None, "--steps", help="Environment steps (overrides train.steps)."),
        logdir: Path = typer.Option(None, "--logdir", help="Run directory (default runs/<target>-<method>-<seed>-<time>; an unfinished one is resumed)."),
        root: Path = typer.Option(Path("runs"), "--root", help="Where new run directories are created."),
        no_distill: bool = typer.Option(False, "--no-distill", help="Baseline: DreamerV2 from scratch (no teachers)."),
        uniform_weights: bool = typer.Option(False, "--uniform-weights", help="Ablation: fixed uniform task weights."),
        no_guidance: bool = typer.Option(False, "--no-guidance", help="Ablation: no action-replay guidance for the actor."),
        method: str = typer.Option("vid2act", "--method", help="vid2act (with the switches below), or a baseline: apv (--init-from an action-free model) or isodream (docs/baselines.md); "
                                    f"any of {', '.join(method_names())} sets that method's switches."),
        init_from: str = typer.Option(None, "--init-from", help="Baseline: DreamerV2 initialised from this teacher's or multitask model's weights (vid2act pretrain --multitask)."),
        source_data: list[str] = typer.Option([], "--source-data", help="TEACHER=FILE.h5: action-replay pairs from this dataset instead of the teacher's stored set (repeatable)."),
        config_file: Path = typer.Option(None, "--config", help="YAML file of config overrides."),
        overrides: list[str] = typer.Option([], "--set", help="Override one config key, e.g. --set transfer.vae_units=400."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    ) -> None:
        """Vid2Act transfer (task-selective distillation + action replay guidance), or one of its baselines."""
        from vid2act_cli import api
        from vid2act_cli.commands.console import RichReporter

        request = api.TransferRequest(
            target=target, teachers=teachers, preset=preset, alpha=alpha, scorer=scorer, distill_form=distill_form,
            device=device, seed=seed, steps=steps, logdir=logdir, root=root, no_distill=no_distill,
            uniform_weights=uniform_weights, no_guidance=no_guidance, method=method, init_from=init_from,
            source_data=tuple(source_data), config_file=config_file, overrides=tuple(overrides),
        )
        result = api.transfer(request, RichReporter(progress, bars_on_stderr=False))
        typer.echo(f"done: {result.env_steps} env steps, {result.updates} updates -> {result.run_dir}")
        if result.dominant_teacher is not None:
            weights = ", ".join(f"{name} {value:.2f}" for name, value in result.final_mean_weight.items())
            typer.echo(f"task weights at the end: {weights}; dominant teacher: {result.dominant_teacher}")
