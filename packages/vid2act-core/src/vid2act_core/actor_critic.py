"""Behaviour learning in imagination: truncated-normal actor, critic with a slow target."""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from vid2act_core.config import ActorCriticConfig
from vid2act_core.dists import TruncatedNormal
from vid2act_core.losses import lambda_returns
from vid2act_core.nets import MLP
from vid2act_core.rssm import State
from vid2act_core.world_model import WorldModel

ConditionFn = Callable[[State, "torch.Tensor | None"], torch.Tensor]
"""(imagined student state, the action that led to it or None at the start) -> the actor's extra
input (N, cond_dim). Called once per imagined step, in order, so it may keep its own state (the
teachers' imagined states for per-step task selection)."""


class Actor(nn.Module):
    """pi(a | feature, condition): a truncated normal on [-1, 1] per action dimension."""

    def __init__(self, config: ActorCriticConfig, feature_size: int, action_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.config = config
        self.cond_dim = cond_dim
        self.net = MLP(feature_size + cond_dim, 2 * action_dim, config.units, config.actor_layers)

    def forward(self, features: torch.Tensor, condition: torch.Tensor | None = None) -> TruncatedNormal:
        if self.cond_dim:
            if condition is None:
                raise ValueError(f"this actor expects a conditioning input of size {self.cond_dim}")
            features = torch.cat([features, condition], -1)
        # The distribution in fp32 even under bf16 autocast (log-probabilities and entropies).
        mean, std = self.net(features).float().chunk(2, -1)
        mean = torch.tanh(mean)
        std = 2 * torch.sigmoid((std + self.config.actor_init_std) / 2) + self.config.actor_min_std
        return TruncatedNormal(mean, std, -1.0, 1.0)


class ActorCritic(nn.Module):
    """Actor, critic and slow critic trained on imagined rollouts of a world model."""

    def __init__(self, config: ActorCriticConfig, feature_size: int, action_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.config = config
        self.actor = Actor(config, feature_size, action_dim, cond_dim)
        self.critic = MLP(feature_size, 1, config.units, config.critic_layers)
        self.slow_critic = copy.deepcopy(self.critic)
        self.slow_critic.requires_grad_(False)
        self.num_updates = 0
        """Updates so far (a Python int: the schedule never waits on the device)."""

    def imagine(
        self, world_model: WorldModel, start: State, condition_fn: ConditionFn | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Roll the actor through the world model's prior for H steps from flattened start states (N, ...).

        Returns features (N, H+1, F), actions (N, H, A), actor entropies (N, H) and the log
        probabilities of the (detached) sampled actions (N, H).
        """
        state = start
        features = [world_model.rssm.feature(state)]
        actions, entropies, log_probs = [], [], []
        previous_action = None
        for _ in range(self.config.horizon):
            condition = None
            if condition_fn is not None:
                with torch.no_grad():
                    condition = condition_fn(state, previous_action)
            dist = self.actor(features[-1].detach(), condition)
            action = dist.rsample()
            state = world_model.rssm.img_step(state, action, sample=True)
            features.append(world_model.rssm.feature(state))
            actions.append(action)
            previous_action = action.detach()
            entropies.append(dist.entropy())
            log_probs.append(dist.log_prob(action.detach()))
        stacked = (torch.stack(features, 1), torch.stack(actions, 1), torch.stack(entropies, 1), torch.stack(log_probs, 1))
        return stacked

    def loss(
        self, world_model: WorldModel, start: State, condition_fn: ConditionFn | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Actor and critic losses on one imagined batch (the world model is not updated here)."""
        config = self.config
        features, _, entropies, log_probs = self.imagine(world_model, start, condition_fn)
        # Rewards, values, discounts and returns in fp32 even under bf16 autocast.
        rewards = world_model.reward(features[:, 1:])
        continuation = world_model.continuation(features[:, 1:])
        discounts = config.discount * (continuation if continuation is not None else torch.ones_like(rewards))
        # The slow critic's parameters are frozen, but its input keeps its gradient: with dynamics
        # backpropagation the bootstrap values pass the long-horizon signal back into the actions.
        target_values = self.slow_critic(features).squeeze(-1).float()
        returns = lambda_returns(rewards, target_values, discounts, config.lambda_)
        with torch.no_grad():
            weights = torch.cumprod(torch.cat([torch.ones_like(discounts[:, :1]), discounts[:, :-1]], 1), 1)
            # A start state that is itself terminal (windows may cross episode ends) gets no weight:
            # DreamerV2 weights rollouts by the start's 1 - is_terminal, here its predicted continuation.
            start_continuation = world_model.continuation(features[:, :1])
            if start_continuation is not None:
                weights = weights * start_continuation
        if config.actor_grad == "dynamics":
            objective = returns
        else:
            baseline = self.critic(features[:, :-1].detach()).squeeze(-1).float()
            advantage = (returns - baseline).detach()
            objective = log_probs * advantage
        actor_loss = -(weights * (objective + config.entropy * entropies)).mean()
        values = self.critic(features[:, :-1].detach()).squeeze(-1).float()
        critic_loss = 0.5 * (weights * (values - returns.detach()).square()).mean()
        metrics = {
            "actor_loss": actor_loss.detach(),
            "critic_loss": critic_loss.detach(),
            "actor_entropy": entropies.mean().detach(),
            "imagined_reward": rewards.mean().detach(),
            "imagined_return": returns.mean().detach(),
            "value": values.mean().detach(),
        }
        return actor_loss, critic_loss, metrics

    @torch.no_grad()
    def update_slow_target(self) -> None:
        """Call once per update; copies the critic into the slow target on schedule."""
        if self.num_updates % self.config.slow_target_every == 0:
            fraction = self.config.slow_target_fraction
            for slow, fast in zip(self.slow_critic.parameters(), self.critic.parameters()):
                slow.mul_(1 - fraction).add_(fast, alpha=fraction)
        self.num_updates += 1
