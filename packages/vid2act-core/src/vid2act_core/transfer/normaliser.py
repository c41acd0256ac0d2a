"""Per-teacher, per-dimension normalisation of the teachers' states: the fixed-scale target of the `student_head` form.

Each teacher's latent space has its own scale, and a target whose scale a loss could shrink invites
collapse. The distillation target is therefore each teacher's state standardised per dimension with
statistics of the target stream the teachers filter (an EMA over updates of the batch mean and
variance, the first batch setting it), never trainable and never receiving a gradient.
"""

from __future__ import annotations

import torch
from torch import nn


class TeacherNormaliser(nn.Module):
    """Running mean and variance per (teacher, dimension); `normalise` standardises states with them."""

    def __init__(self, num_teachers: int, size: int, decay: float, eps: float = 1e-4) -> None:
        super().__init__()
        if not 0 <= decay < 1:
            raise ValueError(f"transfer.distill_target_decay: must be in [0, 1), got {decay}")
        self.decay = decay
        self.eps = eps
        self.register_buffer("mean", torch.zeros(num_teachers, size))
        self.register_buffer("var", torch.ones(num_teachers, size))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def observe(self, states: torch.Tensor, frames: torch.Tensor) -> None:
        """One EMA step from the frames `frames` (B, T) bool of `states` (B, T, N, F)."""
        chosen = states.float()[frames]  # (M, N, F)
        if chosen.shape[0] < 2:
            return
        mean, var = chosen.mean(0), chosen.var(0)
        if int(self.updates) == 0:
            self.mean.copy_(mean)
            self.var.copy_(var)
        else:
            self.mean.mul_(self.decay).add_((1 - self.decay) * mean)
            self.var.mul_(self.decay).add_((1 - self.decay) * var)
        self.updates += 1

    def normalise(self, states: torch.Tensor) -> torch.Tensor:
        """(..., N, F) -> (..., N, F) in fp32, standardised per teacher and dimension, detached."""
        return ((states.detach().float() - self.mean) / (self.var + self.eps).sqrt()).detach()
