"""f_weight of Eq. 3: task-similarity logits, one per teacher; the softmax over teachers is applied by the caller.

Four scorers behind `transfer.scorer`, all with the same call
`logits(teachers (..., N, Ft), transferable (..., N, Fs), student (..., Fs)) -> (..., N)`:

- `prediction_error` (default): how well each teacher's own dynamics predict the target. Per
  update, teacher i's one-step prediction error on the target frames of the batch, in its own latent
  space: sum_j (posterior_j - prior_j)^2 over its stochastic state, divided by the batch variance of
  its posterior (a fraction of variance unexplained, comparable across teachers whose latent scales
  differ). W = softmax(-log EMA(error_i) / temperature), one W per run: at temperature 1,
  W_i is proportional to 1 / error_i (inverse-error weighting). It reads the teachers only, so the
  student's training cannot feed back into the choice (the loop that defeats the student-aware
  scorers at test size, docs/method.md). Before the first update W is uniform.

- `stepwise_error`: the same per-teacher error, but per frame and time-varying: at every frame each
  teacher's one-step error (sum over its stochastic state of (posterior - prior)^2, over the running
  variance of its posterior) is smoothed causally, s_t = (1 - c) s_{t-1} + c error_t with
  c = 1 / `stepwise_window`, starting each window (and each episode) from the run-level EMA of the
  errors; W(b, t) = softmax(-log s / temperature). So k can change within an episode; in
  imagination, where no frame is observed, the error is how far the student's projection of its
  imagined state lies from each teacher's imagined state (`student_head` form).

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

from vid2act_core.config_schema import TransferConfig, field_choices
from vid2act_core.nets import MLP

SCORERS = field_choices(TransferConfig, "scorer")
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

    reads_transferable = True
    """The only scorer that reads u_t^i = f_distill(s_t^i): the others need not compute it."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"transfer.similarity_temperature: must be > 0, got {temperature}")
        self.temperature = temperature

    def logits(self, teachers: torch.Tensor, transferable: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        distances = (transferable.detach().float() - student.detach().float().unsqueeze(-2)).square().mean(-1)
        return self.logits_from_distances(distances)

    def logits_from_distances(self, distances: torch.Tensor) -> torch.Tensor:
        """Mean squared distances (..., N) of each teacher's pair (either distillation form) -> logits (..., N)."""
        return -distances.detach().float() / self.temperature


class PredictionErrorScorer(nn.Module):
    """W from the EMA of each teacher's normalised one-step prediction error on the target frames.

    `observe` updates the EMA from a batch's stored teacher priors and posteriors (training only);
    `logits` returns -log(EMA) / temperature for every frame (zeros before the first `observe`).
    """

    reads_states = False
    """W is one vector per run, whatever the teacher and student states: selection in imagination
    need not roll the teachers forward (its k cannot change within a rollout)."""

    def __init__(self, num_teachers: int, teacher_deter_size: int, temperature: float, decay: float) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"transfer.prediction_error_temperature: must be > 0, got {temperature}")
        if not 0 <= decay < 1:
            raise ValueError(f"transfer.prediction_error_decay: must be in [0, 1), got {decay}")
        self.deter_size = teacher_deter_size
        self.temperature = temperature
        self.decay = decay
        self.register_buffer("error_ema", torch.ones(num_teachers))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @staticmethod
    def batch_errors(priors: torch.Tensor, posteriors: torch.Tensor, frames: torch.Tensor, deter_size: int) -> torch.Tensor:
        """Normalised error per teacher: priors/posteriors (B, T, N, Ft), frames (B, T) bool -> (N,).

        Only the stochastic part differs (prior and posterior at t share the deterministic state).
        """
        prior = priors[..., deter_size:].float()[frames]  # (M, N, S)
        posterior = posteriors[..., deter_size:].float()[frames]
        if posterior.shape[0] < 2:
            raise ValueError("transfer.scorer=prediction_error: a batch needs at least 2 frames past an episode start")
        error = (posterior - prior).square().sum(-1).mean(0)
        spread = posterior.var(0).sum(-1).clamp_min(1e-8)
        return error / spread

    @torch.no_grad()
    def observe(self, priors: torch.Tensor, posteriors: torch.Tensor, is_first: torch.Tensor | None) -> None:
        """One EMA step from a batch; an episode's first frame (its prior is the reset state) is left out."""
        frames = torch.ones(priors.shape[:2], dtype=torch.bool, device=priors.device)
        if is_first is not None:
            frames = ~is_first.bool()
        errors = self.batch_errors(priors, posteriors, frames, self.deter_size).clamp_min(1e-8)
        if int(self.updates) == 0:
            self.error_ema.copy_(errors)
        else:
            self.error_ema.mul_(self.decay).add_((1 - self.decay) * errors)
        self.updates += 1

    def logits(self, teachers: torch.Tensor, transferable: torch.Tensor | None, student: torch.Tensor) -> torch.Tensor:
        if int(self.updates) == 0:
            return torch.zeros(teachers.shape[:-1], device=teachers.device)
        return (-self.error_ema.log() / self.temperature).expand(teachers.shape[:-1])


