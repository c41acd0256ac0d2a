"""Episodes in several worker processes: collection and evaluation with `--workers N`.

Each worker process is started with the `spawn` method (MuJoCo's OpenGL contexts and torch's
thread pools do not survive a fork), builds its own environment once (`setup`, run by the pool's
initializer) and then runs whole episodes, one job at a time; the parent receives the results in
job order. Whole episodes, not single steps, travel between processes: scripted policies and a
single-episode evaluation need nothing from the other workers, so the only traffic is one job
description in and one episode's arrays out.

Reproducibility: job i carries its own seed (`base_seed + i`), so the episodes do not depend on
how many workers ran them or in which order they finished.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

_worker_state: dict[str, Any] = {}


def _initialise(setup: Callable[[], Any]) -> None:
    _worker_state["context"] = setup()


def _run(job_function: Callable[[Any, Any], Any], job: Any) -> Any:
    return job_function(_worker_state["context"], job)


def check_workers(workers: int, option: str = "--workers") -> int:
    """`workers` if it is a positive integer, else a one-line ValueError naming the option."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"{option} must be a positive integer, got {workers!r}")
    return workers


def can_pickle(value: object) -> bool:
    """Whether `value` can be sent to a worker process (spawned workers receive everything pickled)."""
    try:
        pickle.dumps(value)
    except Exception:  # pickling raises PicklingError, TypeError or AttributeError by object kind
        return False
    return True


def run_in_workers(
    setup: Callable[[], Any],
    job_function: Callable[[Any, Job], Result],
    jobs: Sequence[Job],
    workers: int,
) -> Iterator[Result]:
    """Yield `job_function(context, job)` for every job, in job order, computed in `workers` processes.

    `setup()` runs once per worker process and returns its context (an environment, an agent...);
    `setup` and `job_function` must be picklable (module-level functions or functools.partial of
    them). An exception in a worker is raised here, in the parent, when its job's turn comes.
    Uses at most as many processes as there are jobs.
    """
    check_workers(workers)
    if not jobs:
        return
    context = multiprocessing.get_context("spawn")
    count = min(workers, len(jobs))
    with ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=_initialise, initargs=(setup,)) as pool:
        futures = [pool.submit(_run, job_function, job) for job in jobs]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
