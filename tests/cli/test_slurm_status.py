"""`experiment status` of Slurm jobs against stand-ins for `scontrol` and `sacct` (no cluster needed):
the scheduler's view comes before submitit's result file, so a requeued job that waits in the queue
(its stopped attempt's result still on disk) is pending, not failed. The same against a real
single-node cluster: tests/cli/test_slurm_cluster.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from submitit.core.utils import JobPaths, cloudpickle_dump

from vid2act_cli.compose.launch import LaunchOptions, dry_run
from vid2act_cli.compose.launch.records import ExperimentFile, new_record, write_experiment
from vid2act_cli.compose.launch.status import job_status
from vid2act_cli.experiments import Job

# `scontrol show job --oneliner ID` as Slurm prints it, for the job ids in $FAKE_SLURM_JOBS (id=fields;...);
# any other id is one the controller does not know (exit 1, like Slurm's "Invalid job id specified").
FAKE_SCONTROL = """#!/usr/bin/env python3
import os, sys
jobs = dict(item.split("=", 1) for item in os.environ.get("FAKE_SLURM_JOBS", "").split(";") if item)
job_id = sys.argv[-1]
if sys.argv[1:4] != ["show", "job", "--oneliner"] or job_id not in jobs:
    sys.exit("slurm_load_jobs error: Invalid job id specified")
print(f"JobId={job_id} JobName=vid2act-x UserId=root(0) " + jobs[job_id].replace(",", " ") + " BatchFlag=1 ExitCode=0:0")
"""
# An accounting that knows nothing (what a cluster without slurmdbd gives submitit's watcher).
FAKE_SACCT = """#!/bin/sh
echo 'JobID|State|NodeList'
"""
SIGTERM_ERROR = ("Traceback (most recent call last):\n  File \"runner.py\", line 101, in __call__\n"
                 "vid2act_cli.compose.launch.runner.RunFailedError: transfer t dreamer seed 0: killed by SIGTERM: new run: r")


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("scontrol", FAKE_SCONTROL), ("sacct", FAKE_SACCT)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def _submitted(tmp_path: Path, job_id: str, result: tuple[str, str] | None) -> tuple[Job, ExperimentFile]:
    """A transfer job submitted to Slurm as `job_id`, with submitit's result file of its last attempt if given."""
    run = tmp_path / f"run-{job_id}"
    job = Job("transfer", f"transfer t dreamer seed {job_id}", ("transfer", "--logdir", str(run)), run / "DONE", 10)
    folder = tmp_path / "submitit" / job_id
    folder.mkdir(parents=True)
    if result is not None:
        cloudpickle_dump(result, JobPaths(folder, job_id=job_id, task_id=0).result_pickle)
    log = tmp_path / "logs" / f"{job.key}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("new run: r\n")
    contents = ExperimentFile("fake", [job], {job.key: new_record(job.label, "slurm", job_id, folder, log, None)})
    write_experiment(tmp_path, contents)
    return job, contents


def test_a_requeued_job_waiting_in_the_queue_is_pending_not_failed(fake_slurm: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLURM_JOBS", "41=JobState=PENDING,Reason=BeginTime,Requeue=1,Restarts=1")
    job, contents = _submitted(tmp_path, "41", ("error", SIGTERM_ERROR))
    status = job_status(job, contents.records[job.key])
    assert status.state == "running"
    assert status.detail == "PENDING (BeginTime), requeued 1x; last attempt: transfer t dreamer seed 0: killed by SIGTERM: new run: r"
    # Re-running the launch leaves it alone instead of submitting the run a second time.
    commands, states = dry_run("fake", [job], tmp_path, LaunchOptions(launcher="slurm"))
    assert commands == [] and states[0].startswith("running  transfer t dreamer seed 41  [PENDING (BeginTime), requeued 1x")


def test_a_requeued_job_running_again_is_running(fake_slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLURM_JOBS", "42=JobState=RUNNING,Reason=None,Restarts=2")
    job, contents = _submitted(tmp_path, "42", ("error", SIGTERM_ERROR))
    status = job_status(job, contents.records[job.key])
    assert (status.state, status.detail.split(";")[0]) == ("running", "RUNNING, requeued 2x")


def test_a_job_slurm_ended_is_failed_with_its_error(fake_slurm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLURM_JOBS", "43=JobState=FAILED,Reason=NonZeroExitCode,Restarts=0;44=JobState=CANCELLED,Reason=None")
    job, contents = _submitted(tmp_path, "43", ("error", "Traceback\nRunFailedError: transfer t: exit code 1: error: bad"))
    status = job_status(job, contents.records[job.key])
    assert (status.state, status.detail) == ("failed", "transfer t: exit code 1: error: bad")
    cancelled, contents = _submitted(tmp_path, "44", None)  # cancelled while pending: no result file
    status = job_status(cancelled, contents.records[cancelled.key])
    assert (status.state, status.detail) == ("failed", "slurm CANCELLED: new run: r")


def test_a_job_neither_controller_nor_accounting_knows_is_judged_by_its_result(fake_slurm: Path, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLURM_JOBS", "")
    job, contents = _submitted(tmp_path, "45", ("error", SIGTERM_ERROR))  # long gone: its last result is final
    status = job_status(job, contents.records[job.key])
    assert status.state == "failed" and status.detail.endswith("killed by SIGTERM: new run: r")
    fresh, contents = _submitted(tmp_path, "46", None)  # just submitted, not known yet
    assert job_status(fresh, contents.records[fresh.key]).state == "running"
