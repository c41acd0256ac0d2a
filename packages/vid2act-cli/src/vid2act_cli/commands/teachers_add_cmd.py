"""`vid2act teachers add TASK`: expert -> dataset -> pretraining -> registry (`api.add_teacher`)."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.teachers_cmd import teachers_app
from vid2act_cli.commands.errors import cli_errors, fail
from vid2act_cli.commands.help_text import PRESET_HELP


def add_command(
    task: str = typer.Argument(..., help="Source task, e.g. metaworld:door-open or walker_walk."),
    name: str = typer.Option(None, "--name", help="Teacher name (default: the task with ':' and '-' as '_')."),
    episodes: int = typer.Option(None, "--episodes", "-n", help="Episodes to collect (default: 10 with a scripted expert, 50 with a trained agent)."),
    policy: str = typer.Option("expert", "--policy", help="expert (the domain's scripted one, or the --expert kind where the domain has none), random, or a `vid2act train` RUN_DIR."),
    expert: str = typer.Option("state", "--expert", help="Expert where the domain has no scripted one: state (SAC from state, DMC; cached under $VID2ACT_HOME/experts/) or dreamer (pixel DreamerV2 agent)."),
    expert_steps: int = typer.Option(None, "--expert-steps", help="Expert budget: agent steps of the state expert (default per task, see docs/experts.md), env steps of a dreamer expert (default: the preset's train.steps)."),
    steps: int = typer.Option(None, "--steps", help="Pretraining gradient steps (default: the preset's pretrain.steps)."),
    preset: str = typer.Option("small", "--preset", help=PRESET_HELP),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto."),
    data: list[Path] = typer.Option([], "--data", help="Use these HDF5 datasets of TASK instead of collecting (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (collection, expert training, pretraining)."),
    overrides: list[str] = typer.Option([], "--set", help="Override one config key, e.g. --set env.episode_steps=100."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    replay_set_mb: float = typer.Option(4.0, "--replay-set-mb", help="Size budget (MiB) of the action-replay set stored with the teacher."),
    workers: int = typer.Option(None, "--workers", help="Processes collecting the dataset (default: min(2, usable cores); 1 with an agent of a RUN_DIR). The data do not depend on it."),
) -> None:
    """Collect expert episodes (if needed), pretrain a teacher on them and register it; re-running resumes."""
    from vid2act_teachers.plugins import PluginError

    from vid2act_cli import api
    from vid2act_cli.commands.console import RichReporter

    request = api.AddTeacherRequest(
        task=task, name=name, episodes=episodes, policy=policy, expert=expert, expert_steps=expert_steps, steps=steps,
        preset=preset, device=device, data=tuple(data), seed=seed, overrides=tuple(overrides), replay_set_mb=replay_set_mb,
        workers=workers,
    )
    try:
        info = api.add_teacher(request, RichReporter(progress))
    except PluginError as error:
        fail(str(error))
    typer.echo(
        f"teacher {info.name} ({info.task}, {info.train_steps} steps) is registered: {info.path}"
    )


def register(app: typer.Typer) -> None:
    """Attach `add` to the `teachers` sub-app (which `teachers_cmd.register` puts on `app`)."""
    teachers_app.command("add")(cli_errors(add_command))
