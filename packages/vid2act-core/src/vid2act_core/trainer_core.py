"""What the online loop (`loop.OnlineTrainer`) and teacher pretraining (`pretrain.TeacherPretrainer`)
share: batches to tensors, mixed precision, metric means, RNG state for checkpoints, open-loop videos.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import numpy as np
import torch

from vid2act_core.world_model import Batch, WorldModel

OPEN_LOOP_SEQUENCES = 4
"""Sequences shown in an open-loop prediction video."""

_TORCH_DTYPES = {np.dtype(np.float16): torch.float32, np.dtype(np.float64): torch.float32}


class SequenceSource(Protocol):
    """Anything that samples fixed-length windows of episodes (a replay, a dataset's sampler)."""

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]: ...


def to_torch(arrays: Mapping[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """numpy dict -> tensors on `device` (floats as float32, uint8 and bool kept; strings dropped)."""
    tensors = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind in "USO":
            continue
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        dtype = _TORCH_DTYPES.get(array.dtype)
        tensors[key] = tensor.to(device=device, dtype=dtype, non_blocking=True) if dtype else tensor.to(device, non_blocking=True)
    return tensors


def sample_batch(
    source: SequenceSource, batch_size: int, length: int, rng: np.random.Generator, device: torch.device
) -> Batch:
    """One training batch of `batch_size` windows of `length` steps, as tensors on `device`."""
    return to_torch(source.sample(batch_size, length, rng), device)


def autocast(precision: int, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when `precision` is 16 (CUDA or CPU); otherwise a no-op context."""
    if precision == 16 and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class MetricsAccumulator:
    """Collects the per-update metric tensors between two logs and turns them into means.

    Tensors stay on their device until `flush`, which moves all means to the host in one copy.
    """

    def __init__(self, prefix: str = "losses/") -> None:
        self.prefix = prefix
        self._values: dict[str, list[torch.Tensor]] = {}

    def add(self, metrics: Mapping[str, torch.Tensor]) -> None:
        """Record one update's scalar metrics."""
        for key, value in metrics.items():
            self._values.setdefault(key, []).append(value.detach())

    def __len__(self) -> int:
        """Updates recorded since the last flush."""
        return max((len(values) for values in self._values.values()), default=0)

    def flush(self, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
        """`{prefix + key: mean}` over the updates since the last flush (keys sorted), then reset.

        reduce: applied to the stacked means before they leave the device (e.g. an all-reduce
        averaging over data-parallel ranks; every rank must then flush at the same step).
        """
        if not self._values:
            return {}
        keys = sorted(self._values)
        means = torch.stack([torch.stack([value.float() for value in self._values[key]]).mean() for key in keys])
        if reduce is not None:
            means = reduce(means)
        self._values.clear()
        return {f"{self.prefix}{key}": float(value) for key, value in zip(keys, means.cpu())}


def capture_rng_state(rng: np.random.Generator, device: torch.device, python: bool = False) -> dict[str, Any]:
    """The random state a resumed run needs: numpy generator, torch CPU, `device`'s CUDA, Python.

    Keys: "numpy", "torch", "cuda" (only for a CUDA device), "python" (only with python=True).
    """
    state: dict[str, Any] = {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if python:
        state["python"] = list(random.getstate()[1])
    return state


def restore_rng_state(rng: np.random.Generator, state: Mapping[str, Any], device: torch.device) -> None:
    """Restore what `capture_rng_state` returned (the entries present) into `rng` and the libraries.

    A "cuda" list (every device's state, as online-loop checkpoints stored it before this helper)
    is restored to every device.
    """
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"].cpu())
    if "python" in state:
        random.setstate((3, tuple(int(value) for value in state["python"]), None))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if isinstance(cuda, (list, tuple)):
            torch.cuda.set_rng_state_all([value.cpu() for value in cuda])
        elif device.type == "cuda":
            torch.cuda.set_rng_state(cuda.cpu(), device)


def open_loop_strip(
    world_model: WorldModel,
    batch: Batch,
    context: int,
    sequences: int = OPEN_LOOP_SEQUENCES,
    stack: Literal["time", "rows"] = "time",
) -> np.ndarray:
    """Truth | prediction | |difference| side by side for the first `sequences` of `batch`.

    The world model sees `context` frames, then predicts from actions alone. stack="time" plays
    the sequences one after another, (S*T, H, 3W, 3); "rows" shows them together, one above the
    other, (T, S*H, 3W, 3). uint8.
    """
    subset = {key: value[:sequences] for key, value in batch.items()}
    truth, prediction = world_model.open_loop(subset, context)
    difference = (truth.float() - prediction.float()).abs().to(torch.uint8)
    strip = torch.cat([truth, prediction, difference], 3)  # (S, T, H, 3W, 3)
    return torch.cat(list(strip), 0 if stack == "time" else 1).cpu().numpy()
