"""`TransferPlan`: what a transfer run will use, shared by `compose.transfer` and `compose.baselines` (neither imports the other back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TransferPlan:
    """What a transfer run will use, resolved and checked before any training starts."""

    method: str
    teacher_names: list[str] = field(default_factory=list)
    source_data: dict[str, Path] = field(default_factory=dict)
    """Teacher -> source dataset read for its action-replay pairs (others use their stored set)."""
    init_from: str | None = None
    replay_sets: list[str] = field(default_factory=list)
    """Teachers whose stored action-replay set is used (`compose.replay_sets`)."""
    notes: list[str] = field(default_factory=list)
    """Lines to show before training (shadowed plugin teachers, teachers without a stored set)."""
