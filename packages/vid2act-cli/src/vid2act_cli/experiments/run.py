"""Run an experiment's jobs one after another on this machine (`vid2act demo`; `vid2act experiment`
uses `vid2act_cli.compose.launch`, which runs them side by side or on Slurm)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from vid2act_cli.experiments.jobs import Job


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
