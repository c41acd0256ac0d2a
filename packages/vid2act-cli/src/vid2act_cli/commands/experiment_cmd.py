"""`vid2act experiment NAME`: an experiment grid, launched through submitit (Slurm or local); `experiment status DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_core.methods import method_names

from vid2act_cli.commands.errors import EXIT_FAILURE, cli_errors, fail


def _optional_split(text: str | None) -> tuple[str, ...] | None:
    """"a, b" -> ("a", "b"); an option not given stays None (given but empty is a grid option too)."""
    return None if text is None else tuple(item.strip() for item in text.split(",") if item.strip())


def _slurm_options(items: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"--slurm-option {item!r}: expected KEY=VALUE, e.g. account=myproject")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _status(directory: Path) -> None:
    from vid2act_cli import api

    result = api.experiment_status(api.ExperimentStatusRequest(directory=directory))
    for job in result.jobs:
        job_id = f" job {job.job_id} ({job.launcher})" if job.job_id is not None else ""
        detail = f": {job.detail}" if job.detail and job.state != "done" else ""
        typer.echo(f"{job.state:8} {job.label}{job_id}{detail}")
    counts = ", ".join(f"{count} {state}" for state, count in result.counts.items())
    typer.echo(f"{result.experiment} in {directory}: {len(result.jobs)} jobs: {counts}")


def register(app: typer.Typer) -> None:
    @app.command("experiment")
    @cli_errors
    def experiment_command(
        name: str = typer.Argument(..., help="paper-metaworld, paper-dmc, grid, or `status` followed by an experiment directory."),
        directory: Path = typer.Argument(None, help="With `status`: the experiment directory (its --root)."),
        dry_run: bool = typer.Option(False, "--dry-run", "--print", help="Print one `uv run vid2act ...` line per job that would be submitted (states on stderr); submit nothing."),
        launcher: str = typer.Option("local", "--launcher", help="local (runs on this machine, --jobs side by side) or slurm (one sbatch job per run, through submitit)."),
        jobs: int = typer.Option(1, "--jobs", "-j", help="local: runs side by side; each gets cores // jobs torch threads."),
        partition: str = typer.Option(None, "--partition", help="slurm: the partition."),
        gpus_per_run: int = typer.Option(0, "--gpus-per-run", help="GPUs per run (slurm: per job; local: run slot s gets GPUs s*G..s*G+G-1; 0 hides CUDA)."),
        cpus_per_run: int = typer.Option(None, "--cpus-per-run", help="slurm: CPUs per job, also its torch threads (default: 8)."),
        time_limit: str = typer.Option("48:00:00", "--time", help="slurm: time limit per job (HH:MM:SS, D-HH:MM:SS or minutes); a run that hits it is requeued and resumes."),
        slurm_option: list[str] = typer.Option([], "--slurm-option", help="slurm: an extra sbatch option KEY=VALUE, e.g. account=proj or qos=high (repeatable)."),
        scale: float = typer.Option(1.0, "--scale", help="Multiply step budgets and episode counts (e.g. 0.01 for a local trial)."),
        seeds: int = typer.Option(3, "--seeds", help="Seeds per (target, method)."),
        first_seed: int = typer.Option(0, "--first-seed", help="The first seed: runs get seeds FIRST .. FIRST+SEEDS-1 (e.g. --first-seed 1 --seeds 2 beside a finished seed 0)."),
        device: str = typer.Option("auto", "--device", help="Device every job uses: cpu, cuda, cuda:N or auto."),
        root: Path = typer.Option(None, "--root", help="Where runs, jobs.json, logs/ and the experiment's teacher registry go (default: experiments/NAME, or experiments/NAME-scaleF)."),
        preset: str = typer.Option(None, "--preset", help="Use this preset for every job instead of the paper's (e.g. small for a CPU trial; grid default: small)."),
        targets: str = typer.Option(None, "--targets", help="grid: comma-separated target tasks."),
        methods: str = typer.Option(None, "--methods", help=f"grid: comma-separated methods ({', '.join(method_names())})."),
        teachers: str = typer.Option(None, "--teachers", help="grid: comma-separated registered teachers (init starts from the first)."),
        steps: int = typer.Option(None, "--steps", help="grid: env steps per run."),
        video_model: str = typer.Option(None, "--video-model", help="grid, --methods apv: the action-free model its runs fine-tune (registered, or the name to pretrain it under with --video-data)."),
        video_data: str = typer.Option(None, "--video-data", help="grid, --methods apv: comma-separated dataset files (any tasks) to pretrain the action-free model on first, as a job the APV runs need."),
        video_steps: int = typer.Option(None, "--video-steps", help="grid: gradient steps of that pretraining (default: the preset's pretrain.steps)."),
        overrides: list[str] = typer.Option([], "--set", help="Add `--set key=value` to every job (repeatable)."),
    ) -> None:
        """Launch an experiment grid: one job per run through submitit, on Slurm or on this machine. Re-running submits only what is neither done nor running; runs resume from their directories."""
        from vid2act_cli import api

        if name == "status":
            if directory is None:
                fail("experiment status: give the experiment directory, e.g. vid2act experiment status experiments/paper-dmc")
            _status(directory)
            return
        if directory is not None:
            fail(f"experiment {name}: unexpected argument {directory} (only `status` takes a directory)")
        request = api.LaunchRequest(
            name=name, dry_run=dry_run, launcher=launcher, jobs=jobs, partition=partition, gpus_per_run=gpus_per_run,
            cpus_per_run=cpus_per_run, time=time_limit, slurm_options=_slurm_options(slurm_option), scale=scale,
            seeds=seeds, first_seed=first_seed, device=device, root=root, preset=preset, targets=_optional_split(targets),
            methods=_optional_split(methods), teachers=_optional_split(teachers), steps=steps, video_model=video_model,
            video_data=_optional_split(video_data), video_steps=video_steps, overrides=tuple(overrides),
        )
        result = api.launch(request)
        if dry_run:
            for line in result.states:
                typer.echo(line, err=True)
            for line in result.commands:
                typer.echo(line)
            return
        if result.failed or result.blocked:
            fail(f"{name}: {len(result.failed)} failed, {len(result.blocked)} not started (a job they need failed); "
                 f"see `vid2act experiment status {result.root}`, fix, and re-run the same command", EXIT_FAILURE)
        where = "submitted to Slurm" if launcher == "slurm" else "run"
        typer.echo(f"{name}: {len(result.submitted)} jobs {where}, {len(result.skipped)} already done or running; "
                   f"status: vid2act experiment status {result.root}; report: vid2act report {result.root}")
