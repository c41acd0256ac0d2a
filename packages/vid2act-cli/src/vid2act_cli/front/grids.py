"""`api.launch`, `api.experiment_status`: experiment grids through submitit, and where their jobs stand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vid2act_core.config import preset as load_preset
from vid2act_teachers.registry import vid2act_home

from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.validation import require_count
from vid2act_cli.experiments import GridSpec, default_root, expand_experiment
from vid2act_cli.experiments.video_model import check_video_model


@dataclass(frozen=True)
class LaunchRequest:
    """What `vid2act experiment NAME` takes: an experiment grid, one job per run, on Slurm or this machine."""

    name: str
    """paper-metaworld, paper-dmc or grid."""
    dry_run: bool = False
    """Only list the `uv run vid2act ...` line of every job that would be submitted; submit nothing."""
    launcher: str = "local"
    """local (runs on this machine, jobs side by side) or slurm (one sbatch job per run, through submitit)."""
    jobs: int = 1
    """local: runs side by side; each gets cores // jobs torch threads."""
    partition: str | None = None
    """slurm: the partition."""
    gpus_per_run: int = 0
    """GPUs per run (slurm: per job; local: run slot s gets GPUs s*G..s*G+G-1; 0 hides CUDA)."""
    cpus_per_run: int | None = None
    """slurm: CPUs per job, also its torch threads (None: 8)."""
    time: str = "48:00:00"
    """slurm: time limit per job; a run that hits it is requeued and resumes."""
    slurm_options: tuple[tuple[str, str], ...] = ()
    """slurm: extra sbatch options, e.g. (("account", "proj"),)."""
    scale: float = 1.0
    """Multiply step budgets and episode counts (e.g. 0.01 for a local trial)."""
    seeds: int = 3
    """Seeds per (target, method)."""
    first_seed: int = 0
    """The first of those seeds: runs get seeds first_seed .. first_seed + seeds - 1."""
    device: str = "auto"
    """Device every job uses: cpu, cuda, cuda:N or auto."""
    root: Path | None = None
    """Where runs, jobs.json, logs/ and the teacher registry go (None: experiments/NAME or experiments/NAME-scaleF)."""
    preset: str | None = None
    """Preset of every job instead of the paper's (grid default: small)."""
    targets: tuple[str, ...] | None = None
    """grid: target tasks."""
    methods: tuple[str, ...] | None = None
    """grid: method names of `vid2act_core.methods.METHODS` (vid2act, dreamer, ...)."""
    teachers: tuple[str, ...] | None = None
    """grid: registered teachers (init starts from the first)."""
    steps: int | None = None
    """grid: env steps per run."""
    video_model: str | None = None
    """grid with apv: the action-free model its runs fine-tune (registered, or the name to pretrain it under)."""
    video_data: tuple[str, ...] | None = None
    """grid with apv: dataset files to pretrain the action-free model on first, as a job the APV runs need."""
    video_steps: int | None = None
    """grid: gradient steps of that pretraining (None: the preset's pretrain.steps)."""
    overrides: tuple[str, ...] = ()
    """`--set key=value` added to every job."""


@dataclass(frozen=True)
class LaunchResult:
    """What a launch (or a dry run) did, by job label."""

    root: Path
    """The experiment directory (absolute)."""
    submitted: tuple[str, ...] = ()
    """Jobs submitted (slurm) or run (local)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Job -> done or running (left alone)."""
    failed: dict[str, str] = field(default_factory=dict)
    """local: job -> last error line."""
    blocked: tuple[str, ...] = ()
    """local: jobs not started because a job they need failed."""
    commands: tuple[str, ...] = ()
    """dry run: one runnable shell line per job a launch would submit."""
    states: tuple[str, ...] = ()
    """dry run: one state line per job, then a summary line."""


def launch(request: LaunchRequest, reporter: Reporter | None = None) -> LaunchResult:
    """Launch an experiment grid through submitit; calling again submits only what is neither done nor running."""
    # submitit, under the launcher, configures logging when imported (closing the handlers already installed), so
    # `import vid2act_cli.api` leaves it out until jobs are launched.
    from vid2act_cli.compose.launch import LaunchOptions, dry_run, launch as submit

    if request.preset is not None:
        load_preset(request.preset)
    require_count(request.seeds, "--seeds")
    require_count(request.jobs, "--jobs")
    require_count(request.steps, "--steps")
    grid = None
    grid_fields = (request.targets, request.methods, request.teachers, request.steps, request.video_model,
                   request.video_data, request.video_steps)
    if request.name == "grid" or any(value is not None for value in grid_fields):
        grid = GridSpec(request.targets or (), request.methods or (), request.steps if request.steps is not None else 0,
                        request.teachers or (), vid2act_home(), video_model=request.video_model,
                        video_data=request.video_data or (), video_steps=request.video_steps)
        if grid.video_model:
            check_video_model(vid2act_home(), grid.video_model, [Path(path) for path in grid.video_data])
    options = LaunchOptions(launcher=request.launcher, jobs=request.jobs, partition=request.partition,
                            gpus_per_run=request.gpus_per_run, cpus_per_run=request.cpus_per_run, time=request.time,
                            slurm_parameters=request.slurm_options)
    job_list = expand_experiment(request.name, request.root, request.scale, request.seeds, request.device,
                                 request.preset, grid=grid, overrides=request.overrides, first_seed=request.first_seed)
    root = Path(request.root if request.root is not None else default_root(request.name, request.scale)).absolute()
    if request.dry_run:
        commands, states = dry_run(request.name, job_list, root, options)
        return LaunchResult(root=root, commands=tuple(commands), states=tuple(states))
    result = submit(request.name, job_list, root, options, plain_if_none(reporter))
    return LaunchResult(root=root, submitted=tuple(result.submitted), skipped=dict(result.skipped),
                        failed=dict(result.failed), blocked=tuple(result.blocked))


@dataclass(frozen=True)
class ExperimentStatusRequest:
    """What `vid2act experiment status DIR` takes."""

    directory: Path
    """An experiment directory (the launch's root, holding jobs.json)."""


@dataclass(frozen=True)
class JobState:
    """One job of an experiment and where it stands."""

    label: str
    """The job's label, e.g. transfer/walker_run/vid2act/0."""
    state: str
    """done, running, failed or missing."""
    job_id: str | None
    """The launcher's job id of its latest submission (None: never submitted)."""
    launcher: str | None
    """local or slurm (None: never submitted)."""
    detail: str
    """Why it failed, or what a running job is doing (may be empty)."""


@dataclass(frozen=True)
class ExperimentStatusResult:
    """The state of every job of an experiment, in the experiment's order."""

    experiment: str
    """The experiment's name, as launched."""
    jobs: tuple[JobState, ...]
    """Every job, in dependency order."""
    counts: dict[str, int]
    """State -> number of jobs, every state listed."""


def experiment_status(request: ExperimentStatusRequest) -> ExperimentStatusResult:
    """Read an experiment directory's jobs.json and report done / running / failed / missing per job."""
    # submitit, under the launcher, configures logging when imported (closing the handlers already installed), so
    # `import vid2act_cli.api` leaves it out until jobs are launched.
    from vid2act_cli.compose.launch import STATES, experiment_status as read_status

    experiment, statuses = read_status(request.directory)
    jobs = tuple(JobState(label=status.job.label, state=status.state,
                          job_id=status.record.job_id if status.record else None,
                          launcher=status.record.launcher if status.record else None, detail=status.detail)
                 for status in statuses)
    return ExperimentStatusResult(experiment=experiment, jobs=jobs,
                                  counts={state: sum(job.state == state for job in jobs) for state in STATES})
