"""`vid2act probe`: the offline dynamics-transfer probe (does distillation improve the student's predictions?)."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import cli_errors
from vid2act_cli.commands.help_text import PRESET_HELP


def _names(text: str, option: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"{option} {text!r}: expected comma-separated names")
    return names


def _numbers(text: str, option: str) -> list[int]:
    try:
        return [int(value) for value in _names(text, option)]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected comma-separated integers") from None


def _decimals(text: str, option: str) -> list[float]:
    try:
        return [float(value) for value in _names(text, option)]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected comma-separated numbers") from None


def given_options(context: typer.Context, skip: tuple[str, ...]) -> tuple[str, ...]:
    """The command's options as given (those that differ from their defaults), as argv for the same command."""
    argv: list[str] = []
    for param in context.command.params:
        value = context.params.get(param.name or "")
        if param.name in skip or param.param_type_name != "option" or value is None or value == param.default:
            continue
        if getattr(param, "is_flag", False):
            argv.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            argv += [item for one in (value if param.multiple else [value]) for item in (param.opts[0], str(one))]
    return tuple(argv)


def register(app: typer.Typer) -> None:
    @app.command("probe")
    @cli_errors
    def probe_command(
        typer_context: typer.Context,
        pair: str = typer.Option(None, "--pair", help="A named target/teachers pair: dmc-walker, dmc-hopper, metaworld-button, metaworld-door."),
        target_data: Path = typer.Option(None, "--target-data", help="Target HDF5 dataset (default with --pair: $VID2ACT_HOME/datasets/<target>.h5)."),
        teachers: str = typer.Option(None, "--teachers", help="Registry teachers, comma-separated (default: the pair's)."),
        related: str = typer.Option(None, "--related", help="Which teacher is the related source (default: the pair's)."),
        out: Path = typer.Option(None, "--out", "-o", help="Probe folder (default: runs/probe-<pair or dataset>); an existing one is continued."),
        train_episodes: str = typer.Option("5", "--train-episodes",
                                           help="The student trains on the dataset's first N episodes; a comma list sweeps (e.g. 1,2,5)."),
        eval_episodes: int = typer.Option(3, "--eval-episodes", help="Held-out episodes (the dataset's last N) for the errors, the same for every budget."),
        updates: str = typer.Option("160", "--updates",
                                    help="World-model updates per cell; a comma list sweeps (e.g. 160,640,2000): every (updates, train episodes) pair is a budget."),
        batch_size: int = typer.Option(8, "--batch-size", help="Windows per update."),
        batch_length: int = typer.Option(32, "--batch-length", help="Steps per window."),
        log_every: int = typer.Option(10, "--log-every", help="Updates per point of the W curves."),
        seeds: int = typer.Option(3, "--seeds", help="Seeds per configuration and order."),
        configs: str = typer.Option("none,all,related,unrelated,uniform", "--configs", help="Configurations to run."),
        scorers: str = typer.Option("prediction_error,stepwise_error", "--scorers",
                                    help="Task-weight scorers for `all` (the first also for related, unrelated and uniform)."),
        heads: str = typer.Option("shared", "--heads", help="f_distill kinds for `all`: shared, per_teacher."),
        forms: str = typer.Option("student_head,published", "--forms",
                                  help="Distillation forms (transfer.distill_form) for `all`: student_head, paper, published (the first also for the others)."),
        alphas: str = typer.Option(None, "--alphas",
                                   help="transfer.alpha values of every distilled configuration (default: the config's); others add <config>-alpha<a>, e.g. 0."),
        controls: str = typer.Option(None, "--controls",
                                     help="Controls: mean-image, last-frame, teacher, init, oracle (needs --oracle), or none (default: all that apply)."),
        oracle: str = typer.Option(None, "--oracle", help="Registry teacher pretrained on other episodes of the target task (adds oracle-teacher, oracle-init)."),
        orders: str = typer.Option("given,rotated", "--orders", help="Teacher orders: given, rotated."),
        context: int = typer.Option(5, "--context", help="Observed frames before open-loop prediction."),
        horizons: str = typer.Option("15,45", "--horizons", help="Predicted steps over which errors are averaged."),
        windows: int = typer.Option(8, "--windows-per-episode", help="Evaluation windows per held-out episode."),
        preset: str = typer.Option("small", "--preset", help=PRESET_HELP),
        config_file: Path = typer.Option(None, "--config", help="YAML file of config overrides."),
        overrides: list[str] = typer.Option([], "--set", help="Override one config key, e.g. --set transfer.alpha=0.5."),
        device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or auto."),
        max_cells: int = typer.Option(None, "--max-cells", help="Run at most N unfinished cells, then stop (re-run for the rest)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
        jobs: int = typer.Option(1, "--jobs", "-j", help="Cells side by side in N subprocesses, cores // N threads each (their output in OUT/logs/)."),
        cells: str = typer.Option(None, "--cells", hidden=True, help="Run only these cell ids, no summary (one of the --jobs subprocesses)."),
    ) -> None:
        """Train student world models offline on a few target episodes with and without distillation; compare their predictions."""
        from vid2act_cli import api
        from vid2act_cli.commands.console import RichReporter

        request = api.ProbeRequest(
            pair=pair, target_data=target_data, teachers=tuple(_names(teachers, "--teachers")) if teachers else None,
            related=related or None, out=out, updates=tuple(_numbers(updates, "--updates")),
            train_episodes=tuple(_numbers(train_episodes, "--train-episodes")), batch_size=batch_size,
            batch_length=batch_length, log_every=log_every, eval_episodes=eval_episodes, seeds=seeds,
            configs=tuple(_names(configs, "--configs")), scorers=tuple(_names(scorers, "--scorers")),
            heads=tuple(_names(heads, "--heads")), forms=tuple(_names(forms, "--forms")),
            alphas=tuple(_decimals(alphas, "--alphas")) if alphas is not None else None,
            controls=tuple(_names(controls, "--controls")) if controls is not None else None, oracle=oracle,
            orders=tuple(_names(orders, "--orders")), context=context, horizons=tuple(_numbers(horizons, "--horizons")),
            windows_per_episode=windows, preset=preset, config_file=config_file, overrides=tuple(overrides),
            device=device, max_cells=max_cells, jobs=jobs, cells=tuple(_names(cells, "--cells")) if cells is not None else None,
            command=given_options(typer_context, skip=("jobs", "cells", "progress")),
        )
        outcome = api.probe(request, RichReporter(progress))
        if outcome.table_text:
            typer.echo(outcome.table_text)
        typer.echo(f"{len(outcome.ran)} cells run now, {len(outcome.skipped)} were done, {len(outcome.remaining)} left; "
                   f"table {outcome.table}, plots {', '.join(str(path) for path in outcome.plots)}")
