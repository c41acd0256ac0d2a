"""A trained state expert as a deterministic torch actor, independent of stable-baselines3.

The stored weights are those of SB3's SAC actor (`latent_pi.*`, `mu.*`); acting
deterministically is `tanh(mu(latent_pi(state)))`, exactly SB3's `predict(deterministic=True)`
for an action space of [-1, 1]. Loading needs only safetensors and torch: nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

ACTOR_KEY_PREFIXES: tuple[str, ...] = ("latent_pi.", "mu.")
"""The SB3 SAC actor parameters that deterministic acting needs (log_std is dropped)."""


class StateActor(nn.Module):
    """MLP (ReLU) over the flattened DMC state, then a linear mean squashed by tanh."""

    def __init__(self, state_dim: int, action_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = state_dim
        for size in hidden_sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            width = int(size)
        self.latent_pi = nn.Sequential(*layers)
        self.mu = nn.Linear(width, action_dim)
        self.state_dim = state_dim
        self.action_dim = action_dim

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """Deterministic action in [-1, 1] for a batch of states (B, state_dim)."""
        return torch.tanh(self.mu(self.latent_pi(state)))


def actor_weights_from_sb3(sac_model: Any) -> dict[str, torch.Tensor]:
    """The deterministic-acting weights of an SB3 SAC model, as contiguous CPU tensors."""
    state = sac_model.policy.actor.state_dict()
    return {
        key: value.detach().cpu().contiguous()
        for key, value in state.items()
        if key.startswith(ACTOR_KEY_PREFIXES)
    }


def build_actor(weights: Mapping[str, torch.Tensor], hidden_sizes: Sequence[int]) -> StateActor:
    """A StateActor holding `weights` (strict: missing or unexpected keys raise)."""
    first = weights["latent_pi.0.weight"] if hidden_sizes else weights["mu.weight"]
    actor = StateActor(int(first.shape[1]), int(weights["mu.weight"].shape[0]), hidden_sizes)
    actor.load_state_dict(dict(weights), strict=True)
    actor.eval()
    return actor


class StateExpertPolicy:
    """A vid2act `Policy` acting from `obs["state"]` with a StateActor (for pixel collection)."""

    def __init__(self, actor: StateActor, name: str) -> None:
        self.actor = actor
        self.name = name

    def reset(self) -> None:
        """Stateless: nothing to reset between episodes."""

    def act(self, state: np.ndarray) -> np.ndarray:
        """Deterministic action for one flattened state vector."""
        vector = np.asarray(state, dtype=np.float32).reshape(1, -1)
        if vector.shape[1] != self.actor.state_dim:
            raise ValueError(f"expert {self.name!r} expects a state of size {self.actor.state_dim}, got {vector.shape[1]}")
        with torch.no_grad():
            return self.actor(torch.from_numpy(vector))[0].numpy().astype(np.float32)

    def __call__(self, obs: Mapping[str, Any]) -> np.ndarray:
        return self.act(obs["state"])
