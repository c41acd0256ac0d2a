"""Recurrent state-space model with Gaussian or categorical stochastic latents.

A state is a dict of tensors with the same leading shape:
    deter (..., D)               GRU state
    stoch (..., S)               stochastic latent (flattened one-hots for categorical latents)
    mean, std (..., S)           Gaussian latents, or
    logits (..., V, C)           categorical latents
`feature(state)` = concat(deter, stoch) is what heads, the actor and distillation read.

The hot loop is `observe`: the parts of the input layers that depend only on the action or the
image embedding are computed for all time steps at once, outside the recurrence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vid2act_core.config import WorldModelConfig
from vid2act_core.dists import categorical_kl, gaussian_kl, straight_through_onehot

State = dict[str, torch.Tensor]


class LayerNormGRUCell(nn.Module):
    """GRU cell with layer normalisation on the gates (DreamerV2)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.linear = nn.Linear(input_size + hidden_size, 3 * hidden_size, bias=False)
        self.norm = nn.LayerNorm(3 * hidden_size)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        parts = self.norm(self.linear(torch.cat([inputs, state], -1)))
        reset, candidate, update = parts.chunk(3, -1)
        reset = torch.sigmoid(reset)
        candidate = torch.tanh(reset * candidate)
        update = torch.sigmoid(update - 1)
        return update * candidate + (1 - update) * state


