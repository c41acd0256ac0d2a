"""Launching through submitit: options, Slurm job scripts, jobs.json, dry runs, and the submitted
command under submitit's real local executor (a killed command is a failed job; a preempted one is
requeued and resumes)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest
import submitit
from submitit.slurm.slurm import _make_sbatch_string
from typer.testing import CliRunner

from vid2act_cli.app import app
from vid2act_cli.compose.launch import LaunchOptions, dry_run, experiment_status, parse_time
from vid2act_cli.compose.launch.executors import local_executor, slurm_parameters
from vid2act_cli.compose.launch.records import ExperimentFile, new_record, read_experiment, write_experiment
from vid2act_cli.compose.launch.runner import RunCommand
from vid2act_cli.compose.launch.status import job_status
from vid2act_cli.experiments import GridSpec, Job, expand_experiment

# A stand-in for `vid2act transfer`: counts its attempts in a file, writes DONE on the attempt
# given by argv[2], and otherwise waits to be stopped (SIGINT, as a preempted run is) or kills itself.
FAKE_RUN = """
import os, pathlib, signal, sys, time
logdir, finish_on, mode = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
logdir.mkdir(parents=True, exist_ok=True)
attempts = logdir / "attempts"
attempt = int(attempts.read_text()) + 1 if attempts.exists() else 1
attempts.write_text(str(attempt))
print(f"attempt {attempt}", flush=True)
if mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if attempt >= finish_on:
    (logdir / "DONE").write_text('{"env_steps": 10}')
    sys.exit(0)
try:
    # Written only once an interrupt would be caught here: the test signals after it appears.
    (logdir / "task_pid").write_text(str(os.getppid()))  # the submitit task running this command
    time.sleep(120)
except KeyboardInterrupt:
    print("interrupted: re-run the same command to resume", flush=True)
    sys.exit(130)
