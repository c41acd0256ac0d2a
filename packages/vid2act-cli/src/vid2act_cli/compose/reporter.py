"""How composition code reports: output lines, notes and progress, without knowing who shows them."""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Callable, Iterator, Protocol, Sequence


class ProgressBar(Protocol):
    """One progress bar: `update` sets the position (and a short status text), `advance` adds to it."""

    def update(self, completed: int, info: str = "") -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class Reporter(Protocol):
    """Where a composition function's messages go.

    echo: a line of the command's own output (stdout); say: a note or stage message (stderr);
    progress: a context manager yielding a bar for `total` steps (None: unknown).
    """

    def echo(self, message: str) -> None: ...

    def say(self, message: str) -> None: ...

    def progress(self, description: str, total: int | None) -> AbstractContextManager[ProgressBar]: ...


class NoBar:
    """A progress bar that shows nothing."""

    def update(self, completed: int, info: str = "") -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


class PlainReporter:
    """The reporter for library callers: output to stdout, notes to stderr, no progress bars."""

    def echo(self, message: str) -> None:
        print(message, flush=True)

    def say(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[ProgressBar]:
        yield NoBar()


def plain_if_none(reporter: Reporter | None) -> Reporter:
    """`reporter`, or a PlainReporter when the caller passed none."""
    return reporter if reporter is not None else PlainReporter()


def summary_parts(summary: dict[str, float], formats: Sequence[tuple[str, str]]) -> list[str]:
    """The entries of `summary` that `formats` names, in its order, each through its format string
    (`("losses/kl", "kl {:.2f}")`); absent keys are left out. What a progress bar shows beside it."""
    return [text.format(summary[key]) for key, text in formats if key in summary]


# ----- progress in a log (a file or a pipe) ----------------------------------------------------

PROGRESS_SECONDS_ENV = "VID2ACT_PROGRESS_SECONDS"
DEFAULT_PROGRESS_SECONDS = 30.0
"""Seconds between two progress lines in a log; a Slurm or nohup log then shows where a job is."""


def progress_line_seconds() -> float:
    """The interval of progress lines: $VID2ACT_PROGRESS_SECONDS, else DEFAULT_PROGRESS_SECONDS."""
    text = os.environ.get(PROGRESS_SECONDS_ENV, "").strip()
    if not text:
        return DEFAULT_PROGRESS_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{PROGRESS_SECONDS_ENV}={text!r}: expected a number of seconds > 0, e.g. 30")
    return value


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class LineBar:
    """A ProgressBar for output that is read as a log: a line when the stage starts, then one plain
    line every `interval` seconds (done/total, rate, time left, the status text) and one at the end.

    The lines come from a timer thread, so a log keeps moving while a step or an evaluation takes
    long; `write` gets each line (it must write it whole and flush). Use it as a context manager.
    """

    def __init__(
        self, description: str, total: int | None, write: Callable[[str], None], interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.total = total
        self._write = write
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._completed = 0
        self._info = ""
        self._started = clock()
        self._baseline: tuple[float, int] | None = None
        """(time, completed) of the first update: a resumed stage's rate counts from there."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, completed: int, info: str = "") -> None:
        with self._lock:
            if self._baseline is None:
                self._baseline = (self._clock(), int(completed))
            self._completed = int(completed)
            if info:
                self._info = info

    def advance(self, amount: int = 1) -> None:
        with self._lock:
            if self._baseline is None:
                self._baseline = (self._clock(), self._completed)
            self._completed += amount

    def line(self) -> str:
        """The current progress line: `desc: 1200/5000 (24%), 35.2 steps/s, 1m48s left | info`."""
        with self._lock:
            completed, info, baseline = self._completed, self._info, self._baseline
        now = self._clock()
        parts = [f"{completed}/{self.total} ({100 * completed / self.total:.0f}%)" if self.total else f"{completed}"]
        if baseline is not None and now > baseline[0] and completed > baseline[1]:
            rate = (completed - baseline[1]) / (now - baseline[0])
            parts.append(f"{rate:.3g} steps/s")
            if self.total:
                parts.append(f"{format_duration((self.total - completed) / rate)} left")
        parts.append(f"{format_duration(now - self._started)} elapsed")
        text = f"{self.description}: {', '.join(parts)}"
        return f"{text} | {info}" if info else text

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            self._write(self.line())

    def __enter__(self) -> "LineBar":
        self._started = self._clock()
        self._write(f"{self.description}: started" + (f", {self.total} steps" if self.total else ""))
        self._thread = threading.Thread(target=self._beat, name=f"progress {self.description}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            completed = self._completed
        done = f"{completed}/{self.total}" if self.total else f"{completed}"
        how = "done" if kind is None else "stopped"
        self._write(f"{self.description}: {how} at {done} after {format_duration(self._clock() - self._started)}")