class RSSM(nn.Module):
    """q(s_t | s_{t-1}, a_{t-1}, o_t) and p(s_t | s_{t-1}, a_{t-1}) of Eq. 1."""

    skip_idle_resets: bool = True
    """`observe` skips the reset masking at steps where no sequence starts (False: mask every step)."""

    def __init__(self, config: WorldModelConfig, action_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.categorical = config.latent == "categorical"
        self.stoch_size = config.stoch * config.classes if self.categorical else config.stoch
        stats_size = self.stoch_size if self.categorical else 2 * config.stoch
        hidden = config.hidden
        self.img_in_stoch = nn.Linear(self.stoch_size, hidden)
        self.img_in_action = nn.Linear(action_dim, hidden, bias=False)
        self.img_in_norm = nn.LayerNorm(hidden)
        self.cell = LayerNormGRUCell(hidden, config.deter)
        self.img_out = nn.Sequential(nn.Linear(config.deter, hidden), nn.LayerNorm(hidden), nn.ELU())
        self.img_stats = nn.Linear(hidden, stats_size)
        self.obs_in_deter = nn.Linear(config.deter, hidden)
        self.obs_in_embed = nn.Linear(embed_dim, hidden, bias=False)
        self.obs_out = nn.Sequential(nn.LayerNorm(hidden), nn.ELU())
        self.obs_stats = nn.Linear(hidden, stats_size)

    @property
    def feature_size(self) -> int:
        return self.config.deter + self.stoch_size

    def initial(self, batch_size: int, device: torch.device | str, dtype: torch.dtype = torch.float32) -> State:
        """The all-zero state every episode starts from."""
        return self.initial_for(self.config, batch_size, device, dtype)

    @staticmethod
    def initial_for(config: WorldModelConfig, batch_size: int, device: torch.device | str, dtype: torch.dtype = torch.float32) -> State:
        """The all-zero state of an RSSM built from `config` (no module needed)."""
        categorical = config.latent == "categorical"
        stoch_size = config.stoch * config.classes if categorical else config.stoch
        deter = torch.zeros(batch_size, config.deter, device=device, dtype=dtype)
        stoch = torch.zeros(batch_size, stoch_size, device=device, dtype=dtype)
        state = {"deter": deter, "stoch": stoch}
        if categorical:
            state["logits"] = torch.zeros(batch_size, config.stoch, config.classes, device=device, dtype=dtype)
        else:
            state["mean"] = torch.zeros_like(stoch)
            state["std"] = torch.ones_like(stoch)
        return state

    @staticmethod
    def feature(state: State) -> torch.Tensor:
        return torch.cat([state["deter"], state["stoch"]], -1)

    @staticmethod
    def mean_feature(state: State) -> torch.Tensor:
        """concat(deter, E[stoch]): the distribution mean (Gaussian mean or categorical probabilities), not a sample."""
        if "mean" in state:
            expected = state["mean"]
        else:
            probs = F.softmax(state["logits"].float(), -1)
            expected = probs.reshape(*probs.shape[:-2], -1)
        return torch.cat([state["deter"].float(), expected.float()], -1)

    def _stats(self, raw: torch.Tensor) -> State:
        # Distribution parameters in fp32 even under bf16 autocast: KL and log-probabilities need the range.
        raw = raw.float()
        if self.categorical:
            logits = raw.reshape(*raw.shape[:-1], self.config.stoch, self.config.classes)
            if self.config.unimix > 0:
                probs = F.softmax(logits, -1)
                probs = (1 - self.config.unimix) * probs + self.config.unimix / self.config.classes
                logits = torch.log(probs)
            return {"logits": logits}
        mean, std = raw.chunk(2, -1)
        return {"mean": mean, "std": F.softplus(std) + self.config.min_std}

    def _stoch(self, stats: State, sample: bool) -> torch.Tensor:
        if self.categorical:
            onehot = straight_through_onehot(stats["logits"], sample=sample)
            return onehot.reshape(*onehot.shape[:-2], self.stoch_size)
        if not sample:
            return stats["mean"]
        return stats["mean"] + stats["std"] * torch.randn_like(stats["std"])

    def project_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """The action's share of the transition input; (..., A) -> (..., hidden)."""
        return self.img_in_action(actions)

    def project_embeds(self, embeds: torch.Tensor) -> torch.Tensor:
        """The image embedding's share of the posterior input; (..., E) -> (..., hidden)."""
        return self.obs_in_embed(embeds)

    def img_step(self, prev_state: State, action: torch.Tensor, sample: bool = True, projected: bool = False) -> State:
        """Prior p(s_t | s_{t-1}, a_{t-1}); `action` may be pre-projected with project_actions."""
        action_part = action if projected else self.img_in_action(action)
        inputs = F.elu(self.img_in_norm(self.img_in_stoch(prev_state["stoch"]) + action_part))
        deter = self.cell(inputs, prev_state["deter"])
        stats = self._stats(self.img_stats(self.img_out(deter)))
        return {"deter": deter, "stoch": self._stoch(stats, sample), **stats}

    def post_step(self, prior: State, embed: torch.Tensor, sample: bool = True, projected: bool = False) -> State:
        """Posterior q(s_t | h_t, o_t) given the prior's deterministic state and the embedding."""
        embed_part = embed if projected else self.obs_in_embed(embed)
        hidden = self.obs_out(self.obs_in_deter(prior["deter"]) + embed_part)
        stats = self._stats(self.obs_stats(hidden))
        return {"deter": prior["deter"], "stoch": self._stoch(stats, sample), **stats}

    @staticmethod
    def reset_where_first(state: State, action: torch.Tensor, is_first: torch.Tensor) -> tuple[State, torch.Tensor]:
        """Zero the state and previous action of batch elements that start a new episode."""
        keep = (~is_first).to(action.dtype).unsqueeze(-1)
        reset_state = {}
        for key, value in state.items():
            mask = keep.reshape(keep.shape + (1,) * (value.dim() - keep.dim()))
            if key == "std":
                reset_state[key] = value * mask + (1 - mask)
            else:
                reset_state[key] = value * mask
        return reset_state, action * keep

    def obs_step(
        self, prev_state: State, prev_action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor, sample: bool = True
    ) -> tuple[State, State]:
        """One filtering step: (posterior, prior) at t from the state and action at t-1 and o_t."""
        prev_state, prev_action = self.reset_where_first(prev_state, prev_action, is_first)
        prior = self.img_step(prev_state, prev_action, sample=sample)
        post = self.post_step(prior, embed, sample=sample)
        return post, prior

    def observe(
        self,
        embeds: torch.Tensor,
        actions: torch.Tensor,
        is_first: torch.Tensor,
        state: State | None = None,
        sample: bool = True,
    ) -> tuple[State, State]:
        """Filter a batch of sequences.

        embeds: (B, T, E); actions: (B, T, A) where actions[:, t] led to o_t; is_first: (B, T) bool.
        Returns posteriors and priors, each a State with leading shape (B, T).
        """
        batch, length = embeds.shape[:2]
        if state is None:
            state = self.initial(batch, embeds.device, embeds.dtype)
        keep = (~is_first).to(actions.dtype).unsqueeze(-1)
        action_parts = self.project_actions(actions * keep)
        embed_parts = self.project_embeds(embeds)
        # One host read per sequence batch instead of 4 masking products (and their backward) per step:
        # steps where no sequence starts an episode need no reset (multiplying by 1 changes nothing).
        starts = is_first.any(0).tolist() if self.skip_idle_resets else [True] * length
        posts: list[State] = []
        priors: list[State] = []
        for t in range(length):
            if starts[t]:
                state, _ = self.reset_where_first(state, actions[:, t], is_first[:, t])
            prior = self.img_step(state, action_parts[:, t], sample=sample, projected=True)
            state = self.post_step(prior, embed_parts[:, t], sample=sample, projected=True)
            posts.append(state)
            priors.append(prior)
        return stack_states(posts, 1), stack_states(priors, 1)

    def kl(self, lhs: State, rhs: State) -> torch.Tensor:
        """KL(lhs || rhs) per element of the leading shape."""
        if self.categorical:
            return categorical_kl(lhs["logits"].float(), rhs["logits"].float())
        return gaussian_kl(lhs["mean"].float(), lhs["std"].float(), rhs["mean"].float(), rhs["std"].float())


def stack_states(states: list[State], dim: int) -> State:
    return {key: torch.stack([state[key] for state in states], dim) for key in states[0]}


def detach_state(state: State) -> State:
    return {key: value.detach() for key, value in state.items()}


def flatten_state(state: State, dims: int = 2) -> State:
    """Merge the first `dims` leading axes of every entry."""
    return {key: value.reshape(-1, *value.shape[dims:]) for key, value in state.items()}

