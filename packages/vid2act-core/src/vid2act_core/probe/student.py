"""The probe's student: the transfer student's world-model update, trained offline on a fixed target dataset.

Each probe cell trains a fresh `TransferAgent` world model for a fixed number of updates on windows
of the small target dataset, with the teachers' one-step predictions and posteriors (`teacher_feat`,
`teacher_post`, computed once by the frozen teachers) read from the batch exactly as transfer reads
them from its replay. Only the
world-model update runs (`train_world_model`: Eq. 2 + reward + alpha * L_distill); the actor-critic
and the action VAE play no part in what the probe measures.

Cells of one seed start from the same student weights and see the same batches whatever their
configuration, so configurations differ in the distillation only (the `init` controls start from a
teacher's weights instead, where names and shapes match, as `vid2act transfer --init-from` does).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from vid2act_core.config import Config
from vid2act_core.config_overrides import set_value
from vid2act_core.probe.controls import PREDICTORS
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.trainer_core import SequenceSource, sample_batch
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY, TransferAgent
from vid2act_core.world_model import Batch, WorldModel, WorldModelOutput

TEACHER_SETS = ("none", "all", "related", "unrelated")
"""Which teachers a configuration distils from."""
LOSS_KEYS = ("image_loss", "reward_loss", "kl", "distill_loss")
"""Training losses a probe history records."""
DIAGNOSTIC_PREFIX = "diag/"
"""Metrics of `train_world_model` whose key starts with this are diagnostics, recorded wherever present."""
SOURCES = ("related", "oracle")
"""Which teacher a control starts from (`init`) or predicts with (`teacher`)."""


@dataclass(frozen=True)
class ProbeVariant:
    """One configuration of the probe: which teachers, and how W is formed."""

    name: str
    teachers: str
    """One of TEACHER_SETS."""
    scorer: str | None = None
    """transfer.scorer (None: the config's)."""
    heads: str | None = None
    """transfer.distill_heads (None: the config's)."""
    uniform: bool = False
    """W = 1/N (the uniform ablation)."""
    form: str | None = None
    """transfer.distill_form (None: the config's)."""
    alpha: float | None = None
    """transfer.alpha, the scale of L_distill (None: the config's)."""
    source: str | None = None
    """A control's teacher (one of SOURCES): the student starts from its weights, or (with `predictor`
    "teacher") the teacher itself predicts."""
    predictor: str | None = None
    """A control that trains nothing (one of vid2act_core.probe.controls.PREDICTORS); None: a trained student."""

    def __post_init__(self) -> None:
        if self.teachers not in TEACHER_SETS:
            raise ValueError(f"probe configuration {self.name!r}: teachers {self.teachers!r} is not one of {', '.join(TEACHER_SETS)}")
        if self.source is not None and self.source not in SOURCES:
            raise ValueError(f"probe configuration {self.name!r}: source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.predictor is not None and self.predictor not in PREDICTORS:
            raise ValueError(f"probe configuration {self.name!r}: predictor {self.predictor!r} is not one of {', '.join(PREDICTORS)}")
        if (self.predictor == "teacher") != (self.predictor is not None and self.source is not None):
            raise ValueError(f"probe configuration {self.name!r}: a source teacher goes with the teacher predictor or a trained student only")
        if (self.source is not None or self.predictor is not None) and self.teachers != "none":
            raise ValueError(f"probe configuration {self.name!r}: a control distils from no teachers")

    @property
    def trained(self) -> bool:
        """Whether the configuration trains a student (False: a predictor control)."""
        return self.predictor is None

    @property
    def control(self) -> bool:
        """Whether the configuration is a control (a predictor or a student started from a teacher)."""
        return self.predictor is not None or self.source is not None


@dataclass(frozen=True)
class ProbeSchedule:
    """How long and on what each student trains."""

    updates: int
    batch_size: int
    batch_length: int
    log_every: int

    def __post_init__(self) -> None:
        for name in ("updates", "batch_size", "batch_length", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"probe {name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")


class ProbeStudent(Protocol):
    """What the probe trains: a world model and its (possibly distilling) update."""

    world_model: WorldModel

    def train_world_model(self, batch: Batch) -> tuple[WorldModelOutput, dict[str, torch.Tensor]]: ...


@dataclass
class ProbeHistory:
    """What one student's training recorded."""

    teacher_names: list[str]
    """Teachers in the order the student saw them."""
    weights: list[list[float]] = field(default_factory=list)
    """Per update, the batch-mean W per teacher (over the steps that enter L_distill), in `teacher_names` order."""
    log_updates: list[int] = field(default_factory=list)
    """Update count at each log row."""
    log_losses: list[dict[str, float]] = field(default_factory=list)
    """Per log row, the mean of each LOSS_KEYS entry over the updates since the previous row."""
    diagnostic_updates: list[int] = field(default_factory=list)
    """Update count of each update that reported diagnostics (keys starting DIAGNOSTIC_PREFIX)."""
    diagnostics: list[dict[str, float]] = field(default_factory=list)
    """The diagnostics those updates reported, one dict per entry of `diagnostic_updates`."""
    updates: int = 0
    """Updates run."""

    def weight_curve(self, every: int) -> tuple[list[int], list[dict[str, float]]]:
        """(update counts, mean W per teacher name over each block of `every` updates)."""
        counts, rows = [], []
        for end in range(every, len(self.weights) + every, every):
            block = np.asarray(self.weights[end - every : end], dtype=np.float64)
            if len(block) == 0:
                break
            counts.append(min(end, len(self.weights)))
            rows.append(dict(zip(self.teacher_names, block.mean(0).tolist())))
        return counts, rows

    def final_weights(self, fraction: float = 0.25) -> dict[str, float]:
        """Mean W per teacher name over the last `fraction` of the updates (at least one update)."""
        if not self.teacher_names or not self.weights:
            return {}
        count = max(1, int(len(self.weights) * fraction))
        block = np.asarray(self.weights[-count:], dtype=np.float64)
        return dict(zip(self.teacher_names, block.mean(0).tolist()))

    def final_diagnostics(self, fraction: float = 0.25) -> dict[str, float]:
        """Per diagnostic key, the mean over the updates that reported it in the last `fraction` of the updates
        (at least the last update); where none of those reported it, its last reported value."""
        tail_start = self.updates - max(1, int(self.updates * fraction))
        result: dict[str, float] = {}
        keys = dict.fromkeys(key for row in self.diagnostics for key in row)
        for key in keys:
            logged = [(update, row[key]) for update, row in zip(self.diagnostic_updates, self.diagnostics) if key in row]
            tail = [value for update, value in logged if update > tail_start]
            result[key] = float(np.mean(tail)) if tail else float(logged[-1][1])
        return result


def student_config(config: Config, variant: ProbeVariant) -> Config:
    """A copy of `config` with the transfer switches of `variant` (no guidance: the probe has no actor)."""
    result = copy.deepcopy(config)
    transfer = result.transfer
    transfer.distill = variant.teachers != "none"
    transfer.guidance = False
    transfer.uniform_weights = variant.uniform
    if variant.scorer is not None:
        transfer.scorer = variant.scorer  # type: ignore[assignment]
    if variant.heads is not None:
        transfer.distill_heads = variant.heads  # type: ignore[assignment]
    if variant.form is not None:
        set_value(result, "transfer.distill_form", variant.form)
    if variant.alpha is not None:
        transfer.alpha = float(variant.alpha)
    return result


def build_student(
    config: Config, action_dim: int, teachers: TeacherEnsemble | None, seed: int, device: torch.device | str = "cpu"
) -> TransferAgent:
    """A fresh transfer student whose initial weights depend on `seed` only (not on the teachers)."""
    torch.manual_seed(seed)
    return TransferAgent(config, action_dim, device, teachers=teachers if config.transfer.distill else None)


def select_teacher_columns(batch: Batch, columns: Sequence[int] | None) -> Batch:
    """The batch as a student with teachers `columns` (indices into the stored teacher axis) sees it.

    Both stored teacher arrays (`teacher_feat`, and `teacher_post` where present) keep those columns in
    that order; without teachers (None) they are dropped.
    """
    result = dict(batch)
    stored = {key: result.pop(key) for key in (TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY) if key in result}
    if columns is not None:
        if TEACHER_FEATURE_KEY not in stored:
            raise ValueError(f"the probe's target windows have no {TEACHER_FEATURE_KEY!r} to distil from")
        for key, value in stored.items():
            result[key] = value[:, :, list(columns)]
    return result


def train_student(
    student: ProbeStudent,
    source: SequenceSource,
    schedule: ProbeSchedule,
    rng: np.random.Generator,
    device: torch.device,
    teacher_columns: Sequence[int] | None,
    teacher_names: Sequence[str],
    on_update: Callable[[int], None] | None = None,
) -> ProbeHistory:
    """Run `schedule.updates` world-model updates on windows drawn from `source` with `rng`.

    teacher_columns: which stored teachers (in this order) the student distils from; None for none.
    teacher_names: their names, same order. `on_update(count)` is called after every update. Every
    metric whose key starts with DIAGNOSTIC_PREFIX is recorded for the updates that report it.
    """
    names = list(teacher_names) if teacher_columns is not None else []
    history = ProbeHistory(teacher_names=names)
    sums: dict[str, float] = {}
    counted = 0
    for update in range(1, schedule.updates + 1):
        batch = select_teacher_columns(sample_batch(source, schedule.batch_size, schedule.batch_length, rng, device), teacher_columns)
        _, metrics = student.train_world_model(batch)
        history.updates = update
        diagnostics = {key: float(value) for key, value in metrics.items() if key.startswith(DIAGNOSTIC_PREFIX)}
        if diagnostics:
            history.diagnostic_updates.append(update)
            history.diagnostics.append(diagnostics)
        if names:
            history.weights.append([float(metrics[f"weight/{name}"]) for name in names])
        for key in LOSS_KEYS:
            if key in metrics:
                sums[key] = sums.get(key, 0.0) + float(metrics[key])
        counted += 1
        if update % schedule.log_every == 0 or update == schedule.updates:
            history.log_updates.append(update)
            history.log_losses.append({key: value / counted for key, value in sums.items()})
            sums, counted = {}, 0
        if on_update is not None:
            on_update(update)
    return history
