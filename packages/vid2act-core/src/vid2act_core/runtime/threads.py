"""How many torch threads a long job should use: the cores it may run on that nothing else is using.

An idle core is worth a thread (pretraining at `small` runs ~1.5x faster on 2 threads than on one
on an idle 2-core machine), but a thread on a core another process keeps busy makes every update
wait for it (OpenMP's spin-waiting: up to 20x slower). So `auto` counts the cores this process may
use, less the ones the system's load already fills, and never goes below one; a launcher's budget
(`OMP_NUM_THREADS`, set by `experiment grid` and Slurm jobs) wins over the count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

AUTO = 0
"""The thread setting that asks for `choose_threads`'s count."""


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and why it was chosen, as the job says it."""

    threads: int
    reason: str

    def describe(self, what: str) -> str:
        """One line for the job's output, e.g. `pretraining on 2 torch threads (2 cores free of 2)`."""
        return f"{what} on {self.threads} torch thread{'s' if self.threads != 1 else ''} ({self.reason})"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the platform has one, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def busy_cores() -> int:
    """Cores the system's one-minute load average already fills (0 where the platform has none)."""
    try:
        return int(round(os.getloadavg()[0]))
    except (AttributeError, OSError):
        return 0


def choose_threads(requested: int, key: str, environ: dict[str, str] | None = None) -> ThreadChoice:
    """`requested` threads where it is positive; for `AUTO`, the launcher's budget or the free cores.

    `key` is the config key that holds the setting (e.g. `pretrain.threads`), so the line says how
    to choose another count.
    """
    if requested < 0:
        raise ValueError(f"{key}: expected a thread count >= 1 or {AUTO} (auto), got {requested}")
    if requested > 0:
        return ThreadChoice(requested, f"{key}={requested}")
    environ = os.environ if environ is None else environ
    budget = environ.get("OMP_NUM_THREADS", "").strip()
    if budget.isdigit() and int(budget) > 0:
        return ThreadChoice(int(budget), f"the launcher's OMP_NUM_THREADS; --set {key}=N to choose")
    cores, busy = usable_cores(), busy_cores()
    free = cores - busy
    if free < 1:
        return ThreadChoice(1, f"no core of {cores} free, load {busy}: one thread; --set {key}=N to choose")
    return ThreadChoice(free, f"{free} of {cores} cores free, load {busy}; --set {key}=N to choose")
