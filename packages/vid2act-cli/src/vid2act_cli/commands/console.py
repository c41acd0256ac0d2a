"""The commands' one console helper: output and notes, and the rich progress bars behind `Reporter`.

Composition functions (`vid2act_cli.compose`) report through the `Reporter` protocol; commands
pass a `RichReporter`, which shows progress as rich bars. Every bar has the same columns:
description, bar, done/total, a short status text, elapsed and remaining time. Where the bar's
stream is not a terminal (a file, a pipe: a Slurm or nohup log), a bar is plain lines instead
(`compose.reporter.LineBar`): rich would redraw nothing there until the stage ends.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vid2act_cli.compose.reporter import LineBar, NoBar, ProgressBar, progress_line_seconds

REFRESH_SECONDS = 0.25
"""A bar's status text changes at most this often (a training step can be much faster)."""


def say(message: str) -> None:
    """A note or stage message on stderr."""
    print(message, file=sys.stderr, flush=True)


def new_progress(stderr: bool = True) -> Progress:
    """A rich Progress with the commands' columns, on stderr (or stdout)."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=stderr),
    )


def add_bar(progress: Progress, description: str, total: int | None, visible: bool = True) -> TaskID:
    """Add one bar to `progress` (with the empty status text its columns expect)."""
    return progress.add_task(description, total=total, visible=visible, info="")


def log_bar(description: str, total: int | None, stderr: bool = True) -> LineBar:
    """The plain-lines bar for a stream that is not a terminal (enter it as a context manager)."""
    stream = sys.stderr if stderr else sys.stdout
    return LineBar(description, total, lambda line: print(line, file=stream, flush=True), progress_line_seconds())


class RichBar:
    """One bar of a rich Progress as a `ProgressBar`; status updates are throttled to REFRESH_SECONDS."""

    def __init__(self, progress: Progress, task_id: TaskID, total: int | None) -> None:
        self._progress = progress
        self._task_id = task_id
        self._total = total
        self._last_update = 0.0

    def update(self, completed: int, info: str = "") -> None:
        now = time.time()
        if now - self._last_update < REFRESH_SECONDS and (self._total is None or completed < self._total):
            return
        self._last_update = now
        self._progress.update(self._task_id, completed=completed, info=info)

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._task_id, amount)


class RichReporter:
    """The commands' Reporter: output via typer.echo, notes on stderr, rich bars unless `show_progress` is off.

    bars_on_stderr=False puts the bars on stdout (where `train` and `transfer` have always shown them).
    """

    def __init__(self, show_progress: bool = True, bars_on_stderr: bool = True) -> None:
        self.show_progress = show_progress
        self.bars_on_stderr = bars_on_stderr
        progress_line_seconds()  # a bad $VID2ACT_PROGRESS_SECONDS fails here, before any work

    def echo(self, message: str) -> None:
        typer.echo(message)

    def say(self, message: str) -> None:
        say(message)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[ProgressBar]:
        if not self.show_progress:
            yield NoBar()
            return
        progress = new_progress(stderr=self.bars_on_stderr)
        if not progress.console.is_terminal:
            with log_bar(description, total, self.bars_on_stderr) as lines:
                yield lines
            return
        bar = RichBar(progress, add_bar(progress, description, total), total)
        with progress:
            yield bar
