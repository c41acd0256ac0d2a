"""`vid2act pretrain`: offline teacher pretraining (Eq. 2) on reward-free image-action datasets.

Data-parallel on several GPUs or machines with the standard launcher::

    uv run torchrun --nproc_per_node 2 -m vid2act_cli.app pretrain --data data/walker_walk.h5 --name walker_walk

(gloo on the CPU, nccl with --device cuda: each process takes the GPU of its LOCAL_RANK).
"""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import cli_errors
from vid2act_cli.commands.help_text import PRESET_HELP


def register(app: typer.Typer) -> None:
    @app.command("pretrain")
    @cli_errors
    def pretrain_command(
        data: list[Path] = typer.Option(..., "--data", help="HDF5 dataset of the source task (repeat for several files of the same task; with --multitask, of several tasks)."),
        name: str = typer.Option(..., "--name", help="Name to register the teacher under."),
        preset: str = typer.Option("small", "--preset", help=PRESET_HELP),
        steps: int = typer.Option(None, "--steps", help="Gradient steps (overrides the preset's pretrain.steps)."),
        device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto (under torchrun: cuda uses LOCAL_RANK's GPU)."),
        logdir: Path = typer.Option(None, "--logdir", help="Run directory (default: runs/pretrain-<name>); an existing one is resumed."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        config_file: Path = typer.Option(None, "--config", help="YAML file of config overrides."),
        overrides: list[str] = typer.Option([], "--set", help="Override one config key, e.g. --set train.batch_size=32."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace a registered teacher of the same name."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
        action_free: bool = typer.Option(
            False, "--action-free", help="APV: pretrain an action-free video model on the datasets' frames (actions dropped, any tasks); "
            "registered as kind action-free for `transfer --method apv --init-from NAME`, never a transfer teacher.",
        ),
        multitask: bool = typer.Option(
            False, "--multitask", help="Pretrain ONE model on datasets of several tasks (actions zero-padded to the largest size): "
            "the pretrained-DreamerV2 baseline for --init-from; registered as kind multitask, never a transfer teacher.",
        ),
        replay_set_mb: float = typer.Option(4.0, "--replay-set-mb", help="Size budget (MiB) of the action-replay set stored with the teacher."),
    ) -> None:
        """Pretrain a teacher world model (image reconstruction + KL, no rewards) and register it; re-running resumes."""
        from vid2act_cli import api
        from vid2act_cli.commands.console import RichReporter

        request = api.PretrainRequest(
            data=tuple(data), name=name, preset=preset, steps=steps, device=device, logdir=logdir, seed=seed,
            config_file=config_file, overrides=tuple(overrides), overwrite=overwrite, action_free=action_free,
            multitask=multitask, replay_set_mb=replay_set_mb,
        )
        info = api.pretrain(request, RichReporter(progress))
        if info is not None:
            typer.echo(
                f"registered {'teacher' if info.kind == 'task' else info.kind + ' model'} {info.name} ({info.task}, {info.train_steps} steps, "
                f"dataset {info.dataset_sha256[:12]}) -> {info.path}"
            )
