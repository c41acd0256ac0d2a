"""Iso-Dream's agent: behaviour learning on the decoupled imaginations.

Imagination rolls the controllable branch with the actor's actions; the non-controllable branch is
rolled forward on its own (it takes no action) from the same start, and at imagined step i the
actor attends from its controllable feature to the non-controllable features of steps i .. i+W-1
(W = `isodream.window`): it sees where the uncontrollable part of the scene is going. The same
window is rolled out from the posterior when acting. Reward and value read the controllable state.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from vid2act_core.actor_critic import Actor, ConditionFn
from vid2act_core.agent import ActMode, DreamerAgent, PolicyState
from vid2act_core.baselines.isodream_model import IsoDreamWorldModel
from vid2act_core.config import ActorCriticConfig, Config
from vid2act_core.dists import TruncatedNormal
from vid2act_core.rssm import State
from vid2act_core.world_model import Batch, WorldModelOutput


class FutureAttention(nn.Module):
    """Scaled dot-product attention from a controllable feature to a window of non-controllable ones (published sizes: 2F)."""

    def __init__(self, feature_size: int, free_size: int) -> None:
        super().__init__()
        width = 2 * feature_size
        self.query = nn.Linear(feature_size, width)
        self.key = nn.Linear(free_size, width)
        self.value = nn.Linear(free_size, width)
        self.out = nn.Linear(width, feature_size)
        self.scale = 1.0 / math.sqrt(width)

    def forward(self, feature: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """feature (N, F), window (N, W, F_free) -> (N, F)."""
        weights = torch.softmax(torch.einsum("nd,nwd->nw", self.query(feature), self.key(window)) * self.scale, -1)
        return self.out(torch.einsum("nw,nwd->nd", weights, self.value(window)))


class AttentiveActor(Actor):
    """pi(a | s + attention(s, future non-controllable window)): the condition is the flattened window."""

    def __init__(self, config: ActorCriticConfig, feature_size: int, action_dim: int, free_size: int, window: int) -> None:
        super().__init__(config, feature_size, action_dim, 0)
        self.attention = FutureAttention(feature_size, free_size)
        self.free_size, self.window = free_size, window
        self.context_size = free_size * window

    def forward(self, features: torch.Tensor, condition: torch.Tensor | None = None) -> TruncatedNormal:
        if condition is None or condition.shape[-1] != self.context_size:
            raise ValueError(f"the Iso-Dream actor expects the non-controllable window ({self.context_size} values)")
        window = condition.reshape(-1, self.window, self.free_size)
        attended = features + self.attention(features.reshape(-1, features.shape[-1]), window).reshape(features.shape)
        return super().forward(attended)


class IsoDreamAgent(DreamerAgent):
    """DreamerV2 on the two-branch world model, with the actor reading the non-controllable future."""

    def build_world_model(self) -> IsoDreamWorldModel:
        return IsoDreamWorldModel(self.config.world_model, self.action_dim, self.config.env.image_size, self.config.isodream)

    def build_extra_modules(self) -> None:
        self.actor_critic.actor = AttentiveActor(
            self.config.actor_critic, self.world_model.feature_size, self.action_dim,
            self.world_model.rssm.free.feature_size, self.config.isodream.window,
        )

    def _window(self, features: list[torch.Tensor], start: int) -> torch.Tensor:
        return torch.cat(features[start : start + self.config.isodream.window], -1)

    def imagination_condition(self, batch: Batch, output: WorldModelOutput) -> ConditionFn:
        window = self.config.isodream.window
        horizon = self.config.actor_critic.horizon
        rollout: list[torch.Tensor] = []
        step = [0]

        def condition(state: State, previous_action: torch.Tensor | None) -> torch.Tensor:
            if previous_action is None:  # the start state: roll the non-controllable branch once for all steps
                rollout[:] = self.world_model.rssm.free_rollout(state, horizon + window - 2)
                step[0] = 0
            features = self._window(rollout, step[0])
            step[0] += 1
            return features

        return condition

    def acting_condition(
        self, post: State, prior: State, obs: dict[str, torch.Tensor], policy_state: PolicyState, mode: ActMode = "explore"
    ) -> tuple[torch.Tensor | None, dict[str, Any]]:
        features = self.world_model.rssm.free_rollout(post, self.config.isodream.window - 1, sample=mode != "eval")
        return self._window(features, 0), {}
