"""How composition code reports: output lines, notes and progress, without knowing who shows them."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, contextmanager
from typing import Iterator, Protocol, Sequence


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
