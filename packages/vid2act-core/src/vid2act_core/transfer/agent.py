"""The Vid2Act student (paper 4.3-4.4, Algorithm 1): DreamerV2 with its hooks filled in.

- world-model loss (Eq. 5): + alpha * L_distill (Eq. 4) with W from the scorer (Eq. 3), teacher
  one-step predictions read from the replay (stored when the frame was collected, see
  `transition_extras`);
- after each update: one step of the action VAE G (Eq. 6-7) on (f_distill(teacher posterior),
  source action, task one-hot) pairs from every source dataset (Algorithm 1, lines 9-10);
- the actor's extra input: G's penultimate decoder feature for the selected task k, computed
  without gradient. When acting, every teacher filters the target stream alongside the student and
  k is re-selected at every step (lines 22-24); in imagination see `selection.py` (lines 12-14).
Switches (TransferConfig): distill=False is DreamerV2 from scratch; uniform_weights sets W = 1/N
and draws k uniformly per step; guidance=False drops the actor's extra input.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vid2act_core.actor_critic import ConditionFn
from vid2act_core.agent import ActMode, DreamerAgent, PolicyState
from vid2act_core.config import Config
from vid2act_core.rssm import RSSM, State
from vid2act_core.teachers import TeacherEnsemble, fit_actions
from vid2act_core.transfer.action_vae import ActionVAE
from vid2act_core.transfer.distillation import TaskSelectiveDistillation
from vid2act_core.transfer.selection import ImaginationGuidance, TaskSelector
from vid2act_core.transfer.sources import SourcePairs
from vid2act_core.world_model import Batch, WorldModelOutput

TEACHER_FEATURE_KEY = "teacher_feat"
"""Replay key of the teachers' one-step predictions (priors), (T, N, F_teacher) float16."""
TEACHER_POSTERIOR_KEY = "teacher_post"
"""Replay key of the teachers' posterior states, (T, N, F_teacher) float16: where per-step selection starts imagining."""
ACTING_PHASES = ("train", "eval")
"""Phases whose teacher selections are counted apart: explore-mode acting, and eval/stochastic acting."""
TRANSFER_MODULES_SEED_OFFSET = 7919
"""Offset of the seed of the transfer modules' own initialisation from `config.seed`."""
UNIFORM_SELECTION = "uniform"
SWITCH_RATE_KEY = "selection_switch_rate"
"""`acting_metrics` key: share of within-episode acting steps whose selected teacher k changed."""
"""The selection metric's name under the uniform-weights ablation (no teacher is selected)."""


def guidance_input_statistics(source: torch.Tensor, query: torch.Tensor) -> dict[str, torch.Tensor]:
    """How G's query states (acting/imagination) compare with the source states it is trained on, both (M, S).

    `diag/guidance_source_std`, `diag/guidance_query_std`: mean per-dimension std of each;
    `diag/guidance_mean_gap`: RMS over dimensions of the difference of their per-dimension means, in
    units of the source's per-dimension std (0: same centre).
    """
    source, query = source.float(), query.float()
    source_std = source.std(0)
    gap = ((query.mean(0) - source.mean(0)) / source_std.clamp_min(1e-6)).square().mean().sqrt()
    return {
        "diag/guidance_source_std": source_std.mean(),
        "diag/guidance_query_std": query.std(0).mean(),
        "diag/guidance_mean_gap": gap,
    }


