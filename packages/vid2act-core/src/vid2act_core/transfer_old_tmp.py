"""Vid2Act transfer (paper 4.3-4.4, Algorithm 1): task-selective distillation, action replay, guidance.

The student is the DreamerV2 agent with three hooks filled in:
- world-model loss (Eq. 5): + alpha * L_distill (Eq. 4), weights from f_weight and a softmax over
  teachers per batch element and time step (Eq. 3), teacher one-step predictions read from the
  replay (stored when the frame was collected, see `transition_extras`);
- after each update: one step of the action VAE G (Eq. 6-7) on (f_distill(teacher posterior),
  source action, task one-hot) pairs from every source dataset (Algorithm 1, lines 9-10);
- the actor's extra input: G's penultimate decoder feature for task k = argmax W, computed without
  gradient (the actor's loss never reaches G or the teachers). When acting, every teacher filters
  the target stream alongside the student and k is re-selected at every step; in imagination,
  each rollout keeps the k selected at its start state.
Switches (TransferConfig): distill=False is DreamerV2 from scratch; uniform_weights fixes W = 1/N
(and the VAE task label to the uniform vector); guidance=False drops the actor's extra input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vid2act_core.agent import DreamerAgent, PolicyState
from vid2act_core.actor_critic import ConditionFn
from vid2act_core.config import Config, TransferConfig
from vid2act_core.nets import MLP
from vid2act_core.rssm import RSSM, State
from vid2act_core.teachers import TeacherEnsemble, fit_actions
from vid2act_core.world_model import Batch, WorldModel, WorldModelOutput

TEACHER_FEATURE_KEY = "teacher_feat"
"""Replay key of the teachers' one-step prediction features, (T, N, F_teacher) float16."""


