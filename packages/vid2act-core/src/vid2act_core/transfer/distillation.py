"""Task-selective dynamics transfer (paper 4.3): weights W (Eq. 3) and the distillation loss (Eq. 4).

Three forms of Eq. 4's two sides (`transfer.distill_form`, docs/method.md "Distillation forms"):

- `student_head` (default): per-teacher heads g_i on the student's state regress each teacher's state,
  standardised per dimension with running statistics of the target stream and without gradient
  (`normaliser.py`). The target's scale is fixed, so the loss cannot be lowered by shrinking either
  side towards a constant: only by the student encoding each teacher's physical state.
- `paper`: f_distill(teacher state) against the student's state, as the paper writes Eq. 4. Both
  sides are trainable, so shrinking the student's state and f_distill's output together lowers it.
- `published`: `paper` as the published code runs it: posterior states, a linear f_distill, each
  teacher's weight floored at 0.1, the mean over feature dimensions.

The squared distance is reduced over feature dimensions by `transfer.distill_reduction` (`mean`, the
published reduction, or `sum`, Eq. 4 as written; the sum weighs the term Fs times more). Each
teacher's weight in the loss is max(w_i, `distill_weight_floor`).

The student term is its distribution mean (`RSSM.mean_feature`), not a sample: a sample would add the
latent's variance to every distance, a regulariser Eq. 4 does not have. `transfer.distill_states`
chooses priors (the teachers' one-step predictions and the student's prior) or posteriors.

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
from vid2act_core.config_schema import field_choices
from vid2act_core.transfer.distill_heads import DISTILL_HEADS, StudentHeads, build_distill_head
from vid2act_core.transfer.normaliser import TeacherNormaliser
from vid2act_core.transfer.scorers import PredictionErrorScorer, SimilarityScorer, StepwiseErrorScorer, build_scorer

DISTILL_FORMS = field_choices(TransferConfig, "distill_form")
"""Values of `transfer.distill_form`."""
DISTILL_REDUCTIONS = field_choices(TransferConfig, "distill_reduction")
DISTILL_STATES = field_choices(TransferConfig, "distill_states")
PUBLISHED_WEIGHT_FLOOR = 0.1
"""The published code's floor on each teacher's weight in L_distill (`torch.max(0.1, w)`)."""


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"transfer.{key}: {value!r} is not one of {', '.join(choices)}")


class TaskSelectiveDistillation(nn.Module):
    """The two sides of Eq. 4 (module docstring) and f_weight (the scorer, Eq. 3)."""

    def __init__(
        self, teacher_size: int, student_size: int, config: TransferConfig, num_teachers: int = 1, teacher_deter_size: int = 0
    ) -> None:
        super().__init__()
        if config.distill_burn_in < 0:
            raise ValueError(f"transfer.distill_burn_in: must be >= 0, got {config.distill_burn_in}")
        _check_choice("distill_form", config.distill_form, DISTILL_FORMS)
        _check_choice("distill_reduction", config.distill_reduction, DISTILL_REDUCTIONS)
        _check_choice("distill_states", config.distill_states, DISTILL_STATES)
        _check_choice("distill_heads", config.distill_heads, DISTILL_HEADS)
        if not 0 <= config.distill_weight_floor < 1:
            raise ValueError(f"transfer.distill_weight_floor: must be in [0, 1), got {config.distill_weight_floor}")
        published = config.distill_form == "published"
        self.form = config.distill_form
        self.states = "posterior" if published else config.distill_states
        self.reduction = "mean" if published else config.distill_reduction
        self.weight_floor = PUBLISHED_WEIGHT_FLOOR if published else config.distill_weight_floor
        self.uniform = config.uniform_weights
        self.scorer_name = config.scorer
        self.burn_in = config.distill_burn_in
        self.teacher_size = teacher_size
        self.student_size = student_size
        self.f_distill: nn.Module | None = None
        self.student_heads: StudentHeads | None = None
        self.normaliser: TeacherNormaliser | None = None
        if self.form == "student_head":
            self.student_heads = StudentHeads(num_teachers, student_size, teacher_size, config.distill_units, config.distill_layers)
            self.normaliser = TeacherNormaliser(num_teachers, teacher_size, config.distill_target_decay)
        else:
            heads = "shared" if published else config.distill_heads
            layers = 0 if published else config.distill_layers  # the published f_distill is one linear layer
            self.f_distill = build_distill_head(heads, num_teachers, teacher_size, student_size, config.distill_units, layers)
        self.f_weight = build_scorer(
            config.scorer, teacher_size, student_size, config.scorer_units, config.similarity_temperature,
            num_teachers, teacher_deter_size, config.prediction_error_temperature, config.prediction_error_decay,
            config.stepwise_window,
        )
        self.last_smoothed_errors: torch.Tensor | None = None
        """stepwise_error: the smoothed errors (B, T, N) of the last training batch, where imagination starts."""

    # ----- what the scorer needs -------------------------------------------------------------------
    @property
    def needs_posteriors(self) -> bool:
        """Whether `loss` needs the teachers' posterior states (error scorers, or posterior distillation)."""
        return (isinstance(self.f_weight, PredictionErrorScorer) and not self.uniform) or self.states == "posterior"

    @property
    def weights_read_states(self) -> bool:
        """Whether W depends on the teacher and student states (not under uniform W or the prediction_error scorer)."""
        return not self.uniform and getattr(self.f_weight, "reads_states", True)

    @property
    def frame_level(self) -> bool:
        """Whether W comes from per-frame errors (stepwise_error) rather than from `weights`."""
        return not self.uniform and isinstance(self.f_weight, StepwiseErrorScorer)

    # ----- the two sides of Eq. 4 ------------------------------------------------------------------
    @property
    def guidance_size(self) -> int:
        """Width of the states G works in: the teachers' (normalised) space for student_head, the student's otherwise."""
        return self.teacher_size if self.form == "student_head" else self.student_size

    def transferable(self, teacher_states: torch.Tensor) -> torch.Tensor:
        """u_t^i = f_distill(s_t^i): (..., N, Ft) -> (..., N, Fs) (paper and published forms)."""
        if self.f_distill is None:
            raise ValueError("transfer.distill_form=student_head has no f_distill (the map runs from the student to the teachers)")
        return self.f_distill(teacher_states)

    def pair(self, teacher_states: torch.Tensor, student_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(prediction, target), both (..., N, D): what Eq. 4 compares for every teacher.

        student_head: (g_i(e_t), standardised s_t^i without gradient); paper/published: (e_t, f_distill(s_t^i)).
        """
        if self.student_heads is not None:
            assert self.normaliser is not None
            return self.student_heads(student_states), self.normaliser.normalise(teacher_states)
        target = self.transferable(teacher_states)
        return student_states.unsqueeze(-2).expand(*student_states.shape[:-1], target.shape[-2], student_states.shape[-1]), target

    def distances(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Squared distance reduced over the feature dimension by `distill_reduction`: (..., N, D) -> (..., N), fp32."""
        squared = (prediction.float() - target.float()).square()
        return squared.mean(-1) if self.reduction == "mean" else squared.sum(-1)

    @staticmethod
    def mean_distances(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared distance over the feature dimension, detached: (..., N, D) -> (..., N) (the similarity scorer's, whatever the reduction)."""
        return (prediction.detach().float() - target.detach().float()).square().mean(-1)

    def source_states(self, teacher_states: torch.Tensor) -> torch.Tensor:
        """G's training states from source states in the teachers' spaces: (..., N, Ft) -> (..., N, guidance_size)."""
        if self.normaliser is not None:
            return self.normaliser.normalise(teacher_states)
        return self.transferable(teacher_states)

    def query_states(self, student_features: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
        """G's query states when acting and imagining: student features (M, Fs), k (M,) -> (M, guidance_size).

        student_head: g_k(e_t), the student's estimate of the selected teacher's standardised state, so G
        is queried in the space it was trained in; paper forms: e_t, as the paper does.
        """
        if self.student_heads is None:
            return student_features
        projected = self.student_heads(student_features)  # (M, N, Ft)
        index = selected.view(-1, 1, 1).expand(-1, 1, projected.shape[-1])
        return projected.gather(-2, index).squeeze(-2)

    # ----- Eq. 3 -----------------------------------------------------------------------------------
    def weights(
        self, teacher_states: torch.Tensor, student_states: torch.Tensor, transferable: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Eq. 3. teacher_states (..., N, Ft), student_states (..., Fs) -> W (..., N) in fp32, summing to 1 over N.

        Under the uniform ablation W = 1/N. For `stepwise_error` outside a batch (no frame errors at
        hand) this is its run-level W; `loss`, `acting_weights` and `imagined_weights` give the per-frame one.
        """
        num_teachers = teacher_states.shape[-2]
        if self.uniform:
            return torch.full(teacher_states.shape[:-1], 1.0 / num_teachers, device=teacher_states.device)
        if isinstance(self.f_weight, SimilarityScorer):
            prediction, target = self.pair(teacher_states, student_states.detach())
            logits = self.f_weight.logits_from_distances(self.mean_distances(prediction, target))
        else:
            logits = self.f_weight.logits(teacher_states, transferable, student_states.detach())
        return F.softmax(logits.float(), -1)

    def acting_weights(
        self,
        teacher_prior: torch.Tensor,
        teacher_post: torch.Tensor,
        student_prior: torch.Tensor,
        is_first: torch.Tensor,
        smoothed: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """W at one acting step: teacher prior/post (B, N, Ft), student prior mean (B, Fs), is_first (B,).

        Returns (W (B, N), the smoothed errors to carry to the next step, or None for per-run scorers).
        """
        if not self.frame_level:
            return self.weights(teacher_prior, student_prior), None
        assert isinstance(self.f_weight, StepwiseErrorScorer)
        smoothed = self.f_weight.smooth(smoothed, self.f_weight.frame_errors(teacher_prior, teacher_post), is_first)
        return F.softmax(self.f_weight.logits_from_errors(smoothed).float(), -1), smoothed

    def imagined_weights(
        self, teacher_states: torch.Tensor, student_states: torch.Tensor, smoothed: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """W at one imagined step: teachers' imagined priors (M, N, Ft), the student's imagined prior mean (M, Fs).

        For stepwise_error no frame is observed: the step's error is the distance between the student's
        projection g_i(e) and teacher i's imagined standardised state (student_head form); with the
        paper forms there is no such projection and W stays at the start state's.
        """
        if not self.frame_level:
            return self.weights(teacher_states, student_states), None
        assert isinstance(self.f_weight, StepwiseErrorScorer) and smoothed is not None
        if self.student_heads is not None:
            prediction, target = self.pair(teacher_states, student_states)
            smoothed = self.f_weight.smooth(smoothed, self.mean_distances(prediction, target), None)
        return F.softmax(self.f_weight.logits_from_errors(smoothed).float(), -1), smoothed

    # ----- Eq. 4 -----------------------------------------------------------------------------------
    def valid_steps(self, shape: torch.Size, is_first: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """(B, T) bool: steps that enter L_distill (past the burn-in, or since an episode start in the window)."""
        steps = torch.arange(shape[1], device=device).expand(shape[0], shape[1])
        valid = steps >= self.burn_in
        if is_first is not None:
            valid = valid | (torch.cummax(is_first.to(torch.uint8), 1).values > 0)
        return valid

    def compared_states(
        self,
        teacher_priors: torch.Tensor,
        student_prior_means: torch.Tensor,
        teacher_posteriors: torch.Tensor | None,
        student_posterior_means: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(teacher states, student states) that Eq. 4 compares, by `distill_states`."""
        if self.states == "prior":
            return teacher_priors, student_prior_means
        if teacher_posteriors is None or student_posterior_means is None:
            raise ValueError("transfer.distill_states=posterior needs the teachers' posterior states ('teacher_post') and the student's")
        return teacher_posteriors, student_posterior_means

    def loss(
        self,
        teacher_states: torch.Tensor,
        student_states: torch.Tensor,
        is_first: torch.Tensor | None = None,
        teacher_posteriors: torch.Tensor | None = None,
        student_posteriors: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Eq. 4 per frame, sum_i max(w_i, floor) d(i), averaged over the valid (batch, time) frames.

        teacher_states (B, T, N, Ft) (the teachers' priors), student_states (B, T, Fs) (the prior
        means), is_first (B, T) or None, teacher_posteriors (B, T, N, Ft) and student_posteriors
        (B, T, Fs) (posterior means; needed by the error scorers and by posterior distillation). In
        training mode the scorer's and the normaliser's statistics advance before W and the target
        are formed. Returns (loss, weights (B, T, N), valid (B, T) bool); computed in fp32.
        """
        # The teachers are frozen: their states are data here, whatever graph they came from.
        teacher_states = teacher_states.detach()
        teacher_posteriors = None if teacher_posteriors is None else teacher_posteriors.detach()
        if self.needs_posteriors and teacher_posteriors is None:
            reason = "transfer.distill_states=posterior" if self.states == "posterior" else f"transfer.scorer={self.scorer_name}"
            raise ValueError(f"{reason} needs the teachers' posterior states ('teacher_post') in the batch")
        valid = self.valid_steps(teacher_states.shape[:2], is_first, teacher_states.device)
        compared_teachers, compared_student = self.compared_states(teacher_states, student_states, teacher_posteriors, student_posteriors)
        if self.training:
            if isinstance(self.f_weight, PredictionErrorScorer) and not self.uniform:
                self.f_weight.observe(teacher_states, teacher_posteriors, is_first)
            if self.normaliser is not None:
                self.normaliser.observe(compared_teachers, valid)
        prediction, target = self.pair(compared_teachers, compared_student)
        distances = self.distances(prediction, target)
        if self.frame_level:
            assert isinstance(self.f_weight, StepwiseErrorScorer) and teacher_posteriors is not None
            smoothed = self.f_weight.smoothed_errors(teacher_states, teacher_posteriors, is_first)
            self.last_smoothed_errors = smoothed.detach()
            weights = F.softmax(self.f_weight.logits_from_errors(smoothed).float(), -1)
        elif isinstance(self.f_weight, SimilarityScorer) and not self.uniform:
            weights = F.softmax(self.f_weight.logits_from_distances(self.mean_distances(prediction, target)).float(), -1)
        else:
            weights = self.weights(teacher_states, student_states)
        loss_weights = weights.clamp_min(self.weight_floor) if self.weight_floor > 0 else weights
        per_frame = (loss_weights * distances).sum(-1)
        mask = valid.to(per_frame.dtype)
        return (per_frame * mask).sum() / mask.sum().clamp_min(1.0), weights, valid

    @torch.no_grad()
    def diagnostics(
        self, teacher_states: torch.Tensor, student_states: torch.Tensor, valid: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-dimension spread of both sides of Eq. 4 over the valid frames (compared states as `compared_states` gives them).

        `diag/target_std`: mean over dimensions (and teachers) of the target's std; `diag/prediction_std`: the same
        for the side the student produces. A collapsing distillation drives both towards 0.
        """
        prediction, target = self.pair(teacher_states, student_states)
        chosen_prediction, chosen_target = prediction.float()[valid], target.float()[valid]
        if chosen_target.shape[0] < 2:
            return {}
        return {
            "diag/target_std": chosen_target.std(0).mean(),
            "diag/prediction_std": chosen_prediction.std(0).mean(),
        }