class TransferAgent(DreamerAgent):
    """The Vid2Act student. With `teachers=None` or distill off it is exactly DreamerV2."""

    def __init__(
        self,
        config: Config,
        action_dim: int,
        device: torch.device | str = "cpu",
        teachers: TeacherEnsemble | None = None,
        sources: list[SourcePairs] | None = None,
    ) -> None:
        transfer = config.transfer
        self.teachers_enabled = teachers is not None and transfer.distill
        self.guidance_enabled = self.teachers_enabled and transfer.guidance
        if self.guidance_enabled:
            if sources is None or len(sources) != teachers.num_teachers:  # type: ignore[union-attr]
                raise ValueError("guidance needs one source dataset per teacher (or transfer.guidance=false)")
        if transfer.imagination_selection not in ("per_step", "per_rollout"):
            raise ValueError(f"transfer.imagination_selection: {transfer.imagination_selection!r} is not one of per_step, per_rollout")
        if self.teachers_enabled:
            teachers.action_mapping = transfer.action_mapping  # type: ignore[union-attr]
        # Plain containers: nn.Module refuses submodules before Module.__init__ has run.
        self._pending = {"teachers": teachers if self.teachers_enabled else None, "sources": sources if self.guidance_enabled else None}
        cond_dim = transfer.guidance_dim if self.guidance_enabled else 0
        super().__init__(config, action_dim, device, cond_dim=cond_dim)
        # Selections counted apart for the training interaction (explore) and evaluation (eval, stochastic).
        self.selected_counts = {
            phase: torch.zeros(self.num_teachers, dtype=torch.long, device=self.device) for phase in ACTING_PHASES
        }
        # (steps whose k differs from the previous step's, steps with a previous step in the same episode):
        # how often selection moves within an episode, which one W per run never does.
        self.selection_switches = {phase: torch.zeros(2, dtype=torch.long, device=self.device) for phase in ACTING_PHASES}
        self.selector = TaskSelector(self.num_teachers, transfer.uniform_weights, self.device, config.seed)
        self._last_guidance: ImaginationGuidance | None = None
        self._last_query_states: torch.Tensor | None = None
        if self.guidance_enabled:
            self.vae_optimizer = torch.optim.Adam(self.vae.parameters(), lr=transfer.vae_lr, eps=config.world_model.eps)
            self._sources = [SourcePairs(s.name, s.features.to(self.device), s.actions.to(self.device)) for s in sources]  # type: ignore[union-attr]
        else:
            self._sources = []

    @property
    def _teachers(self) -> TeacherEnsemble | None:
        return self._pending["teachers"]

    @property
    def num_teachers(self) -> int:
        return self._teachers.num_teachers if self._teachers is not None else 0

    @property
    def teacher_names(self) -> list[str]:
        return list(self._teachers.names) if self._teachers is not None else []

    def build_extra_modules(self) -> None:
        if self._teachers is None:
            return
        self.teachers = self._teachers
        student_size = self.world_model.feature_size
        transfer = self.config.transfer
        # The transfer modules draw their initial weights from a forked generator, so the global RNG, and
        # with it every later draw of the update (latent samples, actions), is the same as DreamerV2's:
        # alpha 0 is then exactly DreamerV2 (tests/core/test_distillation_forms.py).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed + TRANSFER_MODULES_SEED_OFFSET)
            self.distillation = TaskSelectiveDistillation(
                self.teachers.feature_size, student_size, transfer, self.teachers.num_teachers, self.teachers.deter_size
            )
            if self.guidance_enabled:
                self.source_action_size = max(source.actions.shape[-1] for source in self._pending["sources"])
                self.vae = ActionVAE(
                    self.distillation.guidance_size, self.source_action_size, self.teachers.num_teachers, transfer.vae_units, transfer.guidance_dim
                )

    def extra_world_model_parameters(self) -> list[nn.Parameter]:
        return list(self.distillation.parameters()) if self._teachers is not None else []

    # ----- dynamics transfer (Eq. 3-5) ---------------------------------------------------------
    def _stored(self, batch: Batch, key: str) -> torch.Tensor:
        if key not in batch:
            hint = ""
            if key == TEACHER_POSTERIOR_KEY:
                hint = "; transfer.scorer=prediction_error reads it (choose another scorer)" if self.distillation.needs_posteriors else "; use transfer.imagination_selection=per_rollout"
            raise ValueError(f"the replay batch has no {key!r}: it was collected without these teachers{hint}")
        features = batch[key].float()
        if features.shape[-2] != self.num_teachers:
            raise ValueError(f"the replay stores {features.shape[-2]} teachers' {key!r}, this agent has {self.num_teachers}")
        return features

    def extra_world_model_loss(self, batch: Batch, output: WorldModelOutput) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self._teachers is None:
            return super().extra_world_model_loss(batch, output)
        alpha = self.config.transfer.alpha
        student = self.world_model.rssm.mean_feature(output.priors)
        student_posteriors = self.world_model.rssm.mean_feature(output.posts)
        teacher_priors = self._stored(batch, TEACHER_FEATURE_KEY)
        posteriors = self._stored(batch, TEACHER_POSTERIOR_KEY) if self.distillation.needs_posteriors else None
        # With alpha 0 the term is measured but builds no graph: the student's gradients, hence its weights,
        # are bit-identical to DreamerV2's.
        with torch.set_grad_enabled(torch.is_grad_enabled() and alpha != 0):
            distill_loss, weights, valid = self.distillation.loss(teacher_priors, student, batch.get("is_first"), posteriors, student_posteriors)
        metrics = {"distill_loss": distill_loss.detach()}
        mask = valid.unsqueeze(-1).to(weights.dtype)
        mean_weights = (weights.detach() * mask).sum((0, 1)) / mask.sum((0, 1)).clamp_min(1.0)
        for index, name in enumerate(self.teacher_names):
            metrics[f"weight/{name}"] = mean_weights[index]
        if self.diagnosing:
            compared = self.distillation.compared_states(teacher_priors, student, posteriors, student_posteriors)
            metrics.update(self.distillation.diagnostics(*compared, valid))
            if self.distillation.frame_level:
                metrics["diag/weight_change_rate"] = self._weight_change_rate(weights, valid)
        if alpha == 0:
            return torch.zeros((), device=self.device), metrics
        return alpha * distill_loss, metrics

    @staticmethod
    def _weight_change_rate(weights: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Share of consecutive valid frame pairs (B, T-1) whose argmax W differs: how often k would switch along the replay."""
        top = weights.argmax(-1)
        pairs = valid[:, 1:] & valid[:, :-1]
        changed = (top[:, 1:] != top[:, :-1]) & pairs
        return changed.sum().float() / pairs.sum().clamp_min(1).float()

    # ----- behaviour transfer (Eq. 8, Algorithm 1 lines 12-14) ---------------------------------
    def imagination_condition(self, batch: Batch, output: WorldModelOutput) -> ConditionFn | None:
        if not self.guidance_enabled:
            return None
        per_step = self.config.transfer.imagination_selection == "per_step"
        with torch.no_grad():
            teacher_priors = self._stored(batch, TEACHER_FEATURE_KEY).flatten(0, 1)  # (M, N, F)
            student_priors = self.world_model.rssm.mean_feature(output.priors).flatten(0, 1)
            smoothed = None
            if self.distillation.frame_level and self.distillation.last_smoothed_errors is not None:
                # The start states' W is the one the world-model update used at those frames.
                smoothed = self.distillation.last_smoothed_errors.flatten(0, 1)
                start_weights = torch.softmax(self.distillation.f_weight.logits_from_errors(smoothed).float(), -1)
            else:
                start_weights = self.distillation.weights(teacher_priors, student_priors)
            first_selected = self.selector.select(start_weights)
            self._last_query_states = self.distillation.query_states(self.world_model.rssm.feature(output.posts).flatten(0, 1), first_selected)
            teacher_state = None
            if per_step and self.distillation.weights_read_states:
                teacher_posts = self._stored(batch, TEACHER_POSTERIOR_KEY).flatten(0, 1).transpose(0, 1)  # (N, M, F)
                teacher_state = self.teachers.state_from_features(teacher_posts)
        guidance = ImaginationGuidance(
            self.vae, self.selector, first_selected, per_step, self.teachers, self.distillation, teacher_state, smoothed
        )
        self._last_guidance = guidance
        return guidance

    def after_update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Algorithm 1, lines 9-10: one VAE step on pairs from every source task."""
        if not self.guidance_enabled:
            return {}
        metrics: dict[str, torch.Tensor] = {}
        if self._last_guidance is not None:
            metrics["imagined_task_switch_rate"] = self._last_guidance.switch_rate()
            self._last_guidance = None
        transfer = self.config.transfer
        count = transfer.vae_batch_size * transfer.vae_batch_length
        states, actions, labels = [], [], []
        for task_index, source in enumerate(self._sources):
            features, source_actions = source.sample(count)
            states.append(features)
            actions.append(fit_actions(source_actions, self.source_action_size))
            labels.append(F.one_hot(torch.full((count,), task_index, device=self.device), self.num_teachers).float())
        with torch.no_grad():
            # (count, N, Ft) so that source i goes through teacher i's map (f_distill head or normaliser).
            distilled = self.distillation.source_states(torch.stack(states, 1)).transpose(0, 1).flatten(0, 1)
            if self._last_query_states is not None:
                metrics.update(guidance_input_statistics(distilled, self._last_query_states))
                self._last_query_states = None
        with self.autocast():
            loss, vae_metrics = self.vae.loss(distilled, torch.cat(actions), torch.cat(labels))
        self._check_finite("action VAE loss", loss)
        metrics.update(vae_metrics)
        metrics["vae_loss"] = loss.detach()
        self._step(self.vae_optimizer, loss, list(self.vae.parameters()), self.config.world_model.grad_clip)
        return metrics

    # ----- acting (Algorithm 1, lines 22-24) ---------------------------------------------------
    def acting_condition(
        self, post: State, prior: State, obs: dict[str, torch.Tensor], policy_state: PolicyState, mode: ActMode = "explore"
    ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        if self._teachers is None:
            return super().acting_condition(post, prior, obs, policy_state, mode)
        batch_size = obs["image"].shape[0]
        teacher_state = policy_state.get("teacher_state")
        if teacher_state is None:
            teacher_state = self.teachers.initial(batch_size, self.device)
        teacher_post, teacher_prior = self.teachers.filter_step(teacher_state, policy_state["action"], obs["image"], obs["is_first"])
        teacher_features = RSSM.feature(teacher_prior).transpose(0, 1)  # (B, N, F)
        teacher_posterior_features = RSSM.feature(teacher_post).transpose(0, 1)
        weights, smoothed = self.distillation.acting_weights(
            teacher_features, teacher_posterior_features, self.world_model.rssm.mean_feature(prior), obs["is_first"],
            policy_state.get("smoothed_errors"),
        )
        selected = self.selector.select(weights)
        phase = "train" if mode == "explore" else "eval"
        self.selected_counts[phase] += torch.bincount(selected, minlength=self.num_teachers)
        previous = policy_state.get("selected_task")
        if previous is not None:
            continuing = ~obs["is_first"].bool()
            self.selection_switches[phase] += torch.stack([((selected != previous) & continuing).sum(), continuing.sum()])
        extra = {
            "teacher_state": teacher_post,
            "teacher_features": teacher_features,
            "teacher_posterior_features": teacher_posterior_features,
            "task_weights": weights,
            "selected_task": selected,
            "smoothed_errors": smoothed,
        }
        if not self.guidance_enabled:
            return None, extra
        # Deterministic evaluation uses G's mean (z = 0), like the latent mean and the actor's mode.
        query = self.distillation.query_states(self.world_model.rssm.feature(post), selected)
        guidance = self.vae.guidance(query, self.selector.labels(selected), sample=mode != "eval")
        return guidance, extra

    def transition_extras(self, policy_state: PolicyState) -> dict[str, Any]:
        if self._teachers is None:
            return {}
        return {
            TEACHER_FEATURE_KEY: policy_state["teacher_features"][0].to(torch.float16).cpu().numpy(),
            TEACHER_POSTERIOR_KEY: policy_state["teacher_posterior_features"][0].to(torch.float16).cpu().numpy(),
        }

    def acting_metrics(self, phase: str = "train") -> dict[str, float]:
        """Share of acting steps of `phase` (train: explore mode; eval: eval and stochastic) that selected each teacher since the last call,
        and `SWITCH_RATE_KEY`: the share of steps within an episode whose k differs from the step before.

        Under the uniform ablation no teacher is selected (k is a uniform draw): `selected/uniform` = 1.
        """
        if self._teachers is None:
            return {}
        if phase not in ACTING_PHASES:
            raise ValueError(f"acting phase {phase!r} is not one of {', '.join(ACTING_PHASES)}")
        counts = self.selected_counts[phase].cpu().double()
        self.selected_counts[phase].zero_()
        switches, transitions = self.selection_switches[phase].tolist()
        self.selection_switches[phase].zero_()
        total = counts.sum().item()
        if total == 0:
            return {}
        if self.selector.uniform:
            return {f"selected/{UNIFORM_SELECTION}": 1.0}
        shares = {f"selected/{name}": float(counts[index] / total) for index, name in enumerate(self.teacher_names)}
        if transitions:
            shares[SWITCH_RATE_KEY] = switches / transitions
        return shares

    # ----- checkpoints -------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        payload = super().checkpoint()
        payload["task_selector"] = self.selector.state_dict()
        if self.guidance_enabled:
            payload["vae_optimizer"] = self.vae_optimizer.state_dict()
        return payload

    def restore(self, checkpoint: dict[str, Any]) -> None:
        super().restore(checkpoint)
        if "task_selector" in checkpoint:
            self.selector.load_state_dict(checkpoint["task_selector"])
        if self.guidance_enabled and "vae_optimizer" in checkpoint:
            self.vae_optimizer.load_state_dict(checkpoint["vae_optimizer"])
