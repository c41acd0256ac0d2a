"""`vid2act experiment NAME`: an experiment grid, launched through submitit (Slurm or local); `experiment status DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from vid2act_cli.commands.errors import EXIT_FAILURE, cli_errors, fail


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def _slurm_options(items: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"--slurm-option {item!r}: expected KEY=VALUE, e.g. account=myproject")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _status(directory: Path) -> None:
    from vid2act_cli.compose.launch import STATES, experiment_status

    experiment, statuses = experiment_status(directory)
    for status in statuses:
        job_id = f" job {status.record.job_id} ({status.record.launcher})" if status.record else ""
        detail = f": {status.detail}" if status.detail and status.state != "done" else ""
        typer.echo(f"{status.state:8} {status.job.label}{job_id}{detail}")
    counts = ", ".join(f"{sum(s.state == state for s in statuses)} {state}" for state in STATES)
    typer.echo(f"{experiment} in {directory}: {len(statuses)} jobs: {counts}")


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
        device: str = typer.Option("auto", "--device", help="Device every job uses: cpu, cuda, cuda:N or auto."),
        root: Path = typer.Option(None, "--root", help="Where runs, jobs.json, logs/ and the experiment's teacher registry go (default: experiments/NAME, or experiments/NAME-scaleF)."),
        preset: str = typer.Option(None, "--preset", help="Use this preset for every job instead of the paper's (e.g. small for a CPU trial; grid default: small)."),
        targets: str = typer.Option(None, "--targets", help="grid: comma-separated target tasks."),
        methods: str = typer.Option(None, "--methods", help="grid: comma-separated methods (vid2act, dreamer, uniform, noguide, init, apv, isodream)."),
        teachers: str = typer.Option(None, "--teachers", help="grid: comma-separated registered teachers (init starts from the first)."),
        steps: int = typer.Option(None, "--steps", help="grid: env steps per run."),
        video_model: str = typer.Option(None, "--video-model", help="grid, --methods apv: the action-free model its runs fine-tune (registered, or the name to pretrain it under with --video-data)."),
        video_data: str = typer.Option(None, "--video-data", help="grid, --methods apv: comma-separated dataset files (any tasks) to pretrain the action-free model on first, as a job the APV runs need."),
        video_steps: int = typer.Option(None, "--video-steps", help="grid: gradient steps of that pretraining (default: the preset's pretrain.steps)."),
        overrides: list[str] = typer.Option([], "--set", help="Add `--set key=value` to every job (repeatable)."),
    ) -> None:
        """Launch an experiment grid: one job per run through submitit, on Slurm or on this machine. Re-running submits only what is neither done nor running; runs resume from their directories."""
        from vid2act_cli.compose.launch import LaunchOptions, dry_run as plan, launch
        from vid2act_cli.experiments import GridSpec, default_root, expand_experiment

        if name == "status":
            if directory is None:
                fail("experiment status: give the experiment directory, e.g. vid2act experiment status experiments/paper-dmc")
            _status(directory)
            return
        if directory is not None:
            fail(f"experiment {name}: unexpected argument {directory} (only `status` takes a directory)")
        if preset is not None:
            from vid2act_core.config import preset as load_preset

            load_preset(preset)
        from vid2act_cli.compose.validation import require_count

        require_count(seeds, "--seeds")
        require_count(jobs, "--jobs")
        require_count(steps, "--steps")
        grid = None
        if name == "grid" or any(value is not None for value in (targets, methods, teachers, steps, video_model, video_data, video_steps)):
            from vid2act_teachers.registry import vid2act_home

            from vid2act_cli.experiments.video_model import check_video_model

            grid = GridSpec(_split(targets), _split(methods), steps if steps is not None else 0, _split(teachers), vid2act_home(),
                            video_model=video_model, video_data=_split(video_data), video_steps=video_steps)
            if grid.video_model:
                check_video_model(vid2act_home(), grid.video_model, [Path(path) for path in grid.video_data])
        options = LaunchOptions(launcher=launcher, jobs=jobs, partition=partition, gpus_per_run=gpus_per_run,
                                cpus_per_run=cpus_per_run, time=time_limit, slurm_parameters=_slurm_options(slurm_option))
        job_list = expand_experiment(name, root, scale, seeds, device, preset, grid=grid, overrides=tuple(overrides))
        experiment_root = Path(root if root is not None else default_root(name, scale)).absolute()
        if dry_run:
            commands, states = plan(name, job_list, experiment_root, options)
            for line in states:
                typer.echo(line, err=True)
            for line in commands:
                typer.echo(line)
            return
        result = launch(name, job_list, experiment_root, options)
        if result.failed or result.blocked:
            fail(f"{name}: {len(result.failed)} failed, {len(result.blocked)} not started (a job they need failed); "
                 f"see `vid2act experiment status {experiment_root}`, fix, and re-run the same command", EXIT_FAILURE)
        where = "submitted to Slurm" if launcher == "slurm" else "run"
        typer.echo(f"{name}: {len(result.submitted)} jobs {where}, {len(result.skipped)} already done or running; "
                   f"status: vid2act experiment status {experiment_root}; report: vid2act report {experiment_root}")
