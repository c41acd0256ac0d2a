"""`vid2act experts list|train|evaluate|collect`: state-based DMC experts (SAC) as cached artefacts."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from vid2act_cli.commands.errors import EXIT_FAILURE, cli_errors, fail
from vid2act_cli.commands.help_text import HELP_SETTINGS

experts_app = typer.Typer(help="State-based DeepMind Control experts: train, list, evaluate, collect pixel datasets.", no_args_is_help=True,
                          **HELP_SETTINGS)


def _fail(message: str) -> None:
    fail(" ".join(str(message).split()), EXIT_FAILURE)


def train_command(
    task: str = typer.Argument(..., help="DeepMind Control task, e.g. walker_walk."),
    steps: int = typer.Option(None, "--steps", help="Agent steps (x2 simulator steps); default per task, see docs/experts.md."),
    seed: int = typer.Option(0, "--seed"),
    force: bool = typer.Option(False, "--force", help="Discard the cached expert and checkpoint; train from scratch."),
    hidden: str = typer.Option("256,256", "--hidden", help="Hidden layer sizes of actor and critics."),
    batch_size: int = typer.Option(256, "--batch-size"),
    learning_starts: int = typer.Option(5000, "--learning-starts", help="Random-action steps before updates."),
    train_freq: int = typer.Option(1, "--train-freq", help="Agent steps between update rounds."),
    gradient_steps: int = typer.Option(1, "--gradient-steps", help="Gradient steps per update round."),
    checkpoint_every: int = typer.Option(10000, "--checkpoint-every", help="Agent steps between resumable checkpoints."),
    eval_episodes: int = typer.Option(10, "--eval-episodes"),
) -> None:
    """Train (or resume, or reuse) the SAC expert for TASK under $VID2ACT_HOME/experts/."""
    from vid2act_cli import api

    try:
        sizes = tuple(int(size) for size in hidden.split(","))
    except ValueError:
        _fail(f"--hidden: comma-separated integers expected, got {hidden!r}")
    started: list[tuple[float, int]] = []

    def report(done: int, asked: int, recent: float | None) -> None:
        now = time.monotonic()
        if not started:
            started.append((now, done))
        (start_time, start_step), rate = started[0], 0.0
        if now > start_time and done > start_step:
            rate = (done - start_step) / (now - start_time)
        eta = f", {rate:.0f} steps/s, {(asked - done) / rate / 60:.0f} min left" if rate else ""
        shown = "n/a" if recent is None else f"{recent:.1f}"
        typer.echo(f"[expert {task}] step {done}/{asked}  training return (last 5 episodes) {shown}{eta}", err=True)

    request = api.TrainExpertRequest(
        task=task, steps=steps, seed=seed, force=force, hidden_sizes=sizes, batch_size=batch_size,
        learning_starts=learning_starts, train_freq=train_freq, gradient_steps=gradient_steps,
        checkpoint_every=checkpoint_every, eval_episodes=eval_episodes,
    )
    try:
        result = api.train_expert(request, on_progress=report)
    except ValueError as error:
        _fail(str(error))
    except KeyError as error:
        _fail(f"task {task!r}: {error.args[0] if error.args else error}")
    how = {"reused": "reused cached expert", "resumed": f"resumed from step {result.resumed_from}"}.get(result.outcome, "trained")
    typer.echo(
        f"{task}: {how}; {result.agent_steps} agent steps ({result.env_steps} env steps), "
        f"eval return {result.eval_mean:.1f} ± {result.eval_std:.1f} over {result.eval_episodes} episodes, "
        f"train {result.train_seconds / 60:.1f} min, sha256 {result.sha256[:12]} -> {result.directory}"
    )


def list_command() -> None:
    """List the experts cached under $VID2ACT_HOME/experts/ with their evaluation return."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from vid2act_cli import api

    # Compact borders and no wrapping in the name and return: the table fits 80 columns.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("expert", "algo", "agent steps", "eval return", "minutes", "sha256"):
        table.add_column(column, no_wrap=True)
    for entry in api.list_experts(api.ListExpertsRequest()).experts:
        minutes = f"{entry.train_seconds / 60:.1f}"
        if entry.state == "unreadable":
            table.add_row(entry.name, "-", "-", f"[red]{entry.problem}[/red]", "-", "-")
        elif entry.state == "training":
            table.add_row(entry.name, "sac", f"{entry.agent_steps} (training)", "-", minutes, "-")
        else:
            table.add_row(entry.name, str(entry.algorithm), str(entry.agent_steps),
                          f"{entry.eval_mean:.1f} ± {entry.eval_std:.1f}", minutes, str(entry.sha256)[:12])
    Console().print(table)


def evaluate_command(
    task: str = typer.Argument(..., help="Task whose cached expert to evaluate."),
    episodes: int = typer.Option(10, "--episodes"),
    seed: int = typer.Option(0, "--seed", help="Which seed's expert."),
    checkpoint: bool = typer.Option(False, "--checkpoint", help="Evaluate the latest training checkpoint (an unfinished training)."),
) -> None:
    """Evaluate a cached expert from state (deterministic actions), print mean ± std return."""
    from vid2act_cli import api

    try:
        result = api.evaluate_expert(api.EvaluateExpertRequest(task=task, episodes=episodes, seed=seed, checkpoint=checkpoint))
    except ValueError as error:
        _fail(str(error))
    typer.echo(f"{task}: return {result.mean:.1f} ± {result.std:.1f} over {episodes} episodes ({result.evaluated})")


def collect_command(
    task: str = typer.Argument(..., help="Task whose cached expert to roll out with rendering."),
    episodes: int = typer.Option(50, "--episodes"),
    out: Path = typer.Option(None, "--out", help="HDF5 dataset to write or append to (default data/<task>.h5)."),
    noise: float = typer.Option(0.0, "--noise", help="Std of Gaussian noise added to the expert's actions."),
    random_fraction: float = typer.Option(0.0, "--random-fraction", help="Share of episodes from uniform random actions."),
    seed: int = typer.Option(0, "--seed"),
    expert_seed: int = typer.Option(0, "--expert-seed", help="Which seed's expert."),
    image_size: int = typer.Option(64, "--image-size"),
) -> None:
    """Roll the cached expert out with rendering into a pixel dataset (records the expert's hash)."""
    from vid2act_teachers.plugins import PluginError

    from vid2act_cli import api

    def progress(episode: dict, summary: object) -> None:
        typer.echo(f"[collect {task}] episode {summary.index + 1}/{episodes} return {summary.episode_return:.1f}", err=True)

    request = api.CollectExpertRequest(task=task, episodes=episodes, out=out, noise=noise, random_fraction=random_fraction,
                                       seed=seed, expert_seed=expert_seed, image_size=image_size)
    try:
        result = api.collect_expert(request, on_episode=progress)
    except (PluginError, ValueError) as error:
        _fail(str(error))
    except KeyError as error:
        _fail(f"task {task!r}: {error.args[0] if error.args else error}")
    typer.echo(f"{result.path}: +{result.episodes} episodes ({result.steps} steps), mean return {result.mean_return:.1f}, "
               f"expert sha256 {result.expert_sha256[:12]}")


for _name, _command in (("train", train_command), ("list", list_command), ("evaluate", evaluate_command),
                       ("collect", collect_command)):
    experts_app.command(_name)(cli_errors(_command))


def register(app: typer.Typer) -> None:
    app.add_typer(experts_app, name="experts")
