"""Where each job of an experiment stands: done, running, failed (and why) or missing.

"done" is read from the job's own output (a run's DONE marker with enough env steps, a
teacher's config.json), never from the launcher, so a run finished by hand counts too. The
rest comes from `jobs.json` and the launcher: for Slurm jobs the scheduler's own view first
(`scontrol show job` while the controller knows the job, then the accounting through submitit's
`sacct` watcher), then submitit's result file; for local jobs, the result file and whether the
job's process is alive.

Slurm before the result file, because a requeued job (`scontrol requeue`, a preemption) leaves
the result of the attempt that was stopped (its command killed by SIGTERM) while it waits in the
queue and while it runs again: only the scheduler knows the job is not over.
"""

from __future__ import annotations

import os
import re
import subprocess
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


_SCONTROL_FIELD = re.compile(r"(?:^|\s)([A-Za-z/:]+)=(\S*)")
SLURM_QUERY_TIMEOUT_S = 30


def _scontrol_job(job_id: str) -> dict[str, str] | None:
    """`scontrol show job` fields (JobState, Reason, Restarts, ...) of a job the controller still knows, else None.

    Unlike `sacct` it needs no accounting database and it counts restarts (requeues); the controller
    forgets a finished job after its MinJobAge (300 s by default), then only `sacct` knows it.
    """
    try:
        completed = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True,
                                   timeout=SLURM_QUERY_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return None  # no Slurm client here: the accounting (sacct) is asked next
    if completed.returncode != 0 or "JobState=" not in completed.stdout:
        return None
    return dict(_SCONTROL_FIELD.findall(completed.stdout.splitlines()[0]))


def slurm_state(folder: Path, job_id: str) -> tuple[str, dict[str, str]]:
    """(the job's Slurm state, e.g. PENDING, or UNKNOWN if neither the controller nor the accounting knows it,
    and the controller's fields where it knows the job)."""
    fields = _scontrol_job(job_id)
    if fields is not None:
        return (fields.get("JobState") or "UNKNOWN").split()[0], fields
    state = submitit.SlurmJob(folder, job_id).get_info(mode="force").get("State") or "UNKNOWN"
    return state.split()[0], {}


def _active_detail(state: str, fields: dict[str, str], earlier_error: str) -> str:
    """`PENDING (BeginTime), requeued 1x; last attempt: killed by SIGTERM`, as far as Slurm and the result file tell."""
    reason = fields.get("Reason", "None")
    text = state + (f" ({reason})" if reason not in ("None", "") else "")
    restarts = fields.get("Restarts", "0")
    if restarts.isdigit() and int(restarts) > 0:
        text += f", requeued {restarts}x"
    if earlier_error:
        text += f"; last attempt: {earlier_error}"
    return text


def job_status(job: Job, record: JobRecord | None) -> JobStatus:
    """The state of one job (see the module docstring)."""
    if job.is_done():
        return JobStatus(job, "done", record)
    if record is None:
        return JobStatus(job, "missing")
    folder = Path(record.folder)
    has_result, error = _result_error(folder, record.job_id)
    if record.launcher == "slurm":
        return _slurm_job_status(job, record, folder, has_result, error)
    if has_result:
        return JobStatus(job, "failed", record, _failure(record, error or "finished without completing its budget"))
    if _local_process_alive(record.job_id):
        return JobStatus(job, "running", record, "local")
    return JobStatus(job, "failed", record, "process ended without a result: " + _failure(record, ""))


def _slurm_job_status(job: Job, record: JobRecord, folder: Path, has_result: bool, error: str) -> JobStatus:
    try:
        state, fields = slurm_state(folder, record.job_id)
    except Exception as failure:  # noqa: BLE001 - scontrol/sacct missing or failing: say so instead of guessing
        if has_result:
            return JobStatus(job, "failed", record, _failure(record, error or "finished without completing its budget"))
        return JobStatus(job, "running", record, f"state unknown (scontrol/sacct: {type(failure).__name__})")
    if state in SLURM_ACTIVE and not (state == "UNKNOWN" and has_result):
        return JobStatus(job, "running", record, _active_detail(state, fields, error if has_result else ""))
    if has_result:
        return JobStatus(job, "failed", record, _failure(record, error or "finished without completing its budget"))
    return JobStatus(job, "failed", record, f"slurm {state}: {_failure(record, '')}")


def experiment_status(root: Path) -> tuple[str, list[JobStatus]]:
    """(experiment name, the state of every job in the experiment's order) from `root/jobs.json`."""
    contents = read_experiment(root)
    if contents is None:
        raise JobsFileError(f"{root}: no jobs.json; not an experiment directory launched by `vid2act experiment`")
    return contents.experiment, [job_status(job, contents.records.get(job.key)) for job in contents.plan]