class TaskSelectiveDistillation(nn.Module):
    """f_distill (MLP, teacher state -> student space) and f_weight (Linear on concat(teacher, student))."""

    def __init__(self, teacher_size: int, student_size: int, config: TransferConfig) -> None:
        super().__init__()
        self.uniform = config.uniform_weights
        self.f_distill = MLP(teacher_size, student_size, config.distill_units, config.distill_layers)
        self.f_weight = nn.Linear(teacher_size + student_size, 1)

    def weights(self, teacher_states: torch.Tensor, student_states: torch.Tensor) -> torch.Tensor:
        """Eq. 3. teacher_states (..., N, Ft), student_states (...,  Fs) -> W (..., N), summing to 1 over N."""
        num_teachers = teacher_states.shape[-2]
        if self.uniform:
            return teacher_states.new_full(teacher_states.shape[:-1], 1.0 / num_teachers)
        expanded = student_states.unsqueeze(-2).expand(*student_states.shape[:-1], num_teachers, student_states.shape[-1])
        logits = self.f_weight(torch.cat([teacher_states, expanded], -1)).squeeze(-1)
        return F.softmax(logits, -1)

    def loss(self, teacher_states: torch.Tensor, student_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 4 per frame: sum_i w_i ||e_t - f_distill(s_t^i)||^2, averaged over batch and time.

        teacher_states (B, T, N, Ft), student_states (B, T, Fs). Returns (loss, weights (B, T, N)).
        """
        weights = self.weights(teacher_states, student_states)
        transferable = self.f_distill(teacher_states)
        distances = (student_states.unsqueeze(-2) - transferable).square().sum(-1)
        return (weights * distances).sum(-1).mean(), weights


class ActionVAE(nn.Module):
    """G_theta of Eq. 6: a state- and task-conditioned VAE over source actions (BCQ style)."""

    def __init__(self, state_size: int, action_size: int, num_tasks: int, units: int, guidance_dim: int) -> None:
        super().__init__()
        self.action_size = action_size
        self.num_tasks = num_tasks
        self.latent_size = 2 * action_size
        self.encoder = nn.Sequential(
            nn.Linear(state_size + action_size + num_tasks, units), nn.ELU(), nn.Linear(units, units), nn.ELU()
        )
        self.encoder_mean = nn.Linear(units, self.latent_size)
        self.encoder_log_std = nn.Linear(units, self.latent_size)
        self.decoder_body = nn.Sequential(
            nn.Linear(state_size + self.latent_size + num_tasks, units), nn.ELU(), nn.Linear(units, guidance_dim), nn.ELU()
        )
        self.decoder_out = nn.Linear(guidance_dim, action_size)

    def loss(self, states: torch.Tensor, actions: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 7: squared reconstruction error + KL(N(mu, sigma) || N(0, 1)), per pair, averaged."""
        hidden = self.encoder(torch.cat([states, actions, labels], -1))
        mean = self.encoder_mean(hidden)
        log_std = self.encoder_log_std(hidden).clamp(-4, 15)
        std = log_std.exp()
        latent = mean + std * torch.randn_like(std)
        reconstruction = torch.tanh(self.decoder_out(self.decoder_body(torch.cat([states, latent, labels], -1))))
        reconstruction_loss = (reconstruction - actions).square().sum(-1).mean()
        kl = (-0.5 * (1 + 2 * log_std - mean.square() - std.square())).sum(-1).mean()
        return reconstruction_loss + kl, {"vae_reconstruction": reconstruction_loss.detach(), "vae_kl": kl.detach()}

    def guidance(self, states: torch.Tensor, labels: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """The decoder's penultimate feature for (state, task label); z ~ N(0, 1) clipped to [-0.5, 0.5]."""
        shape = (*states.shape[:-1], self.latent_size)
        if sample:
            latent = torch.randn(shape, device=states.device, dtype=states.dtype).clamp(-0.5, 0.5)
        else:
            latent = torch.zeros(shape, device=states.device, dtype=states.dtype)
        return self.decoder_body(torch.cat([states, latent, labels], -1))

    def decode(self, states: torch.Tensor, labels: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """A replayed source action for (state, task label)."""
        return torch.tanh(self.decoder_out(self.guidance(states, labels, sample)))


class SourcePairs:
    """(teacher posterior feature s_t, source action taken from s_t) pairs of one source task, on a device."""

    def __init__(self, name: str, features: torch.Tensor, actions: torch.Tensor) -> None:
        if len(features) != len(actions) or len(features) == 0:
            raise ValueError(f"source {name!r}: need as many (>0) features as actions, got {len(features)} and {len(actions)}")
        self.name = name
        self.features = features
        self.actions = actions

    def __len__(self) -> int:
        return len(self.features)

    @classmethod
    @torch.no_grad()
    def from_episodes(
        cls, name: str, teacher: WorldModel, episodes: Iterable[dict[str, np.ndarray]], device: torch.device | str
    ) -> SourcePairs:
        """Filter each source episode with its own teacher (posterior means) and pair s_t with a_{t+1}."""
        teacher = teacher.to(device)
        features, actions = [], []
        for episode in episodes:
            images = torch.from_numpy(np.ascontiguousarray(episode["image"]))[None].to(device)
            episode_actions = torch.from_numpy(np.asarray(episode["action"], np.float32))[None].to(device)
            is_first = torch.zeros(images.shape[:2], dtype=torch.bool, device=device)
            is_first[:, 0] = True
            embeds = torch.cat([teacher.embed(chunk) for chunk in images.split(256, dim=1)], 1)
            posts, _ = teacher.rssm.observe(embeds, episode_actions, is_first, sample=False)
            features.append(RSSM.feature(posts)[0, :-1])
            actions.append(episode_actions[0, 1:])
        if not features:
            raise ValueError(f"source {name!r}: the dataset has no episodes")
        return cls(name, torch.cat(features), torch.cat(actions))

    def sample(self, count: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self), (count,), device=self.features.device, generator=generator)
        return self.features[index], self.actions[index]


def initialise_from_teacher(student: WorldModel, teacher: WorldModel) -> list[str]:
    """The pretrained-DreamerV2 baseline: copy every teacher tensor whose name and shape match.

    The action input layer is copied column-wise over the shared action dimensions. Returns the
    names of the tensors copied; the reward head (teachers have none) stays freshly initialised.
    """
    copied = []
    teacher_state = teacher.state_dict()
    with torch.no_grad():
        for key, value in student.state_dict().items():
            source = teacher_state.get(key)
            if source is None:
                continue
            if source.shape == value.shape:
                value.copy_(source)
                copied.append(key)
            elif key == "rssm.img_in_action.weight" and source.shape[0] == value.shape[0]:
                shared = min(source.shape[1], value.shape[1])
                value.zero_()
                value[:, :shared] = source[:, :shared]
                copied.append(key)
    return copied


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
        # Plain containers: nn.Module refuses submodules before Module.__init__ has run.
        self._pending = {"teachers": teachers if self.teachers_enabled else None, "sources": sources if self.guidance_enabled else None}
        cond_dim = transfer.guidance_dim if self.guidance_enabled else 0
        super().__init__(config, action_dim, device, cond_dim=cond_dim)
        self.selected_counts = torch.zeros(self.num_teachers, dtype=torch.long, device=self.device)
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
        self.distillation = TaskSelectiveDistillation(self.teachers.feature_size, student_size, self.config.transfer)
        if self.guidance_enabled:
            self.source_action_size = max(source.actions.shape[-1] for source in self._pending["sources"])
            transfer = self.config.transfer
            self.vae = ActionVAE(student_size, self.source_action_size, self.teachers.num_teachers, transfer.vae_units, transfer.guidance_dim)

    def extra_world_model_parameters(self) -> list[nn.Parameter]:
        return list(self.distillation.parameters()) if self._teachers is not None else []

    # ----- dynamics transfer --------------------------------------------------------------------
    def _teacher_features(self, batch: Batch) -> torch.Tensor:
        if TEACHER_FEATURE_KEY not in batch:
            raise ValueError(f"the replay batch has no {TEACHER_FEATURE_KEY!r}: it was collected without these teachers")
        features = batch[TEACHER_FEATURE_KEY].float()
        if features.shape[-2] != self.num_teachers:
            raise ValueError(f"the replay stores {features.shape[-2]} teachers' features, this agent has {self.num_teachers}")
        return features

    def extra_world_model_loss(self, batch: Batch, output: WorldModelOutput) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self._teachers is None:
            return super().extra_world_model_loss(batch, output)
        student = self.world_model.rssm.feature(output.priors)
        distill_loss, weights = self.distillation.loss(self._teacher_features(batch), student)
        metrics = {"distill_loss": distill_loss.detach()}
        mean_weights = weights.detach().mean((0, 1))
        for index, name in enumerate(self.teacher_names):
            metrics[f"weight/{name}"] = mean_weights[index]
        return self.config.transfer.alpha * distill_loss, metrics

    def _task_labels(self, weights: torch.Tensor) -> torch.Tensor:
        """One-hot of argmax W (the uniform vector under the uniform-weights ablation)."""
        if self.config.transfer.uniform_weights:
            return weights
        return F.one_hot(weights.argmax(-1), self.num_teachers).to(weights.dtype)

    # ----- behaviour transfer -------------------------------------------------------------------
    def imagination_condition(self, batch: Batch, output: WorldModelOutput) -> ConditionFn | None:
        if not self.guidance_enabled:
            return None
        with torch.no_grad():
            student = self.world_model.rssm.feature(output.priors).detach()
            weights = self.distillation.weights(self._teacher_features(batch), student)
            labels = self._task_labels(weights).reshape(-1, self.num_teachers)
        vae = self.vae
        rssm = self.world_model.rssm

        def condition(state: State) -> torch.Tensor:
            return vae.guidance(rssm.feature(state), labels)

        return condition

    def after_update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Algorithm 1, lines 9-10: one VAE step on pairs from every source task."""
        if not self.guidance_enabled:
            return {}
        transfer = self.config.transfer
        count = transfer.vae_batch_size * transfer.vae_batch_length
        states, actions, labels = [], [], []
        for task_index, source in enumerate(self._sources):  # type: ignore[arg-type]
            features, source_actions = source.sample(count)
            states.append(features)
            actions.append(fit_actions(source_actions, self.source_action_size))
            labels.append(F.one_hot(torch.full((count,), task_index, device=self.device), self.num_teachers).float())
        with torch.no_grad():
            distilled = self.distillation.f_distill(torch.cat(states))
        with self.autocast():
            loss, metrics = self.vae.loss(distilled, torch.cat(actions), torch.cat(labels))
        self._check_finite("action VAE loss", loss)
        metrics["vae_loss"] = loss.detach()
        self._step(self.vae_optimizer, loss, list(self.vae.parameters()), self.config.world_model.grad_clip)
        return metrics

    # ----- acting ------------------------------------------------------------------------------
    def acting_condition(
        self, post: State, prior: State, obs: dict[str, torch.Tensor], policy_state: PolicyState
    ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        if self._teachers is None:
            return super().acting_condition(post, prior, obs, policy_state)
        batch_size = obs["image"].shape[0]
        teacher_state = policy_state.get("teacher_state")
        if teacher_state is None:
            teacher_state = self.teachers.initial(batch_size, self.device)
        teacher_post, teacher_prior = self.teachers.filter_step(teacher_state, policy_state["action"], obs["image"], obs["is_first"])
        teacher_features = RSSM.feature(teacher_prior).transpose(0, 1)  # (B, N, F)
        weights = self.distillation.weights(teacher_features, self.world_model.rssm.feature(prior))
        selected = weights.argmax(-1)
        self.selected_counts += torch.bincount(selected, minlength=self.num_teachers)
        extra = {"teacher_state": teacher_post, "teacher_features": teacher_features, "task_weights": weights, "selected_task": selected}
        if not self.guidance_enabled:
            return None, extra
        guidance = self.vae.guidance(self.world_model.rssm.feature(post), self._task_labels(weights))
        return guidance, extra

    def transition_extras(self, policy_state: PolicyState) -> dict[str, Any]:
        if self._teachers is None:
            return {}
        return {TEACHER_FEATURE_KEY: policy_state["teacher_features"][0].to(torch.float16).cpu().numpy()}

    def acting_metrics(self) -> dict[str, float]:
        """Fraction of acting steps that selected each teacher since the last call."""
        if self._teachers is None:
            return {}
        counts = self.selected_counts.cpu().double()
        self.selected_counts.zero_()
        total = counts.sum().item()
        if total == 0:
            return {}
        return {f"selected/{name}": float(counts[index] / total) for index, name in enumerate(self.teacher_names)}

    # ----- checkpoints -------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        payload = super().checkpoint()
        if self.guidance_enabled:
            payload["vae_optimizer"] = self.vae_optimizer.state_dict()
        return payload

    def restore(self, checkpoint: dict[str, Any]) -> None:
        super().restore(checkpoint)
        if self.guidance_enabled and "vae_optimizer" in checkpoint:
            self.vae_optimizer.load_state_dict(checkpoint["vae_optimizer"])
