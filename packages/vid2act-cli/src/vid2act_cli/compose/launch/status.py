"""Where each job of an experiment stands: done, running, failed (and why) or missing.

"done" is read from the job's own output (a run's DONE marker with enough env steps, a
teacher's config.json), never from the launcher, so a run finished by hand counts too. The
rest comes from `jobs.json` and the launcher: Slurm's accounting (through submitit) or, for
local jobs, submitit's result file and whether the job's process is alive.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import submitit
from submitit.core.utils import pickle_load

from vid2act_cli.compose.launch.records import JobRecord, JobsFileError, read_experiment
from vid2act_cli.compose.launch.runner import last_line
from vid2act_cli.experiments import Job

STATES = ("done", "running", "failed", "missing")
SLURM_ACTIVE = frozenset({"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED",
                          "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT", "UNKNOWN"})
"""Slurm states in which a job will still run (UNKNOWN: not in the accounting yet, just submitted)."""


@dataclass(frozen=True)
class JobStatus:
    """One job's state; `detail` is the launcher's state or, for a failed job, its last error line."""

    job: Job
    state: str
    record: JobRecord | None = None
    detail: str = ""


def _local_process_alive(job_id: str) -> bool:
    """Whether submitit's local controller with this pid still runs (a reused pid running something else does not count)."""
    try:
        pid = int(job_id)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        return b"submitit" in cmdline.read_bytes()
    return True


def _result_error(folder: Path, job_id: str) -> tuple[bool, str]:
    """(has a result, its error's last line or '') from submitit's result file of task 0."""
    result = submitit.core.utils.JobPaths(folder, job_id=job_id, task_id=0).result_pickle
    if not result.exists():
        return False, ""
    try:
        outcome, value = pickle_load(result)  # our own job folder, written by submitit
    except Exception as error:  # noqa: BLE001 - a truncated result file is reported, not raised
        return True, f"unreadable result file {result} ({type(error).__name__})"
    if outcome == "success":
        return True, ""
    lines = [line for line in str(value).splitlines() if line.strip()]
    text = lines[-1].strip() if lines else "failed"
    return True, text.split("RunFailedError: ", 1)[-1]


def _failure(record: JobRecord, reason: str) -> str:
    return reason or last_line(Path(record.log)) or "failed without output"


def job_status(job: Job, record: JobRecord | None) -> JobStatus:
    """The state of one job (see the module docstring)."""
    if job.is_done():
        return JobStatus(job, "done", record)
    if record is None:
        return JobStatus(job, "missing")
    folder = Path(record.folder)
    has_result, error = _result_error(folder, record.job_id)
    if has_result:
        return JobStatus(job, "failed", record, _failure(record, error or "finished without completing its budget"))
    if record.launcher == "slurm":
        try:
            slurm_state = submitit.SlurmJob(folder, record.job_id).get_info(mode="force").get("State", "UNKNOWN")
        except Exception as error:  # noqa: BLE001 - sacct missing or failing: say so instead of guessing
            return JobStatus(job, "running", record, f"state unknown (sacct: {type(error).__name__})")
        slurm_state = slurm_state.split()[0] if slurm_state else "UNKNOWN"
        if slurm_state in SLURM_ACTIVE:
            return JobStatus(job, "running", record, slurm_state)
        return JobStatus(job, "failed", record, f"slurm {slurm_state}: {_failure(record, '')}")
    if _local_process_alive(record.job_id):
        return JobStatus(job, "running", record, "local")
    return JobStatus(job, "failed", record, "process ended without a result: " + _failure(record, ""))


def experiment_status(root: Path) -> tuple[str, list[JobStatus]]:
    """(experiment name, the state of every job in the experiment's order) from `root/jobs.json`."""
    contents = read_experiment(root)
    if contents is None:
        raise JobsFileError(f"{root}: no jobs.json; not an experiment directory launched by `vid2act experiment`")
    return contents.experiment, [job_status(job, contents.records.get(job.key)) for job in contents.plan]