"""


def _fake_job(tmp_path: Path, name: str) -> Job:
    logdir = tmp_path / name
    return Job("transfer", f"transfer fake {name}", ("--logdir", str(logdir)), logdir / "DONE", 10)


def _fake_command(tmp_path: Path, job: Job, finish_on: int, mode: str = "run") -> RunCommand:
    script = tmp_path / "fake_run.py"
    script.write_text(FAKE_RUN)
    return RunCommand(job.label, (job.argv[1], str(finish_on), mode), {}, tmp_path / "logs" / f"{job.key}.log", job,
                      program=(sys.executable, str(script)))


def _record(tmp_path: Path, job: Job, submitted: submitit.Job, folder: Path) -> None:
    contents = read_experiment(tmp_path) or ExperimentFile("fake", [job])
    contents.records[job.key] = new_record(job.label, "local", submitted.job_id, folder, tmp_path / "logs" / f"{job.key}.log", None)
    write_experiment(tmp_path, contents)


def test_parse_time_accepts_slurm_durations_and_names_bad_ones() -> None:
    assert parse_time("48:00:00") == 2880
    assert parse_time("1-12:30") == 36 * 60 + 30
    assert parse_time("00:10:30") == 11  # seconds round up
    assert parse_time("90") == 90
    for bad in ("soon", "1:75:00", "0:00:00", "-5"):
        with pytest.raises(ValueError, match=f"--time '{bad}'"):
            parse_time(bad)


def test_launch_options_refuse_mixed_launcher_settings() -> None:
    with pytest.raises(ValueError, match="--launcher 'pbs'"):
        LaunchOptions(launcher="pbs")
    with pytest.raises(ValueError, match="--jobs must be >= 1"):
        LaunchOptions(jobs=0)
    with pytest.raises(ValueError, match="--partition"):
        LaunchOptions(launcher="local", partition="gpu")
    with pytest.raises(ValueError, match="--jobs applies to --launcher local"):
        LaunchOptions(launcher="slurm", jobs=4)
    assert LaunchOptions(launcher="slurm", cpus_per_run=6).threads_per_run == 6


def test_slurm_job_script_asks_for_the_resources_requeue_and_dependency(tmp_path: Path) -> None:
    options = LaunchOptions(launcher="slurm", partition="gpu", gpus_per_run=1, time="48:00:00",
                            slurm_parameters=(("account", "proj"),))
    script = _make_sbatch_string(command="python -m submitit.core._submit", folder=tmp_path / "%j",
                                 **slurm_parameters(options, "vid2act-run", "afterok:11:12"))
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=2880", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --dependency=afterok:11:12", "#SBATCH --requeue", "#SBATCH --signal=USR2@120", "#SBATCH --account=proj"):
        assert line in script, line


def test_dry_run_on_slurm_shows_each_unfinished_job_with_its_thread_budget(tmp_path: Path) -> None:
    jobs = expand_experiment("paper-dmc", root=tmp_path, seeds=1)
    finished = jobs[0]
    finished.done_file.parent.mkdir(parents=True)
    finished.done_file.write_text(json.dumps({"env_steps": finished.min_env_steps}))
    options = LaunchOptions(launcher="slurm", partition="gpu", gpus_per_run=1, cpus_per_run=4)
    commands, states = dry_run("paper-dmc", jobs, tmp_path, options)
    assert len(commands) == len(jobs) - 1
    assert states[0] == f"done     {finished.label}" and states[1].startswith("missing  expert")
    for line, job in zip(commands, jobs[1:]):
        words = shlex.split(line)
        assert job.label.split()[-1] in line
        if job.kind == "expert":  # state experts take no config: no --set, threads through OMP/MKL only
            assert "--set" not in words and words[4:6] == ["experts", "train"]
        else:
            assert words[-2:] == ["--set", "train.threads=4"]
    assert "1 GPU(s), 4 CPUs, time 48:00:00" in states[-1]
    assert not (tmp_path / "jobs.json").exists()  # a dry run writes nothing


def test_paper_jobs_need_their_expert_and_teachers_and_dreamer_needs_none(tmp_path: Path) -> None:
    jobs = {job.label: job for job in expand_experiment("paper-dmc", root=tmp_path, seeds=1)}
    assert jobs["teacher walker_walk"].needs == ("expert walker_walk",)
    assert jobs["transfer quadruped_run init seed 0"].needs == ("teacher walker_run",)
    assert jobs["transfer quadruped_run dreamer seed 0"].needs == ()
    assert len(jobs["transfer quadruped_run vid2act seed 0"].needs) == 4


def test_grid_spec_names_bad_input() -> None:
    with pytest.raises(ValueError, match="--methods vid2act,magic"):
        GridSpec(("cartpole_balance",), ("vid2act", "magic"), 100, ("t",))
    with pytest.raises(ValueError, match="--teachers is required for the methods vid2act"):
        GridSpec(("cartpole_balance",), ("dreamer", "vid2act"), 100)
    with pytest.raises(ValueError, match="belong to the grid experiment"):
        expand_experiment("paper-dmc", grid=GridSpec(("cartpole_balance",), ("dreamer",), 100))


def test_a_killed_command_is_a_failed_job_with_its_reason(tmp_path: Path) -> None:
    job = _fake_job(tmp_path, "killed")
    folder = tmp_path / "submitit"
    submitted = local_executor(folder, ()).submit(_fake_command(tmp_path, job, finish_on=1, mode="kill"))
    _record(tmp_path, job, submitted, folder)
    assert isinstance(submitted.exception(), Exception)
    status = job_status(job, read_experiment(tmp_path).records[job.key])
    assert status.state == "failed"
    assert status.detail == "transfer fake killed: killed by SIGKILL: attempt 1"


@pytest.mark.parametrize("launched_in_background", [False, True], ids=["foreground", "sigint-ignored"])
def test_a_preempted_command_is_requeued_and_resumes(tmp_path: Path, launched_in_background: bool) -> None:
    # A launcher started with `cmd &` from a non-interactive shell has SIGINT ignored, and its
    # processes inherit that; the command must still receive the Ctrl-C a preemption sends.
    job = _fake_job(tmp_path, "preempted")
    folder = tmp_path / "submitit"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN if launched_in_background else signal.default_int_handler)
    try:
        submitted = local_executor(folder, ()).submit(_fake_command(tmp_path, job, finish_on=2))
    finally:
        signal.signal(signal.SIGINT, previous)
    _record(tmp_path, job, submitted, folder)
    attempts, task_pid_file = tmp_path / "preempted" / "attempts", tmp_path / "preempted" / "task_pid"
    for _ in range(600):
        if task_pid_file.exists() and task_pid_file.read_text().strip() and job_status(job, read_experiment(tmp_path).records[job.key]).state == "running":
            break
        time.sleep(0.05)
    assert job_status(job, read_experiment(tmp_path).records[job.key]).state == "running"
    task_pid = int(task_pid_file.read_text())
    os.kill(task_pid, signal.SIGUSR2)  # what Slurm sends the job before preemption or its time limit
    assert submitted.result().startswith("transfer fake preempted: finished")
    assert attempts.read_text() == "2" and job.is_done()
    log = (tmp_path / "logs" / f"{job.key}.log").read_text()
    assert "attempt 1\ninterrupted: re-run the same command to resume" in log and "attempt 2" in log, log
    assert job_status(job, read_experiment(tmp_path).records[job.key]).state == "done"


def test_status_of_a_directory_without_jobs_file_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["experiment", "status", str(tmp_path)])
    assert result.exit_code == 2 and f"{tmp_path}: no jobs.json" in result.output
    (tmp_path / "jobs.json").write_text("{not json")
    result = CliRunner().invoke(app, ["experiment", "status", str(tmp_path)])
    assert result.exit_code == 2 and "jobs.json: not a vid2act jobs file" in result.output
    with pytest.raises(ValueError, match="no jobs.json"):
        experiment_status(tmp_path / "elsewhere")
