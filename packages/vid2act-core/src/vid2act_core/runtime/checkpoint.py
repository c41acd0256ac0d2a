"""Atomic checkpoint files: written to a temporary file in the same directory, then renamed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vid2act_core.runtime.fileio import atomic_path


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read (corrupt, truncated, or not a vid2act checkpoint)."""


def save_atomic(payload: dict[str, Any], path: str | Path) -> None:
    """torch.save to a temporary file beside `path`, fsync, then os.replace: never half-written."""
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(
    path: str | Path, map_location: torch.device | str = "cpu", required_key: str = "agent"
) -> dict[str, Any]:
    """Load without unpickling arbitrary objects (weights_only).

    required_key: the entry that identifies the checkpoint's kind ("agent" for online runs,
    "world_model" for teacher pretraining); a file without it is refused.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except Exception as error:  # torch raises several types for corrupt archives
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__}: {str(error).splitlines()[0][:200]})") from None
    if not isinstance(payload, dict) or required_key not in payload:
        raise CheckpointError(f"{path}: not a vid2act checkpoint of this kind (no {required_key!r} entry)")
    return payload
