"""DreamerV2 agent: world model + actor-critic, one update function, one acting function.

The transfer student (vid2act_core.transfer) subclasses this agent and overrides the three hooks
`extra_world_model_loss`, `imagination_condition` and `acting_condition`; the update and acting
code path is shared, so ablations switch terms off rather than fork the loop.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Literal

import torch
from torch import nn

from vid2act_core.actor_critic import ActorCritic, ConditionFn
from vid2act_core.config import Config
from vid2act_core.rssm import State, detach_state, flatten_state
from vid2act_core.world_model import Batch, WorldModel, WorldModelOutput

PolicyState = dict[str, Any]
ActMode = Literal["explore", "eval", "stochastic"]

CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
"""train.compile_mode values under which torch.compile replays CUDA graphs on CUDA."""


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the update was not applied."""


class DreamerAgent(nn.Module):
    """The online agent (the paper's DreamerV2 baseline and the base of the transfer student)."""

    def __init__(self, config: Config, action_dim: int, device: torch.device | str = "cpu", cond_dim: int = 0) -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.device = torch.device(device)
        self._world_model_updates = 0
        self.world_model = self.build_world_model()
        self.actor_critic = ActorCritic(config.actor_critic, self.world_model.feature_size, action_dim, cond_dim)
        self.build_extra_modules()
        self.to(self.device)
        if config.train.compile:
            # In-place compilation keeps parameter names, so checkpoints and teachers stay interchangeable.
            for module in (self.world_model.encoder, self.world_model.decoder, self.world_model.rssm.cell):
                module.compile(mode=config.train.compile_mode)
        wm, ac = config.world_model, config.actor_critic
        self.model_optimizer = torch.optim.Adam(self.world_model_parameters(), lr=wm.lr, eps=wm.eps)
        self.actor_optimizer = torch.optim.Adam(self.actor_critic.actor.parameters(), lr=ac.actor_lr, eps=ac.eps)
        self.critic_optimizer = torch.optim.Adam(self.actor_critic.critic.parameters(), lr=ac.critic_lr, eps=ac.eps)

    # ----- hooks for subclasses (transfer) -------------------------------------------------------
    def build_world_model(self) -> WorldModel:
        """The world model (the baselines build theirs, vid2act_core.baselines)."""
        return WorldModel(self.config.world_model, self.action_dim, self.config.env.image_size)

    def build_extra_modules(self) -> None:
        """Create modules trained with the world model (called before moving to the device)."""

    def extra_world_model_parameters(self) -> list[nn.Parameter]:
        return []

    def extra_world_model_loss(self, batch: Batch, output: WorldModelOutput) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Terms added to the world-model loss (distillation). Default: none."""
        return torch.zeros((), device=self.device), {}

    def imagination_condition(self, batch: Batch, output: WorldModelOutput) -> ConditionFn | None:
        """The actor's extra input during imagination. Default: none."""
        return None

    def acting_condition(
        self, post: State, prior: State, obs: dict[str, torch.Tensor], policy_state: PolicyState, mode: ActMode = "explore"
    ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """The actor's extra input when acting (deterministic in `eval` mode), and entries to add to the policy state. Default: none."""
        return None, {}

    def transition_extras(self, policy_state: PolicyState) -> dict[str, Any]:
        """Per-step arrays stored in the replay beside the frame (teacher features). Default: none."""
        return {}

    def acting_metrics(self, phase: str = "train") -> dict[str, float]:
        """Statistics gathered while acting since the last call (teacher selection). Default: none.

        phase: `train` (explore mode: the training interaction) or `eval` (eval and stochastic modes).
        """
        return {}

    def after_update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Further optimisation after the world-model and behaviour updates (the action VAE)."""
        return {}

    # ----- training -----------------------------------------------------------------------------
    def world_model_parameters(self) -> list[nn.Parameter]:
        return list(self.world_model.parameters()) + self.extra_world_model_parameters()

    @property
    def replays_cuda_graphs(self) -> bool:
        """Whether the compiled modules replay CUDA graphs (train.compile_mode reduce-overhead or max-autotune, on CUDA)."""
        train = self.config.train
        return train.compile and train.compile_mode in CUDA_GRAPH_MODES and self.device.type == "cuda"

    def _begin_cuda_graph_step(self) -> None:
        # A CUDA-graph replay reuses the memory of the previous replay's outputs; telling torch where an
        # update or an acting step begins lets it free that memory instead of recording new graphs.
        if self.replays_cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast when train.precision is 16 (CUDA or CPU); distributions, KL and returns stay fp32."""
        if self.config.train.precision == 16 and self.device.type in ("cuda", "cpu"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def frozen(self, module: nn.Module) -> Iterator[None]:
        """Gradients flow through `module`'s activations but its parameters collect none."""
        flags = [(param, param.requires_grad) for param in module.parameters()]
        for param, _ in flags:
            param.requires_grad_(False)
        try:
            yield
        finally:
            for param, flag in flags:
                param.requires_grad_(flag)

    @staticmethod
    def _check_finite(name: str, value: torch.Tensor) -> None:
        if not torch.isfinite(value):
            raise NonFiniteLossError(f"{name} is {value.item()}: stopping before the update is applied")

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, params: list[nn.Parameter], clip: float) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        return grad_norm.detach()

    @property
    def diagnosing(self) -> bool:
        """Whether the current world-model update computes the `diag/` statistics (every `transfer.diagnostics_every`)."""
        every = self.config.transfer.diagnostics_every
        return every > 0 and self._world_model_updates % every == 0

    def shared_student_parameters(self) -> list[nn.Parameter]:
        """Encoder and RSSM: the parameters both the world-model loss and distillation train."""
        return [p for p in (*self.world_model.encoder.parameters(), *self.world_model.rssm.parameters()) if p.requires_grad]

    def world_model_diagnostics(self, output: WorldModelOutput, model_loss: torch.Tensor, extra_loss: torch.Tensor) -> dict[str, torch.Tensor]:
        """Collapse and gradient-balance statistics (docs/method.md "Diagnostics"), without touching any gradient.

        `diag/student_deter_std`, `diag/student_stoch_std`: mean over dimensions of the std over the
        batch's frames of the student's posterior deterministic state and stochastic mean.
        `diag/grad_ratio`: |grad of the extra (distillation) loss| / |grad of the world-model loss| over
        the encoder and RSSM; 0 where the extra loss has no gradient.
        """
        with torch.no_grad():
            feature = self.world_model.rssm.mean_feature(output.posts).flatten(0, -2).float()
            deter_size = self.world_model.config.deter
            metrics = {
                "diag/student_deter_std": feature[:, :deter_size].std(0).mean(),
                "diag/student_stoch_std": feature[:, deter_size:].std(0).mean(),
            }
        if extra_loss.requires_grad:
            params = self.shared_student_parameters()
            extra_grads = torch.autograd.grad(extra_loss, params, retain_graph=True, allow_unused=True)
            model_grads = torch.autograd.grad(model_loss, params, retain_graph=True, allow_unused=True)
            extra_norm = torch.linalg.vector_norm(torch.stack([g.float().norm() for g in extra_grads if g is not None] or [torch.zeros(())]))
            model_norm = torch.linalg.vector_norm(torch.stack([g.float().norm() for g in model_grads if g is not None]))
            metrics["diag/grad_ratio"] = (extra_norm / model_norm.clamp_min(1e-12)).detach()
        else:
            metrics["diag/grad_ratio"] = torch.zeros((), device=self.device)
        return metrics

    def train_world_model(self, batch: Batch) -> tuple[WorldModelOutput, dict[str, torch.Tensor]]:
        self._begin_cuda_graph_step()
        with self.autocast():
            model_loss, output, metrics = self.world_model.loss(batch)
            extra_loss, extra_metrics = self.extra_world_model_loss(batch, output)
            total_loss = model_loss + extra_loss
        self._check_finite("world model loss", total_loss)
        metrics.update(extra_metrics)
        if self.diagnosing:
            metrics.update(self.world_model_diagnostics(output, model_loss, extra_loss))
        self._world_model_updates += 1
        metrics["model_grad_norm"] = self._step(
            self.model_optimizer, total_loss, self.world_model_parameters(), self.config.world_model.grad_clip
        )
        return output, metrics

    def train_behaviour(self, batch: Batch, output: WorldModelOutput) -> dict[str, torch.Tensor]:
        start = flatten_state(detach_state(output.posts))
        condition_fn = self.imagination_condition(batch, output)
        with self.frozen(self.world_model), self.autocast():
            actor_loss, critic_loss, metrics = self.actor_critic.loss(self.world_model, start, condition_fn)
        self._check_finite("actor loss", actor_loss)
        self._check_finite("critic loss", critic_loss)
        clip = self.config.actor_critic.grad_clip
        self.actor_optimizer.zero_grad(set_to_none=True)
        self.critic_optimizer.zero_grad(set_to_none=True)
        (actor_loss + critic_loss).backward()
        metrics["actor_grad_norm"] = torch.nn.utils.clip_grad_norm_(self.actor_critic.actor.parameters(), clip).detach()
        metrics["critic_grad_norm"] = torch.nn.utils.clip_grad_norm_(self.actor_critic.critic.parameters(), clip).detach()
        self.actor_optimizer.step()
        self.critic_optimizer.step()
        self.actor_critic.update_slow_target()
        return metrics

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One world-model update, one actor-critic update, then `after_update`. Metrics stay on the device."""
        output, metrics = self.train_world_model(batch)
        metrics.update(self.train_behaviour(batch, output))
        metrics.update(self.after_update(batch))
        return metrics

    # ----- acting -------------------------------------------------------------------------------
    def initial_policy_state(self, batch_size: int) -> PolicyState:
        return {
            "latent": self.world_model.rssm.initial(batch_size, self.device),
            "action": torch.zeros(batch_size, self.action_dim, device=self.device),
        }

    @torch.no_grad()
    def policy(self, obs: dict[str, torch.Tensor], policy_state: PolicyState | None, mode: ActMode = "explore") -> tuple[torch.Tensor, PolicyState]:
        """obs: image (B, H, W, 3) uint8, is_first (B,) bool, on the agent's device.

        mode: explore (sample latent and action), stochastic (evaluate with sampled actions),
        eval (deterministic: latent mean/mode and the actor's mode).
        """
        batch_size = obs["image"].shape[0]
        if policy_state is None:
            policy_state = self.initial_policy_state(batch_size)
        self._begin_cuda_graph_step()
        embed = self.world_model.embed(obs["image"])
        post, prior = self.world_model.rssm.obs_step(
            policy_state["latent"], policy_state["action"], embed, obs["is_first"], sample=mode != "eval"
        )
        condition, extra_state = self.acting_condition(post, prior, obs, policy_state, mode)
        dist = self.actor_critic.actor(self.world_model.rssm.feature(post), condition)
        action = dist.mode() if mode == "eval" else dist.sample()
        if self.replays_cuda_graphs:
            # The next step's replay overwrites this one's outputs; the carried latent must outlive it.
            post = {key: value.clone() for key, value in post.items()}
        new_state = dict(policy_state)
        new_state.update(extra_state)
        new_state.update(latent=post, action=action)
        return action, new_state

    # ----- checkpoints --------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to resume training: weights, optimiser states, update counter."""
        return {
            "model": self.state_dict(),
            "model_optimizer": self.model_optimizer.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "num_updates": self.actor_critic.num_updates,
        }

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.load_state_dict(checkpoint["model"])
        self.model_optimizer.load_state_dict(checkpoint["model_optimizer"])
        self.actor_optimizer.load_state_dict(checkpoint["actor_optimizer"])
        self.critic_optimizer.load_state_dict(checkpoint["critic_optimizer"])
        self.actor_critic.num_updates = int(checkpoint["num_updates"])
