"""Run a list of jobs on this machine and stop with one line if any failed: the launcher's local path, for callers
that need every job finished before they go on (`vid2act demo`, `vid2act probe --jobs N`).

It is `launch(..., LaunchOptions(launcher="local", jobs=slots))`: up to `slots` jobs side by side with
`cores // slots` threads each, a job started once the jobs it `needs` are done, every job's output in
`ROOT/logs/<job>.log`, one console line per job when it starts and when it finishes, and `ROOT/jobs.json`
so that `vid2act experiment status ROOT` works while it runs.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from vid2act_cli.compose.launch.executors import LaunchOptions, cpu_count
from vid2act_cli.compose.launch.records import LOGS_DIR
from vid2act_cli.compose.launch.submit import launch
from vid2act_cli.compose.reporter import Reporter
from vid2act_cli.experiments import Job


class JobFailedError(RuntimeError):
    """A job exited with an error (or one it needs did); the jobs that could go on finished."""


def independent_jobs(jobs: list[Job]) -> int:
    """The most jobs that can run at once by their `needs` (the widest level of the dependency graph), at least 1."""
    depth: dict[str, int] = {}
    for job in jobs:
        depth[job.label] = 1 + max((depth.get(need, 0) for need in job.needs), default=0)
    levels = list(depth.values())
    return max((levels.count(level) for level in set(levels)), default=1)


def default_slots(jobs: list[Job]) -> int:
    """All cores, but no more side-by-side slots than jobs that can run at once."""
    return max(1, min(cpu_count(), independent_jobs(jobs)))


def shared_gpus() -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES naming this process's GPUs, for jobs that share them (the local launcher hides CUDA
    from a job given no GPUs of its own)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return {"CUDA_VISIBLE_DEVICES": visible}
    # why: the job controllers that launchers start import this package; only a GPU launch pays for torch.
    import torch

    return {"CUDA_VISIBLE_DEVICES": ",".join(str(index) for index in range(torch.cuda.device_count()))}


def run_jobs(jobs: list[Job], root: Path, title: str, slots: int = 1, reporter: Reporter | None = None,
             program: tuple[str, ...] = (), device: str = "cpu") -> int:
    """Run the jobs that are not done, `slots` side by side; returns how many ran. With a `device` other
    than cpu, every job sees this process's GPUs.

    A failing job does not stop the others (only the jobs that need it): when all that can finish
    has, one JobFailedError line names what failed. Ctrl-C stops the running jobs, which keep their
    checkpoints; a re-run resumes them.
    """
    root = Path(root)
    if device != "cpu":
        jobs = [replace(job, env={**shared_gpus(), **job.env}) for job in jobs]
    result = launch(title, jobs, root, LaunchOptions(launcher="local", jobs=slots, program=program), reporter)
    if result.failed or result.blocked:
        failed = "; ".join(f"{label} ({reason})" if reason else label for label, reason in result.failed.items())
        blocked = f"; not started (a job they need failed): {', '.join(result.blocked)}" if result.blocked else ""
        raise JobFailedError(f"{title}: {len(result.failed)} job(s) failed: {failed}{blocked}; "
                             f"logs in {root / LOGS_DIR}; re-run to resume")
    return len(result.submitted)
