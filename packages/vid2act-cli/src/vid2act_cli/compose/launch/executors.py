"""Launcher options and the submitit executors they build (Slurm, or local processes).

Each run gets a thread budget: `cores // jobs` on one machine (`--launcher local --jobs N`), the
Slurm CPUs of its job on a cluster. It reaches the run as `--set train.threads=K` (torch, also
used by teacher pretraining) and OMP/MKL thread variables.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import submitit

from vid2act_cli.experiments import Job

LAUNCHERS = ("local", "slurm")
DEFAULT_SLURM_CPUS = 8
MAX_TIMEOUT_REQUEUES = 20
"""How often a run may hit the time limit and be requeued (a 400k-step run can take days; preemptions do not count)."""
LOCAL_TIMEOUT_MIN = 60 * 24 * 365
"""submitit's local jobs otherwise stop after 2 minutes; a local run has no time limit."""
_TIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$")


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_time(text: str) -> int:
    """Slurm's `[D-]HH:MM[:SS]` or plain minutes -> whole minutes (rounded up); bad text is a one-line error."""
    text = text.strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"--time {text!r}: expected HH:MM:SS, D-HH:MM:SS or minutes")
    days, hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    total = days * 24 * 60 + hours * 60 + minutes + (1 if seconds else 0)
    if total <= 0 or minutes >= 60 or seconds >= 60:
        raise ValueError(f"--time {text!r}: expected a positive duration with minutes and seconds below 60")
    return total


@dataclass(frozen=True)
class LaunchOptions:
    """How an experiment's jobs are launched."""

    launcher: str = "local"
    jobs: int = 1
    """local: how many runs go side by side."""
    partition: str | None = None
    gpus_per_run: int = 0
    cpus_per_run: int | None = None
    """slurm: CPUs per job [DEFAULT_SLURM_CPUS]; local: cores // jobs (not settable)."""
    time: str = "48:00:00"
    """slurm: the time limit per job (a run that hits it is requeued and resumes)."""
    slurm_parameters: tuple[tuple[str, str], ...] = ()
    """Extra sbatch options, e.g. (("account", "proj"), ("qos", "high"))."""
    program: tuple[str, ...] = ()
    """What each job's argv follows (empty: this interpreter running the `vid2act` app; tests run plain Python)."""

    def __post_init__(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"--launcher {self.launcher!r}: choose one of {', '.join(LAUNCHERS)}")
        if self.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {self.jobs}")
        if self.gpus_per_run < 0:
            raise ValueError(f"--gpus-per-run must be >= 0, got {self.gpus_per_run}")
        if self.cpus_per_run is not None and self.cpus_per_run < 1:
            raise ValueError(f"--cpus-per-run must be >= 1, got {self.cpus_per_run}")
        if self.launcher == "local" and (self.partition or self.cpus_per_run):
            raise ValueError("--partition and --cpus-per-run apply to --launcher slurm; locally each run gets cores // --jobs")
        if self.launcher == "slurm":
            parse_time(self.time)
            if self.jobs != 1:
                raise ValueError("--jobs applies to --launcher local; Slurm runs every job as its own allocation")

    @property
    def threads_per_run(self) -> int:
        if self.launcher == "slurm":
            return self.cpus_per_run or DEFAULT_SLURM_CPUS
        return max(1, cpu_count() // self.jobs)

    def describe(self) -> str:
        """One line: where and with what resources each run goes."""
        if self.launcher == "local":
            return (f"local, {self.jobs} run(s) side by side, {self.threads_per_run} thread(s) each"
                    + (f", {self.gpus_per_run} GPU(s) each" if self.gpus_per_run else ""))
        return (f"slurm, partition {self.partition or '(default)'}, {self.gpus_per_run} GPU(s), "
                f"{self.threads_per_run} CPUs, time {self.time} per run")


WITHOUT_SET = (("experts", "train"), ("evaluate",), ("collect",))
"""Commands with no `--set` option: they get the thread budget through the OMP/MKL variables only."""


def with_thread_budget(job: Job, threads: int) -> Job:
    """The job with `--set train.threads=K` after its own settings, so it wins (the runner also sets OMP/MKL threads).

    State experts (`vid2act experts train`), `evaluate` and `collect` have no training config: torch
    takes its thread count from OMP_NUM_THREADS (state experts run one torch thread by default, docs/experts.md).
    """
    if any(job.argv[:len(prefix)] == prefix for prefix in WITHOUT_SET):
        return job
    return replace(job, argv=job.argv + ("--set", f"train.threads={threads}"))


def thread_environment(threads: int) -> dict[str, str]:
    """Thread variables for the libraries below torch (OpenMP, MKL)."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def slurm_executor(options: LaunchOptions, folder: Path, job_name: str, dependency: str | None) -> submitit.SlurmExecutor:
    """A Slurm executor for one run: its own allocation, requeued on preemption and on time limit."""
    executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=MAX_TIMEOUT_REQUEUES)
    executor.update_parameters(**slurm_parameters(options, job_name, dependency))
    return executor


def slurm_parameters(options: LaunchOptions, job_name: str, dependency: str | None) -> dict[str, object]:
    """submitit SlurmExecutor parameters (also what `--dry-run` shows)."""
    additional: dict[str, object] = {"requeue": True, **dict(options.slurm_parameters)}
    parameters: dict[str, object] = {
        "job_name": job_name, "time": parse_time(options.time), "nodes": 1, "ntasks_per_node": 1,
        "cpus_per_task": options.threads_per_run, "signal_delay_s": 120, "additional_parameters": additional,
    }
    if options.gpus_per_run:
        parameters["gpus_per_node"] = options.gpus_per_run
    if options.partition:
        parameters["partition"] = options.partition
    if dependency:
        parameters["dependency"] = dependency
    return parameters


def local_executor(folder: Path, gpus: tuple[int, ...]) -> submitit.LocalExecutor:
    """A local executor whose job sees exactly `gpus` (none: CUDA hidden)."""
    executor = submitit.LocalExecutor(folder=folder)
    executor.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN, gpus_per_node=len(gpus), visible_gpus=gpus)
    return executor


def local_folder(root: Path) -> Path:
    """A submitit folder for this launch (local job ids are pids, which repeat across launches)."""
    return Path(root) / "submitit" / f"local-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
