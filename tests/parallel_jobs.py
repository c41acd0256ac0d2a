"""Job functions for tests/envs/test_parallel_workers.py: a module with no heavy imports, so spawned workers start fast."""

from __future__ import annotations


def setup() -> int:
    return 10


def square(context: int, job: int) -> int:
    return context * job * job


def fail_on_two(context: int, job: int) -> int:
    if job == 2:
        raise ValueError("job 2 refused")
    return job
