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


def _home() -> Path:
    from vid2act_teachers.registry import vid2act_home

    return vid2act_home()


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
    from vid2act_teachers.experts import ExpertConfig, ExpertError, default_steps, train_expert

    try:
        sizes = tuple(int(size) for size in hidden.split(","))
        config = ExpertConfig(
            hidden_sizes=sizes, batch_size=batch_size, learning_starts=learning_starts, train_freq=train_freq,
            gradient_steps=gradient_steps, checkpoint_every=checkpoint_every, eval_episodes=eval_episodes,
        )
    except ValueError as error:
        _fail(f"--hidden/config: {error}")
    total = default_steps(task) if steps is None else steps

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

    try:
        result = train_expert(task, _home(), steps=total, seed=seed, config=config, force=force, on_progress=report)
    except (ExpertError, ValueError) as error:
        _fail(str(error))
    except KeyError as error:
        _fail(f"task {task!r}: {error.args[0] if error.args else error}")
    meta = result.metadata
    how = "reused cached expert" if result.reused else (f"resumed from step {result.resumed_from}" if result.resumed_from else "trained")
    typer.echo(
        f"{task}: {how}; {meta.agent_steps} agent steps ({meta.env_steps} env steps), "
        f"eval return {meta.eval_mean:.1f} ± {meta.eval_std:.1f} over {len(meta.eval_returns)} episodes, "
        f"train {meta.train_seconds / 60:.1f} min, sha256 {meta.sha256[:12]} -> {result.directory}"
    )


def list_command() -> None:
    """List the experts cached under $VID2ACT_HOME/experts/ with their evaluation return."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from vid2act_teachers.experts import list_experts
    from vid2act_teachers.experts.train import checkpoint_progress

    # Compact borders and no wrapping in the name and return: the table fits 80 columns.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("expert", no_wrap=True)
    table.add_column("algo", no_wrap=True)
    table.add_column("agent steps", no_wrap=True)
    table.add_column("eval return", no_wrap=True)
    table.add_column("minutes", no_wrap=True)
    table.add_column("sha256", no_wrap=True)
    for directory, meta, problem in list_experts(_home()):
        if problem is not None:
            table.add_row(directory.name, "-", "-", f"[red]{problem}[/red]", "-", "-")
        elif meta is None:
            progress = checkpoint_progress(directory) or {}
            table.add_row(directory.name, "sac", f"{progress.get('agent_steps', 0)} (training)", "-",
                          f"{progress.get('train_seconds', 0.0) / 60:.1f}", "-")
        else:
            table.add_row(directory.name, meta.algorithm, str(meta.agent_steps),
                          f"{meta.eval_mean:.1f} ± {meta.eval_std:.1f}", f"{meta.train_seconds / 60:.1f}", meta.sha256[:12])
    Console().print(table)


def evaluate_command(
    task: str = typer.Argument(..., help="Task whose cached expert to evaluate."),
    episodes: int = typer.Option(10, "--episodes"),
    seed: int = typer.Option(0, "--seed", help="Which seed's expert."),
    checkpoint: bool = typer.Option(False, "--checkpoint", help="Evaluate the latest training checkpoint (an unfinished training)."),
) -> None:
    """Evaluate a cached expert from state (deterministic actions), print mean ± std return."""
    import numpy as np
    import torch

    from vid2act_teachers.experts import ExpertError, expert_dir, load_expert
    from vid2act_teachers.experts.evaluate import evaluate_state_policy
    from vid2act_teachers.experts.train import checkpoint_actor

    torch.set_num_threads(1)
    directory = expert_dir(_home(), task, seed)
    try:
        if checkpoint:
            actor, progress = checkpoint_actor(directory)
            act = lambda state: actor(torch.as_tensor(state, dtype=torch.float32)[None])[0].detach().numpy()  # noqa: E731
            action_repeat, what = int(progress["config"]["action_repeat"]), f"checkpoint at {progress['agent_steps']} agent steps"
        else:
            policy, meta = load_expert(directory)
            act, action_repeat, what = policy.act, meta.expert_config.action_repeat, f"sha256 {meta.sha256[:12]}"
        returns = evaluate_state_policy(task, act, episodes=episodes, seed=seed, action_repeat=action_repeat)
    except (ExpertError, ValueError) as error:
        _fail(str(error))
    typer.echo(f"{task}: return {np.mean(returns):.1f} ± {np.std(returns):.1f} over {episodes} episodes ({what})")


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
    from vid2act_envs.collect import collect_dataset
    from vid2act_envs.dataset import DatasetError
    from vid2act_teachers.experts import ExpertError, expert_dir
    from vid2act_teachers.experts.rollout import rollout_expert
    from vid2act_teachers.plugins import PluginError, domain_registry

    def progress(episode: dict, summary: object) -> None:
        typer.echo(f"[collect {task}] episode {summary.index + 1}/{episodes} return {summary.episode_return:.1f}", err=True)

    try:
        registry = domain_registry()
        spec = registry.resolve(task)
        path = out if out is not None else Path("data") / f"{spec.task}.h5"
        expert = rollout_expert(spec, expert_dir(_home(), spec.task, expert_seed), noise=noise,
                                random_fraction=random_fraction, first_seed=seed)
        stats, _ = collect_dataset(
            registry, task, episodes, policy=expert.make_policy, out=path, seed=seed, image_size=image_size,
            on_episode=progress, annotations=expert.annotations,
        )
    except (ExpertError, DatasetError, PluginError, ValueError) as error:
        _fail(str(error))
    except KeyError as error:
        _fail(f"task {task!r}: {error.args[0] if error.args else error}")
    sha256 = str(expert.annotations["expert_sha256"])
    typer.echo(f"{path}: +{stats.episodes} episodes ({stats.steps} steps), mean return {stats.mean_return:.1f}, expert sha256 {sha256[:12]}")


for _name, _command in (("train", train_command), ("list", list_command), ("evaluate", evaluate_command),
                       ("collect", collect_command)):
    experts_app.command(_name)(cli_errors(_command))


def register(app: typer.Typer) -> None:
    app.add_typer(experts_app, name="experts")
