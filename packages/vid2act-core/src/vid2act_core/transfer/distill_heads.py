"""f_distill: the map from a teacher's state to the student's state space (paper 4.3, u_t^i = f_distill(s_t^i)).

`transfer.distill_heads`:
- `shared`: one MLP applied to every teacher (the paper's notation; the published code shares one
  linear layer). Each teacher's latent space is its own, so one map must fit all of them.
- `per_teacher`: N independent MLPs of the same shape with stacked weights, evaluated as one
  batched matrix product per layer (no Python loop over teachers).
Both map (..., N, Ft) -> (..., N, Fs).

The `student_head` distillation form (`transfer.distill_form`) runs the map the other way:
`StudentHeads` g_i maps the student's state (..., Fs) to every teacher's space (..., N, Ft), one
head per teacher, batched the same way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vid2act_core.nets import MLP

DISTILL_HEADS = ("shared", "per_teacher")
"""Values of `transfer.distill_heads`."""


class PerTeacherMLP(nn.Module):
    """N MLPs (Linear + LayerNorm + ELU hidden layers, linear output) with stacked parameters."""

    def __init__(self, num_teachers: int, in_dim: int, out_dim: int, units: int, layers: int) -> None:
        super().__init__()
        widths = [in_dim] + [units] * layers + [out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation, per teacher
            self.weights.append(nn.Parameter(torch.empty(num_teachers, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(num_teachers, fan_out).uniform_(-bound, bound)))
        self.norm_scales = nn.ParameterList([nn.Parameter(torch.ones(num_teachers, units)) for _ in range(layers)])
        self.norm_shifts = nn.ParameterList([nn.Parameter(torch.zeros(num_teachers, units)) for _ in range(layers)])

    def forward(self, inputs: torch.Tensor, shared_input: bool = False) -> torch.Tensor:
        """inputs (..., N, in_dim) -> (..., N, out_dim); teacher i's input goes through MLP i.

        shared_input: inputs are (..., in_dim), one input for every MLP (no N-fold copy is made).
        """
        hidden = inputs
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            pattern = "...i,nio->...no" if shared_input and index == 0 else "...ni,nio->...no"
            hidden = torch.einsum(pattern, hidden, weight.to(hidden.dtype)) + bias.to(hidden.dtype)
            if index < last:
                hidden = F.layer_norm(hidden, hidden.shape[-1:]) * self.norm_scales[index] + self.norm_shifts[index]
                hidden = F.elu(hidden)
        return hidden


class StudentHeads(PerTeacherMLP):
    """g_i of the `student_head` form: the student's state (..., Fs) -> its estimate of every teacher's state (..., N, Ft)."""

    def forward(self, inputs: torch.Tensor, shared_input: bool = True) -> torch.Tensor:
        return super().forward(inputs, shared_input=shared_input)


def build_distill_head(kind: str, num_teachers: int, teacher_size: int, student_size: int, units: int, layers: int) -> nn.Module:
    """f_distill as `transfer.distill_heads` names it."""
    if kind == "shared":
        return MLP(teacher_size, student_size, units, layers)
    if kind == "per_teacher":
        return PerTeacherMLP(num_teachers, teacher_size, student_size, units, layers)
    raise ValueError(f"transfer.distill_heads: {kind!r} is not one of {', '.join(DISTILL_HEADS)}")
