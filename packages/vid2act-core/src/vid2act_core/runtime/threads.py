"""How many torch threads a long job should use: the cores it may run on that nothing else is using.

An idle core is worth a thread (pretraining at `small` runs ~1.5x faster on 2 threads than on one
on an idle 2-core machine), but a thread on a core another process keeps busy makes every update
wait for it (OpenMP's spin-waiting: up to 20x slower). So `auto` counts the cores this process may
use, less the ones other processes keep busy right now, and never goes below one; a launcher's budget
(`OMP_NUM_THREADS`, set by `experiment grid` and Slurm jobs) wins over the count.
"""

from __future__ import annotations

import os
import time
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


SAMPLE_SECONDS = 0.5
"""How long `busy_cores` watches the CPU: long enough to see a steady job, short beside a stage."""


def system_busy_seconds(stat_path: str = "/proc/stat") -> float | None:
    """CPU-seconds all cores have spent busy since boot (Linux's aggregate `cpu` line), or None."""
    try:
        with open(stat_path, encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...; idle and iowait are the not-busy ones.
    ticks = [int(value) for value in fields[1:]]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def own_busy_seconds() -> float:
    """CPU-seconds this process (all its threads) has used."""
    times = os.times()
    return times.user + times.system


def busy_cores(sample_seconds: float = SAMPLE_SECONDS) -> int:
    """Cores that *other* processes keep busy: the system's busy time over a short sample less this
    process's own, so a job's earlier stage (rendering, an expert's updates) does not count against
    its next one. Where /proc/stat is missing, the one-minute load average (0 where that is too)."""
    system_before, own_before = system_busy_seconds(), own_busy_seconds()
    if system_before is None:
        try:
            return int(round(os.getloadavg()[0]))
        except (AttributeError, OSError):
            return 0
    time.sleep(sample_seconds)
    system_after, own_after = system_busy_seconds(), own_busy_seconds()
    if system_after is None:
        return 0
    others = (system_after - system_before) - (own_after - own_before)
    return max(0, int(round(others / sample_seconds)))


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
        return ThreadChoice(1, f"no core of {cores} free, {busy} busy with other work: one thread; --set {key}=N to choose")
    return ThreadChoice(free, f"{free} of {cores} cores free, {busy} busy with other work; --set {key}=N to choose")