class StepwiseErrorScorer(PredictionErrorScorer):
    """W per frame from each teacher's causally smoothed, normalised one-step error (module docstring).

    The run-level EMA of the errors (`error_ema`, as `prediction_error` keeps it) starts every window's
    smoothing; `spread` is the running total variance of each teacher's posterior (stochastic part),
    which normalises single frames where no batch variance exists (acting).
    """

    reads_states = True
    frame_level = True
    """W depends on the frame: the caller passes the teachers' priors and posteriors (`frame_logits`)."""

    def __init__(self, num_teachers: int, teacher_deter_size: int, temperature: float, decay: float, window: int) -> None:
        super().__init__(num_teachers, teacher_deter_size, temperature, decay)
        if window < 1:
            raise ValueError(f"transfer.stepwise_window: must be >= 1, got {window}")
        self.rate = 1.0 / window
        self.register_buffer("spread", torch.ones(num_teachers))

    @torch.no_grad()
    def observe(self, priors: torch.Tensor, posteriors: torch.Tensor, is_first: torch.Tensor | None) -> None:
        frames = torch.ones(priors.shape[:2], dtype=torch.bool, device=priors.device) if is_first is None else ~is_first.bool()
        spread = posteriors[..., self.deter_size:].float()[frames].var(0).sum(-1).clamp_min(1e-8)
        first = int(self.updates) == 0
        super().observe(priors, posteriors, is_first)
        if first:
            self.spread.copy_(spread)
        else:
            self.spread.mul_(self.decay).add_((1 - self.decay) * spread)

    def frame_errors(self, priors: torch.Tensor, posteriors: torch.Tensor) -> torch.Tensor:
        """(..., N, Ft) priors and posteriors -> (..., N) normalised one-step error per frame."""
        difference = posteriors[..., self.deter_size:].float() - priors[..., self.deter_size:].float()
        return difference.square().sum(-1) / self.spread

    def smooth(self, previous: torch.Tensor | None, errors: torch.Tensor, is_first: torch.Tensor | None) -> torch.Tensor:
        """One causal smoothing step: previous (M, N) or None (start from the run-level EMA), errors (M, N), is_first (M,)."""
        start = self.error_ema.expand_as(errors)
        if previous is None:
            previous = start
        smoothed = (1 - self.rate) * previous + self.rate * errors
        if is_first is not None:
            # An episode's first prior is the reset state: its error says nothing about the dynamics.
            smoothed = torch.where(is_first.bool().unsqueeze(-1), start, smoothed)
        return smoothed

    def smoothed_errors(self, priors: torch.Tensor, posteriors: torch.Tensor, is_first: torch.Tensor | None) -> torch.Tensor:
        """(B, T, N, Ft) priors and posteriors, is_first (B, T) -> smoothed errors (B, T, N)."""
        errors = self.frame_errors(priors, posteriors)
        smoothed, previous = [], None
        for t in range(errors.shape[1]):  # a recurrence over time, on (B, N) only
            previous = self.smooth(previous, errors[:, t], None if is_first is None else is_first[:, t])
            smoothed.append(previous)
        return torch.stack(smoothed, 1)

    def logits_from_errors(self, smoothed: torch.Tensor) -> torch.Tensor:
        """Smoothed errors (..., N) -> logits (..., N); zeros before the first `observe`."""
        if int(self.updates) == 0:
            return torch.zeros_like(smoothed)
        return -smoothed.clamp_min(1e-8).log() / self.temperature


Scorer = PredictionErrorScorer | PaperScorer | MLPScorer | SimilarityScorer


def build_scorer(
    name: str,
    teacher_size: int,
    student_size: int,
    units: int,
    temperature: float,
    num_teachers: int = 1,
    teacher_deter_size: int = 0,
    error_temperature: float = 1.0,
    error_decay: float = 0.99,
    stepwise_window: int = 8,
) -> Scorer:
    """The scorer named by `transfer.scorer`."""
    if name == "prediction_error":
        return PredictionErrorScorer(num_teachers, teacher_deter_size, error_temperature, error_decay)
    if name == "stepwise_error":
        return StepwiseErrorScorer(num_teachers, teacher_deter_size, error_temperature, error_decay, stepwise_window)
    if name == "paper":
        return PaperScorer(teacher_size, student_size)
    if name == "mlp":
        return MLPScorer(teacher_size, student_size, units)
    if name == "similarity":
        return SimilarityScorer(temperature)
    raise ValueError(f"transfer.scorer: {name!r} is not one of {', '.join(SCORERS)}")
