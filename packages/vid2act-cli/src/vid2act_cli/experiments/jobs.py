"""Experiment grids as job lists: expand, print for a scheduler, or run in order (resumable).

A job is the argv of an existing `vid2act` command plus the file whose presence means it is
finished (a run's `DONE` marker holding enough env steps, or a registered teacher's
`config.json`). Every job names its output directory explicitly (`--logdir`, `--policy`, the
experiment's own `VID2ACT_HOME`), so re-running an experiment skips what is finished and resumes
what was interrupted (the commands themselves resume their run directories).

Grids (the paper, sections 5.1-5.3, and REFERENCES.md):

- `paper-metaworld`: 6 source teachers (10 scripted expert episodes each, 200k pretraining
  steps), 6 targets x {vid2act, dreamer, init} x 3 seeds at 300k env steps, plus the ablations
  {uniform, noguide} on button-press and drawer-open (Fig. 4).
- `paper-dmc`: DreamerV2 experts on the 4 sources (500k env steps) -> 50 episodes each -> 4
  teachers (200k steps); 2 quadruped targets x {vid2act, dreamer, init} x 3 seeds at 400k steps.

- `grid`: your own grid, targets x methods x seeds with teachers from your registry
  (`GridSpec`), for trials and for tests (`vid2act experiment grid --targets ... --methods ...`).

Jobs name the jobs that must finish before them (`needs`), so a launcher can run independent
ones side by side (`vid2act_cli.compose.launch`).

The `init` baseline (DreamerV2 initialised from pretrained weights; the paper pretrains its
DreamerV2 on the offline data) takes the one source teacher closest to the target
(`INIT_SOURCE`), since `--init-from` takes one teacher's world model.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from vid2act_core.naming import METHODS, slugify

METAWORLD_SOURCES = ("button-press-topdown", "door-open", "drawer-close", "peg-insert-side", "pick-place", "push")
METAWORLD_TARGETS = ("button-press", "coffee-push", "drawer-open", "door-lock", "window-open", "door-close")
METAWORLD_ABLATION_TARGETS = ("button-press", "drawer-open")
DMC_SOURCES = ("cheetah_run", "hopper_stand", "walker_walk", "walker_run")
DMC_TARGETS = ("quadruped_walk", "quadruped_run")

MAIN_METHODS = ("vid2act", "dreamer", "init")
ABLATION_METHODS = ("uniform", "noguide")
METHOD_FLAGS: dict[str, tuple[str, ...]] = {
    "vid2act": (),
    "dreamer": ("--no-distill",),
    "uniform": ("--uniform-weights",),
    "noguide": ("--no-guidance",),
}
"""Transfer switches per method label (`init` adds `--init-from TEACHER`)."""

INIT_SOURCE: dict[str, str] = {
    "button-press": "button-press-topdown",
    "coffee-push": "push",
    "drawer-open": "drawer-close",
    "door-lock": "door-open",
    "window-open": "push",
    "door-close": "door-open",
    "quadruped_walk": "walker_walk",
    "quadruped_run": "walker_run",
}
"""The source whose teacher initialises the `init` baseline for each target (the closest task)."""

EXPERIMENTS = ("paper-metaworld", "paper-dmc", "grid")
HOME_ENV = "VID2ACT_HOME"


@dataclass(frozen=True)
class Job:
    """One command of an experiment and how to tell that it is finished."""

    kind: str
    """expert, teacher or transfer."""
    label: str
    """Short human description, e.g. `transfer button-press vid2act seed 0`."""
    argv: tuple[str, ...]
    """Arguments after `vid2act`."""
    done_file: Path
    """Present when the job is finished (a run's DONE marker or a teacher's config.json)."""
    min_env_steps: int = 0
    """For runs: `done_file` (JSON) must record at least this many env steps."""
    steps_key: str = "env_steps"
    """The key of `done_file` holding the env steps (DONE: env_steps; evaluation JSON: env_steps_trained)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables the job needs (the experiment's VID2ACT_HOME)."""
    needs: tuple[str, ...] = ()
    """Labels of the jobs whose output this one uses (its expert, its teachers)."""

    @property
    def key(self) -> str:
        """The label as a file-name-safe key (job records, log files)."""
        return slugify(self.label)

    def is_done(self) -> bool:
        """Whether the job's output is complete (a run stopped short of its budget is not)."""
        if not self.done_file.exists():
            return False
        if self.min_env_steps <= 0:
            return True
        try:
            steps = int(json.loads(self.done_file.read_text()).get(self.steps_key, -1))
        except (json.JSONDecodeError, AttributeError, ValueError, OSError):
            return False
        return steps >= self.min_env_steps

    def shell_line(self) -> str:
        """One runnable shell line: `VID2ACT_HOME=... uv run vid2act ...`."""
        prefix = "".join(f"{key}={shlex.quote(value)} " for key, value in sorted(self.env.items()))
        return prefix + shlex.join(["uv", "run", "vid2act", *self.argv])


@dataclass(frozen=True)
class Scale:
    """Budget shrinking for local trials: every count is multiplied by `factor`, within sensible minimums."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.factor <= 1):
            raise ValueError(f"--scale {self.factor}: expected a factor in (0, 1]")

    @property
    def shrinks(self) -> bool:
        """Whether budgets are reduced at all."""
        return self.factor < 1

    def of(self, value: int, minimum: int) -> int:
        """`value * factor`, rounded, at least `minimum` (and never more than `value`)."""
        if not self.shrinks:
            return value
        return min(value, max(minimum, int(round(value * self.factor))))


def _teacher_name(source: str) -> str:
    return source.replace("-", "_")


def default_root(name: str, scale: float) -> Path:
    """`experiments/<name>`, or `experiments/<name>-scale<F>` for a scaled trial (never mixed with full runs)."""
    return Path("experiments") / (name if scale >= 1 else f"{name}-scale{scale:g}")


def _schedule_overrides(scale: Scale, episode_steps: int, prefill: int, eval_every: int) -> list[str]:
    """`--set` options that keep a scaled run's schedule proportionate (prefill, evaluation, logs)."""
    if not scale.shrinks:
        return []
    values = {
        "train.prefill": scale.of(prefill, episode_steps),
        "train.eval_every": scale.of(eval_every, episode_steps),
        "train.checkpoint_every": scale.of(5_000, episode_steps),
        "train.log_every": scale.of(1_000, 100),
    }
    return [item for key, value in values.items() for item in ("--set", f"{key}={value}")]


def _pretrain_overrides(scale: Scale) -> list[str]:
    if not scale.shrinks:
        return []
    values = {
        "pretrain.eval_every": scale.of(5_000, 50),
        "pretrain.checkpoint_every": scale.of(5_000, 50),
        "pretrain.log_every": scale.of(1_000, 10),
    }
    return [item for key, value in values.items() for item in ("--set", f"{key}={value}")]


@dataclass
class ExperimentSettings:
    """Options shared by every job of an experiment."""

    root: Path
    scale: Scale = field(default_factory=Scale)
    seeds: int = 3
    device: str = "auto"
    preset: str | None = None
    """Override the experiment's preset (e.g. `small` for a CPU trial); None keeps the paper's."""

    @property
    def home(self) -> Path:
        """The experiment's own teacher registry and datasets."""
        return self.root / "home"


def _transfer_jobs(
    settings: ExperimentSettings, preset: str, domain_prefix: str, targets: tuple[str, ...], sources: tuple[str, ...],
    steps: int, methods_for: Callable[[str], tuple[str, ...]], schedule: list[str],
) -> list[Job]:
    teachers = ",".join(_teacher_name(source) for source in sources)
    teacher_labels = tuple(f"teacher {_teacher_name(source)}" for source in sources)
    env = {HOME_ENV: str(settings.home)}
    jobs = []
    for target in targets:
        for seed in range(settings.seeds):
            for method in methods_for(target):
                logdir = settings.root / "runs" / f"{target}-{method}-{seed}"
                argv = ["transfer", "--target", f"{domain_prefix}{target}", "--preset", preset, "--seed", str(seed),
                        "--steps", str(steps), "--device", settings.device, "--logdir", str(logdir)]
                needs: tuple[str, ...] = teacher_labels
                if method == "init":
                    argv += ["--init-from", _teacher_name(INIT_SOURCE[target])]
                    needs = (f"teacher {_teacher_name(INIT_SOURCE[target])}",)
                elif method == "dreamer":
                    argv += list(METHOD_FLAGS[method])
                    needs = ()
                else:
                    argv += ["--teachers", teachers, *METHOD_FLAGS[method]]
                argv += schedule
                jobs.append(Job("transfer", f"transfer {target} {method} seed {seed}", tuple(argv),
                                logdir / "DONE", steps, env=env, needs=needs))
    return jobs


def paper_metaworld(settings: ExperimentSettings) -> list[Job]:
    """Meta-World (paper 5.2): 6 teachers, then 6 targets x methods x seeds, plus the Fig. 4 ablations."""
    scale = settings.scale
    preset = settings.preset or "paper-metaworld"
    env = {HOME_ENV: str(settings.home)}
    episodes = scale.of(10, 2)
    pretrain_steps = scale.of(200_000, 100)
    jobs = []
    for source in METAWORLD_SOURCES:
        name = _teacher_name(source)
        argv = ["teachers", "add", f"metaworld:{source}", "--name", name, "--episodes", str(episodes),
                "--steps", str(pretrain_steps), "--preset", preset, "--device", settings.device, *_pretrain_overrides(scale)]
        jobs.append(Job("teacher", f"teacher {name}", tuple(argv), settings.home / "teachers" / name / "config.json", env=env))
    steps = scale.of(300_000, 1_000)
    schedule = _schedule_overrides(scale, 500, 5_000, 6_000)

    def methods_for(target: str) -> tuple[str, ...]:
        return MAIN_METHODS + (ABLATION_METHODS if target in METAWORLD_ABLATION_TARGETS else ())

    jobs += _transfer_jobs(settings, preset, "metaworld:", METAWORLD_TARGETS, METAWORLD_SOURCES, steps, methods_for, schedule)
    return jobs


def paper_dmc(settings: ExperimentSettings) -> list[Job]:
    """DeepMind Control (paper 5.3): 4 DreamerV2 experts -> 4 teachers, then 2 quadruped targets x methods x seeds."""
    scale = settings.scale
    preset = settings.preset or "paper-dmc"
    env = {HOME_ENV: str(settings.home)}
    expert_steps = scale.of(500_000, 2_000)
    episodes = scale.of(50, 2)
    pretrain_steps = scale.of(200_000, 100)
    expert_schedule = _schedule_overrides(scale, 1_000, 2_500, 10_000)
    jobs = []
    expert_dirs = {}
    for source in DMC_SOURCES:
        logdir = settings.root / "experts" / f"{source}-0"
        expert_dirs[source] = logdir
        argv = ["train", "--task", source, "--preset", preset, "--steps", str(expert_steps), "--seed", "0",
                "--device", settings.device, "--logdir", str(logdir), *expert_schedule]
        jobs.append(Job("expert", f"expert {source}", tuple(argv), logdir / "DONE", expert_steps, env=env))
    for source in DMC_SOURCES:
        name = _teacher_name(source)
        argv = ["teachers", "add", source, "--name", name, "--policy", str(expert_dirs[source]), "--episodes", str(episodes),
                "--steps", str(pretrain_steps), "--preset", preset, "--device", settings.device, *_pretrain_overrides(scale)]
        jobs.append(Job("teacher", f"teacher {name}", tuple(argv), settings.home / "teachers" / name / "config.json", env=env,
                        needs=(f"expert {source}",)))
    steps = scale.of(400_000, 2_000)
    schedule = _schedule_overrides(scale, 1_000, 2_500, 10_000)
    jobs += _transfer_jobs(settings, preset, "", DMC_TARGETS, DMC_SOURCES, steps, lambda target: MAIN_METHODS, schedule)
    return jobs


@dataclass(frozen=True)
class GridSpec:
    """A grid of your own: every target x method x seed, teachers taken from your registry."""

    targets: tuple[str, ...]
    methods: tuple[str, ...]
    steps: int
    teachers: tuple[str, ...] = ()
    """Registered teacher names for the distilling methods; `init` starts from the first one."""
    home: Path | None = None
    """The registry the runs read (recorded in each job's environment); None: the jobs inherit VID2ACT_HOME."""

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("grid: --targets is empty; name at least one target task")
        unknown = [method for method in self.methods if method not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"grid: --methods {','.join(self.methods) or '(empty)'}: choose from {', '.join(METHODS)}")
        if self.steps < 1:
            raise ValueError(f"grid: --steps must be >= 1, got {self.steps}")
        if "apv" in self.methods:
            raise ValueError("grid: --methods apv needs an action-free model: run `vid2act transfer --method apv --init-from NAME`")
        if not self.teachers and any(method not in ("dreamer", "isodream") for method in self.methods):
            raise ValueError("grid: --teachers is required for the methods " + ", ".join(m for m in self.methods if m not in ("dreamer", "isodream")))


def custom_grid(settings: ExperimentSettings, spec: GridSpec) -> list[Job]:
    """`spec.targets` x `spec.methods` x seeds transfer runs under `settings.root/runs/` (independent of each other)."""
    env = {HOME_ENV: str(spec.home)} if spec.home is not None else {}
    jobs = []
    for target in spec.targets:
        for seed in range(settings.seeds):
            for method in spec.methods:
                logdir = settings.root / "runs" / f"{slugify(target)}-{method}-{seed}"
                argv = ["transfer", "--target", target, "--preset", settings.preset or "small", "--seed", str(seed),
                        "--steps", str(spec.steps), "--device", settings.device, "--logdir", str(logdir)]
                if method == "init":
                    argv += ["--init-from", spec.teachers[0]]
                elif method == "isodream":
                    argv += ["--method", "isodream"]
                elif method == "dreamer":
                    argv += list(METHOD_FLAGS[method])
                else:
                    argv += ["--teachers", ",".join(spec.teachers), *METHOD_FLAGS[method]]
                jobs.append(Job("transfer", f"transfer {target} {method} seed {seed}", tuple(argv), logdir / "DONE",
                                spec.steps, env=env))
    return jobs


def expand_experiment(
    name: str, root: Path | None = None, scale: float = 1.0, seeds: int = 3, device: str = "auto", preset: str | None = None,
    grid: GridSpec | None = None, overrides: tuple[str, ...] = (),
) -> list[Job]:
    """The jobs of experiment `name`, in dependency order (experts, teachers, then transfer runs).

    `grid` describes the `grid` experiment (and is refused for the paper's); `overrides` are
    `key=value` settings added to every job as `--set` options.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    if (name == "grid") != (grid is not None):
        raise ValueError("grid: --targets, --methods and --steps are required" if name == "grid"
                         else f"{name}: --targets, --methods, --teachers and --steps belong to the grid experiment")
    settings = ExperimentSettings(
        root=Path(root if root is not None else default_root(name, scale)).absolute(),
        scale=Scale(scale), seeds=seeds, device=device, preset=preset,
    )
    if grid is not None:
        jobs = custom_grid(settings, grid)
    else:
        jobs = paper_metaworld(settings) if name == "paper-metaworld" else paper_dmc(settings)
    extra = tuple(item for override in overrides for item in ("--set", override))
    return [replace(job, argv=job.argv + extra) for job in jobs] if extra else jobs


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_jobs(jobs: list[Job], title: str = "experiment") -> int:
    """Run unfinished jobs in order as `vid2act` subprocesses; returns how many ran.

    A failing job stops the experiment with a one-line error naming it (what finished stays
    finished); Ctrl-C stops the current job, which resumes on the next run.
    """
    pending = [job for job in jobs if not job.is_done()]
    _say(f"{title}: {len(jobs)} jobs, {len(jobs) - len(pending)} already finished, {len(pending)} to run")
    started = time.time()
    for index, job in enumerate(jobs, 1):
        header = f"[{index}/{len(jobs)}] {job.label}"
        if job.is_done():
            _say(f"{header}: done, skipped")
            continue
        _say(f"{header}\n  $ {job.shell_line()}")
        job_started = time.time()
        environment = dict(os.environ, **job.env)
        returncode = _run_subprocess([sys.executable, "-m", "vid2act_cli.app", *job.argv], environment)
        if returncode == 130 or returncode < 0:
            raise KeyboardInterrupt
        if returncode != 0:
            raise JobFailedError(f"job {index}/{len(jobs)} ({job.label}) failed with exit code {returncode}; re-run to resume")
        if not job.is_done():
            raise JobFailedError(f"job {index}/{len(jobs)} ({job.label}) exited without finishing ({job.done_file} missing)")
        _say(f"{header}: finished in {time.time() - job_started:.0f} s (total {time.time() - started:.0f} s)")
    return len(pending)


def _run_subprocess(argv: list[str], environment: dict[str, str]) -> int:
    """Run one job; on Ctrl-C let it stop cleanly (a terminal sends it the same SIGINT; else it is forwarded)."""
    process = subprocess.Popen(argv, env=environment)
    try:
        return process.wait()
    except KeyboardInterrupt:
        for signal_to_send, timeout in ((None, 2), (signal.SIGINT, 30), (signal.SIGKILL, None)):
            if signal_to_send is not None:
                process.send_signal(signal_to_send)
            try:
                process.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        raise


class JobFailedError(RuntimeError):
    """A job of an experiment exited with an error."""
