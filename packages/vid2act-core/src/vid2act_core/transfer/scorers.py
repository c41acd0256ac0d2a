"""f_weight of Eq. 3: task-similarity logits, one per teacher; the softmax over teachers is applied by the caller.

Three scorers behind `transfer.scorer`, all with the same call
`logits(teachers (..., N, Ft), transferable (..., N, Fs), student (..., Fs)) -> (..., N)`:

- `paper`: one linear layer on concat(s_t^i, e_t), as Eq. 3 writes it (and the published code).
  Its logit is a.s_t^i + b.e_t + c; the student term b.e_t + c is the same for every teacher and
  cancels in the softmax, so W depends on the teachers' states only (tests prove it).
- `mlp`: an MLP on concat(s_t^i, e_t); the hidden nonlinearity mixes the two, so W can depend on
  the student state.
- `similarity`: minus the mean squared distance between the distilled teacher state
  u_t^i = f_distill(s_t^i) and the student state e_t, over a temperature: the teacher whose
  distilled prediction is closest to the student's own prediction gets the most weight. It has no
  parameters of its own and reads detached inputs (W is a measurement of the distances that Eq. 4
  then minimises, not a second route for their gradients).

The student state reaches every scorer detached: the weights do not shape the student's
representation (for `paper` this changes nothing, the term cancels).
"""

from __future__ import annotations

import torch
from torch import nn

from vid2act_core.nets import MLP

SCORERS = ("paper", "mlp", "similarity")
"""Values of `transfer.scorer`."""


def _pair(teachers: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """concat(s_t^i, e_t) for every teacher: (..., N, Ft + Fs)."""
    expanded = student.unsqueeze(-2).expand(*student.shape[:-1], teachers.shape[-2], student.shape[-1])
    return torch.cat([teachers, expanded.to(teachers.dtype)], -1)


class PaperScorer(nn.Linear):
    """Eq. 3 as written: Linear(concat(s_t^i, e_t) -> 1). Its student term cancels in the softmax."""

    def __init__(self, teacher_size: int, student_size: int) -> None:
        super().__init__(teacher_size + student_size, 1)

    def logits(self, teachers: torch.Tensor, transferable: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        return self(_pair(teachers, student)).squeeze(-1)


class MLPScorer(nn.Module):
    """An MLP on concat(s_t^i, e_t): student-aware through its hidden nonlinearity."""

    def __init__(self, teacher_size: int, student_size: int, units: int) -> None:
        super().__init__()
        self.net = MLP(teacher_size + student_size, 1, units, 1)

    def logits(self, teachers: torch.Tensor, transferable: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        return self.net(_pair(teachers, student)).squeeze(-1)


class SimilarityScorer(nn.Module):
    """-mean_j (u_t^i - e_t)_j^2 / temperature on detached inputs: closest distilled teacher wins."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"transfer.similarity_temperature: must be > 0, got {temperature}")
        self.temperature = temperature

    def logits(self, teachers: torch.Tensor, transferable: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        distances = (transferable.detach().float() - student.detach().float().unsqueeze(-2)).square().mean(-1)
        return -distances / self.temperature


Scorer = PaperScorer | MLPScorer | SimilarityScorer


def build_scorer(name: str, teacher_size: int, student_size: int, units: int, temperature: float) -> Scorer:
    """The scorer named by `transfer.scorer`."""
    if name == "paper":
        return PaperScorer(teacher_size, student_size)
    if name == "mlp":
        return MLPScorer(teacher_size, student_size, units)
    if name == "similarity":
        return SimilarityScorer(temperature)
    raise ValueError(f"transfer.scorer: {name!r} is not one of {', '.join(SCORERS)}")
