"""Submit an experiment's unfinished jobs through submitit: to Slurm, or as local processes.

Re-running is the recovery path: jobs that are done or still running are left alone, failed
and never-submitted ones are submitted again, and every run resumes from its own directory.
On Slurm every job is submitted at once, each waiting for its prerequisites through
`--dependency=afterok:...`; locally, up to `jobs` runs go side by side and a job starts when
its prerequisites are done (one whose prerequisite failed is left for the next launch).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import submitit

from vid2act_cli.compose.launch.executors import (
    LaunchOptions, local_executor, local_folder, slurm_executor, thread_environment, with_thread_budget,
)
from vid2act_cli.compose.launch.records import ExperimentFile, log_path, new_record, read_experiment, write_experiment
from vid2act_cli.compose.launch.runner import RunCommand, sigint_ignored, signal_command
from vid2act_cli.compose.launch.status import JobStatus, job_status
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.experiments import Job

POLL_S = 0.5
STOP_WAIT_S = 60.0
"""How long Ctrl-C waits for the running jobs to write their checkpoints and exit."""
TERMINAL_GRACE_S = 2.0
"""How long a command stopped by a terminal's Ctrl-C gets before the launcher sends its own SIGINT."""


@dataclass
class LaunchResult:
    """What a launch did, by job label."""

    submitted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Label -> done or running (left alone)."""
    failed: dict[str, str] = field(default_factory=dict)
    """local: label -> last error line."""
    blocked: list[str] = field(default_factory=list)
    """local: not started because a prerequisite failed."""
    job_ids: dict[str, str] = field(default_factory=dict)


def plan_launch(experiment: str, jobs: list[Job], root: Path) -> tuple[ExperimentFile, list[JobStatus]]:
    """Record the plan in `root/jobs.json` (keeping earlier submissions) and return each job's state."""
    labels = [job.label for job in jobs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{experiment}: two jobs share a label")
    for job in jobs:
        unknown = [need for need in job.needs if need not in labels[:labels.index(job.label)]]
        if unknown:
            raise ValueError(f"{job.label}: needs {', '.join(unknown)}, which is not an earlier job of {experiment}")
    previous = read_experiment(root)
    contents = ExperimentFile(experiment, list(jobs), previous.records if previous else {})
    return contents, [job_status(job, contents.records.get(job.key)) for job in jobs]


def launch(experiment: str, jobs: list[Job], root: Path, options: LaunchOptions, reporter: Reporter | None = None) -> LaunchResult:
    """Submit what is not done and not running; local launches wait for their runs, Slurm ones return at once."""
    reporter = plain_if_none(reporter)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    contents, statuses = plan_launch(experiment, jobs, root)
    write_experiment(root, contents)
    result = LaunchResult()
    pending = []
    for status in statuses:
        if status.state in ("done", "running"):
            result.skipped[status.job.label] = status.state
        else:
            pending.append(status.job)
    reporter.say(f"{experiment}: {len(jobs)} jobs, {sum(s == 'done' for s in result.skipped.values())} done, "
                 f"{sum(s == 'running' for s in result.skipped.values())} running, {len(pending)} to submit ({options.describe()})")
    if options.launcher == "slurm":
        _submit_slurm(pending, statuses, contents, root, options, result, reporter)
    else:
        _run_local(pending, contents, root, options, result, reporter)
    return result


def _command(job: Job, root: Path, options: LaunchOptions) -> RunCommand:
    threads = options.threads_per_run
    env = dict(thread_environment(threads), **job.env)
    argv = with_thread_budget(job, threads).argv
    if options.program:
        return RunCommand(job.label, argv, env, log_path(root, job.key), job, program=options.program)
    return RunCommand(job.label, argv, env, log_path(root, job.key), job)


def dry_run(experiment: str, jobs: list[Job], root: Path, options: LaunchOptions) -> tuple[list[str], list[str]]:
    """(one runnable shell line per job a launch would submit, one state line per job) without writing anything."""
    previous = read_experiment(root) if root.exists() else None
    records = previous.records if previous else {}
    statuses = [job_status(job, records.get(job.key)) for job in jobs]
    commands = [with_thread_budget(status.job, options.threads_per_run).shell_line()
                for status in statuses if status.state in ("failed", "missing")]
    states = [f"{status.state:8} {status.job.label}" + (f"  [{status.detail}]" if status.detail else "") for status in statuses]
    return commands, states + [f"{experiment}: {len(commands)} of {len(jobs)} jobs would be submitted ({options.describe()})"]


def _submit_slurm(pending: list[Job], statuses: list[JobStatus], contents: ExperimentFile, root: Path,
                  options: LaunchOptions, result: LaunchResult, reporter: Reporter) -> None:
    job_ids = {status.job.label: status.record.job_id for status in statuses if status.state == "running" and status.record}
    done = {status.job.label for status in statuses if status.state == "done"}
    for job in pending:
        waits_for = [job_ids[need] for need in job.needs if need not in done]
        dependency = "afterok:" + ":".join(waits_for) if waits_for else None
        executor = slurm_executor(options, root / "submitit", f"vid2act-{job.key}"[:120], dependency)
        submitted = executor.submit(_command(job, root, options))
        job_ids[job.label] = submitted.job_id
        contents.records[job.key] = new_record(job.label, "slurm", submitted.job_id, submitted.paths.folder,
                                               log_path(root, job.key), contents.records.get(job.key))
        write_experiment(root, contents)  # after each submission: an interrupted launch still knows its jobs
        result.submitted.append(job.label)
        result.job_ids[job.label] = submitted.job_id
        reporter.say(f"submitted {job.label}: slurm job {submitted.job_id}" + (f" ({dependency})" if dependency else ""))


def _run_local(pending: list[Job], contents: ExperimentFile, root: Path, options: LaunchOptions,
               result: LaunchResult, reporter: Reporter) -> None:
    folder = local_folder(root)
    by_label = {job.label: job for job in contents.plan}
    waiting = list(pending)
    running: dict[str, tuple[submitit.Job, int, float]] = {}  # label -> (submitit job, GPU slot, start time)
    free_slots = list(range(options.jobs))
    try:
        while waiting or running:
            for label, (submitted, slot, started) in list(running.items()):
                if not submitted.done():
                    continue
                del running[label]
                free_slots.append(slot)
                status = job_status(by_label[label], contents.records[by_label[label].key])
                seconds = f"{time.time() - started:.0f} s"
                if status.state == "done":
                    reporter.say(f"finished {label} in {seconds}")
                else:
                    result.failed[label] = status.detail
                    reporter.say(f"failed {label} after {seconds}: {status.detail}")
            for job in list(waiting):
                needs = [by_label[need] for need in job.needs]
                if any(_failed_need(need, result, waiting, running, contents) for need in needs):
                    waiting.remove(job)
                    result.blocked.append(job.label)
                    reporter.say(f"not started {job.label}: a job it needs failed")
                # A need still running (or not yet started) is not done, whatever its files say: a collection
                # writes its dataset long before it has all its episodes.
                elif free_slots and all(need.is_done() and need.label not in running and need not in waiting
                                        for need in needs):
                    waiting.remove(job)
                    slot = free_slots.pop(0)
                    gpus = tuple(range(slot * options.gpus_per_run, (slot + 1) * options.gpus_per_run))
                    with sigint_ignored():
                        submitted = local_executor(folder, gpus).submit(_command(job, root, options))
                    running[job.label] = (submitted, slot, time.time())
                    contents.records[job.key] = new_record(job.label, "local", submitted.job_id, folder,
                                                           log_path(root, job.key), contents.records.get(job.key))
                    write_experiment(root, contents)
                    result.submitted.append(job.label)
                    result.job_ids[job.label] = submitted.job_id
                    reporter.say(f"started {job.label} (local job {submitted.job_id}, log {log_path(root, job.key)})")
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        logs = [log_path(root, by_label[label].key) for label in running]
        _stop_running([submitted for submitted, _, _ in running.values()], logs, reporter)
        raise


def _stop_running(running: list[submitit.Job], logs: list[Path], reporter: Reporter) -> None:
    """Stop every running command as Ctrl-C would and wait for it, so a re-run finds its checkpoint and never
    runs beside it. A terminal's Ctrl-C has reached the commands already; the others get SIGINT after a moment."""
    if not running:
        return
    reporter.say(f"stopping {len(running)} running job(s); they keep their last checkpoint, re-run to resume")
    started = time.monotonic()
    interrupted: set[Path] = set()
    while time.monotonic() < started + STOP_WAIT_S:
        alive = [log for log in logs if signal_command(log)]
        if not alive and all(submitted.done() for submitted in running):
            return
        for log in alive:
            if log not in interrupted and time.monotonic() >= started + TERMINAL_GRACE_S:
                signal_command(log, signal.SIGINT)
                interrupted.add(log)
        time.sleep(POLL_S)


def _failed_need(need: Job, result: LaunchResult, waiting: list[Job], running: dict[str, object],
                 contents: ExperimentFile) -> bool:
    """Whether a prerequisite failed: in this launch, or in an earlier one whose job is no longer running."""
    if need.label in result.failed or need.label in result.blocked:
        return True
    if need in waiting or need.label in running or need.is_done():
        return False
    return job_status(need, contents.records.get(need.key)).state in ("failed", "missing")
