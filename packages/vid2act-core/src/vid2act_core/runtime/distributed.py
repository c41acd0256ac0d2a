"""Data-parallel setup with the standard launcher (torchrun), or a single process without it.

Under `torchrun` (the RANK / WORLD_SIZE environment variables are set) `setup_distributed`
initialises a process group: gloo on the CPU, nccl on CUDA with one GPU per process chosen by
LOCAL_RANK. Without them a run is rank 0 of 1.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistributedContext:
    """Which process this is in a data-parallel run (rank 0 of 1 when not distributed)."""

    rank: int
    world_size: int
    device: torch.device
    """The device this process trains on (under torchrun with CUDA: cuda:LOCAL_RANK)."""
    active: bool
    """Whether a process group is in use (DDP wraps the loss, collectives run)."""
    owns_group: bool
    """Whether `setup_distributed` created the process group (and so `teardown_distributed` ends it)."""

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, evaluates, checkpoints and registers."""
        return self.rank == 0


def launched_distributed() -> bool:
    """Whether the environment describes a torchrun-style launch (RANK and WORLD_SIZE set)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def _process_device(device: torch.device) -> torch.device:
    """Under a distributed launch each CUDA process takes the GPU of its LOCAL_RANK."""
    if device.type != "cuda":
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", device.index or 0))
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"LOCAL_RANK {local_rank}: only {torch.cuda.device_count()} CUDA device(s) on this machine; "
            "launch at most one process per GPU (torchrun --nproc_per_node)"
        )
    return torch.device("cuda", local_rank)


def setup_distributed(device: torch.device) -> DistributedContext:
    """Join (or create) the process group when running under torchrun; otherwise a single process.

    An already initialised group is used as it is. With RANK / WORLD_SIZE in the environment a
    group is created: backend nccl when `device` is CUDA (one GPU per process, cuda:LOCAL_RANK),
    gloo otherwise. Without them this is rank 0 of 1 on `device`.
    """
    if dist.is_available() and dist.is_initialized():
        process_device = _process_device(device)
        if process_device.type == "cuda":
            torch.cuda.set_device(process_device)
        return DistributedContext(dist.get_rank(), dist.get_world_size(), process_device, True, False)
    if not launched_distributed():
        return DistributedContext(0, 1, device, False, False)
    if not dist.is_available():
        raise ValueError("RANK/WORLD_SIZE are set but this torch build has no torch.distributed support")
    process_device = _process_device(device)
    if process_device.type == "cuda":
        torch.cuda.set_device(process_device)
        dist.init_process_group(backend="nccl", device_id=process_device)
    else:
        dist.init_process_group(backend="gloo")
    return DistributedContext(dist.get_rank(), dist.get_world_size(), process_device, True, True)


def teardown_distributed(context: DistributedContext) -> None:
    """Destroy the process group if `setup_distributed` created it."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_session(device: torch.device) -> Iterator[DistributedContext]:
    """`setup_distributed` ... `teardown_distributed` as a context manager."""
    context = setup_distributed(device)
    try:
        yield context
    finally:
        teardown_distributed(context)
