"""The function a launcher submits: one `vid2act` command in a subprocess, requeued on preemption.

`RunCommand` is a `submitit.helpers.Checkpointable`: when Slurm (or submitit's local executor)
signals a preemption or an approaching time limit, submitit calls `checkpoint`, which asks the
running command to stop as Ctrl-C would (the command keeps its last checkpoint and exits), and
returns the same call to be requeued. The requeued command finds its run directory and resumes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import submitit

STOP_GRACE_S = 60.0
"""How long a preempted command may take to stop before it is killed (Slurm warns 90 s ahead)."""


class RunFailedError(RuntimeError):
    """The command exited with an error, was killed, or exited without finishing its job."""


def _prepare_child() -> None:
    """In the child, before exec: SIGINT stops it, also when it arrives because the launching process died.

    A process started in the background by a non-interactive shell (`nohup vid2act ... &`) has
    SIGINT ignored, and an ignored signal stays ignored across exec: the command would never see
    the Ctrl-C that a preemption sends (and Python installs no KeyboardInterrupt handler for it),
    so it would be killed after the grace period instead of stopping at its checkpoint. Hence the
    default disposition first. Then (Linux) SIGINT when the parent dies, so a killed job leaves no orphan.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def last_line(path: Path, limit_bytes: int = 65_536) -> str:
    """The last non-empty line of a text file ('' if there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - limit_bytes))
            lines = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def pid_file(log: Path) -> Path:
    """Where a running command's pid is kept, so that a stopping launcher can wait for the command itself
    (submitit's local controller may exit first, and the command still writes its checkpoint)."""
    return log.with_suffix(".pid")


def signal_command(log: Path, signal_to_send: int = 0) -> bool:
    """Send a signal (0: none, a liveness check) to the command whose output goes to `log`; whether it runs."""
    try:
        os.kill(int(pid_file(log).read_text()), signal_to_send)
    except (OSError, ValueError):
        return False
    return True


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while a local job's controller is spawned, which inherits it ignored (and so does its task).

    A terminal's Ctrl-C then reaches the launcher and the commands (which reset SIGINT, `_prepare_child`)
    but not submitit's controller and task, which would print their tracebacks over the console; the
    launcher stops the commands itself (`submit._stop_running`).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def describe_exit(returncode: int) -> str:
    """`exit code 2`, or `killed by SIGKILL` for a negative return code."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


class RunCommand(submitit.helpers.Checkpointable):
    """Run `program + argv` with `env` added, output appended to `log`; succeed only if `done_file` then says done.

    `program` defaults to this interpreter running the `vid2act` app. Re-running the same
    command resumes its run directory, which is what makes requeueing safe.
    """

    def __init__(self, label: str, argv: tuple[str, ...], env: dict[str, str], log: Path, done_check: Any,
                 program: tuple[str, ...] = (sys.executable, "-m", "vid2act_cli.app")) -> None:
        self.label = label
        self.argv = tuple(argv)
        self.env = dict(env)
        self.log = Path(log)
        self.done_check = done_check
        """A picklable object with `is_done() -> bool` (an experiment `Job`)."""
        self.program = tuple(program)
        self._process: subprocess.Popen[bytes] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_process"] = None  # a live process handle is not part of what is requeued
        return state

    def __call__(self) -> str:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with self.log.open("ab") as output:
            output.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {self.label}: {' '.join(self.argv)}\n".encode())
            output.flush()
            self._process = subprocess.Popen([*self.program, *self.argv], env=dict(os.environ, **self.env),
                                             stdout=output, stderr=subprocess.STDOUT, preexec_fn=_prepare_child)
            pid_file(self.log).write_text(f"{self._process.pid}\n")
            returncode = self._process.wait()
        pid_file(self.log).unlink(missing_ok=True)
        self._process = None
        if returncode != 0:
            reason = last_line(self.log)
            raise RunFailedError(f"{self.label}: {describe_exit(returncode)}" + (f": {reason}" if reason else ""))
        if not self.done_check.is_done():
            raise RunFailedError(f"{self.label}: exited without finishing (see {self.log})")
        return f"{self.label}: finished in {time.time() - started:.0f} s"

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Stop the command as Ctrl-C would (it keeps its last checkpoint), then requeue the same call."""
        process = self._process
        if process is not None and process.returncode is None:
            _stop(process.pid, STOP_GRACE_S)
        return super().checkpoint(*args, **kwargs)


def _stop(pid: int, grace_s: float) -> None:
    """SIGINT, wait up to `grace_s`, then SIGKILL.

    Runs inside submitit's signal handler while `__call__` sits in `Popen.wait`, which holds the
    Popen's wait lock; so this reaps with `os.waitpid` directly instead of through the Popen.
    """
    try:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        return  # already gone
