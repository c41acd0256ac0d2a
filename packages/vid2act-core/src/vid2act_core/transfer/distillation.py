"""Task-selective dynamics transfer (paper 4.3): weights W (Eq. 3) and the distillation loss (Eq. 4).

The student term e_t of Eq. 4 is the student prior's distribution mean (`RSSM.mean_feature`), not a
sample: a sample would add the prior's variance to every distance, a regulariser Eq. 4 does not have.

Burn-in (`transfer.distill_burn_in`): the cached teacher states were filtered from the start of the
episode, while the student's training window starts from a zero state at its first step, so early
in a window the two disagree for reasons unrelated to dynamics. The first `distill_burn_in` steps of
each window contribute nothing to L_distill, except where the window itself begins an episode (or
once an episode starts inside it): there both models start from zero together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vid2act_core.config import TransferConfig
from vid2act_core.transfer.distill_heads import build_distill_head
from vid2act_core.transfer.scorers import PredictionErrorScorer, build_scorer


class TaskSelectiveDistillation(nn.Module):
    """f_distill (teacher state -> student space) and f_weight (the scorer), Eq. 3-4."""

    def __init__(
        self, teacher_size: int, student_size: int, config: TransferConfig, num_teachers: int = 1, teacher_deter_size: int = 0
    ) -> None:
        super().__init__()
        if config.distill_burn_in < 0:
            raise ValueError(f"transfer.distill_burn_in: must be >= 0, got {config.distill_burn_in}")
        self.uniform = config.uniform_weights
        self.burn_in = config.distill_burn_in
        self.f_distill = build_distill_head(
            config.distill_heads, num_teachers, teacher_size, student_size, config.distill_units, config.distill_layers
        )
        self.f_weight = build_scorer(
            config.scorer, teacher_size, student_size, config.scorer_units, config.similarity_temperature,
            num_teachers, teacher_deter_size, config.prediction_error_temperature, config.prediction_error_decay,
        )

    @property
    def needs_posteriors(self) -> bool:
        """Whether `loss` needs the teachers' posterior states (the `prediction_error` scorer)."""
        return isinstance(self.f_weight, PredictionErrorScorer) and not self.uniform

    @property
    def weights_read_states(self) -> bool:
        """Whether W depends on the teacher and student states (not under uniform W or the prediction_error scorer)."""
        return not self.uniform and getattr(self.f_weight, "reads_states", True)

    def transferable(self, teacher_states: torch.Tensor) -> torch.Tensor:
        """u_t^i = f_distill(s_t^i): (..., N, Ft) -> (..., N, Fs)."""
        return self.f_distill(teacher_states)

    def weights(
        self, teacher_states: torch.Tensor, student_states: torch.Tensor, transferable: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Eq. 3. teacher_states (..., N, Ft), student_states (..., Fs) -> W (..., N) in fp32, summing to 1 over N.

        Under the uniform ablation W = 1/N. `transferable` (f_distill of the teachers) is computed
        when not given and the scorer reads it (`similarity`).
        """
        num_teachers = teacher_states.shape[-2]
        if self.uniform:
            return torch.full(teacher_states.shape[:-1], 1.0 / num_teachers, device=teacher_states.device)
        if transferable is None and getattr(self.f_weight, "reads_transferable", False):
            transferable = self.transferable(teacher_states)
        logits = self.f_weight.logits(teacher_states, transferable, student_states.detach())
        return F.softmax(logits.float(), -1)

    def valid_steps(self, shape: torch.Size, is_first: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """(B, T) bool: steps that enter L_distill (past the burn-in, or since an episode start in the window)."""
        steps = torch.arange(shape[1], device=device).expand(shape[0], shape[1])
        valid = steps >= self.burn_in
        if is_first is not None:
            valid = valid | (torch.cummax(is_first.to(torch.uint8), 1).values > 0)
        return valid

    def loss(
        self,
        teacher_states: torch.Tensor,
        student_states: torch.Tensor,
        is_first: torch.Tensor | None = None,
        teacher_posteriors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Eq. 4 per frame, sum_i w_i ||e_t - u_t^i||^2, averaged over the valid (batch, time) frames.

        teacher_states (B, T, N, Ft) (the teachers' priors), student_states (B, T, Fs) (the prior
        means), is_first (B, T) or None, teacher_posteriors (B, T, N, Ft) (needed by the
        `prediction_error` scorer, whose EMA this call advances in training mode before W is formed).
        Returns (loss, weights (B, T, N), valid (B, T) bool); computed in fp32.
        """
        if self.needs_posteriors and self.training:
            if teacher_posteriors is None:
                raise ValueError("transfer.scorer=prediction_error needs the teachers' posterior states ('teacher_post') in the batch")
            assert isinstance(self.f_weight, PredictionErrorScorer)
            self.f_weight.observe(teacher_states, teacher_posteriors, is_first)
        transferable = self.transferable(teacher_states)
        weights = self.weights(teacher_states, student_states, transferable)
        distances = (student_states.float().unsqueeze(-2) - transferable.float()).square().sum(-1)
        per_frame = (weights * distances).sum(-1)
        valid = self.valid_steps(per_frame.shape, is_first, per_frame.device)
        mask = valid.to(per_frame.dtype)
        return (per_frame * mask).sum() / mask.sum().clamp_min(1.0), weights, valid
