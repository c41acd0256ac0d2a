"""An RSSM without an action input: the prior p(s_t | s_{t-1}) of a latent video prediction model.

APV pretrains it on videos (actions dropped); Iso-Dream uses it as the non-controllable branch. It
has no action layer at all: every method accepts the action argument of `RSSM`'s signatures and
ignores it, so code written for `RSSM` runs unchanged and the output cannot depend on actions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vid2act_core.config_schema import WorldModelConfig
from vid2act_core.rssm import RSSM, State, stack_states


class ActionFreeRSSM(RSSM):
    """q(s_t | s_{t-1}, o_t) and p(s_t | s_{t-1}): the RSSM of Eq. 1 with the action removed."""

    def __init__(self, config: WorldModelConfig, embed_dim: int) -> None:
        super().__init__(config, 1, embed_dim)
        del self.img_in_action
        self.action_dim = 0

    def project_actions(self, actions: torch.Tensor) -> torch.Tensor:
        raise TypeError("an action-free RSSM has no action input")

    def _reset(self, state: State, is_first: torch.Tensor) -> State:
        dummy = torch.zeros(*is_first.shape, 1, device=state["deter"].device, dtype=state["deter"].dtype)
        reset, _ = self.reset_where_first(state, dummy, is_first)
        return reset

    def img_step(self, prev_state: State, action: torch.Tensor | None = None, sample: bool = True, projected: bool = False) -> State:
        """Prior p(s_t | s_{t-1}); `action` is ignored."""
        inputs = F.elu(self.img_in_norm(self.img_in_stoch(prev_state["stoch"])))
        deter = self.cell(inputs, prev_state["deter"])
        stats = self._stats(self.img_stats(self.img_out(deter)))
        return {"deter": deter, "stoch": self._stoch(stats, sample), **stats}

    def obs_step(
        self, prev_state: State, prev_action: torch.Tensor | None, embed: torch.Tensor, is_first: torch.Tensor, sample: bool = True
    ) -> tuple[State, State]:
        """(posterior, prior) at t from the state at t-1 and o_t; `prev_action` is ignored."""
        prior = self.img_step(self._reset(prev_state, is_first), sample=sample)
        return self.post_step(prior, embed, sample=sample), prior

    def observe(
        self,
        embeds: torch.Tensor,
        actions: torch.Tensor | None,
        is_first: torch.Tensor,
        state: State | None = None,
        sample: bool = True,
    ) -> tuple[State, State]:
        """Filter (B, T, E) embeddings; `actions` is ignored. Returns posteriors and priors (B, T, ...)."""
        batch, length = embeds.shape[:2]
        if state is None:
            state = self.initial(batch, embeds.device, embeds.dtype)
        embed_parts = self.project_embeds(embeds)
        posts: list[State] = []
        priors: list[State] = []
        for t in range(length):
            prior = self.img_step(self._reset(state, is_first[:, t]), sample=sample)
            state = self.post_step(prior, embed_parts[:, t], sample=sample, projected=True)
            posts.append(state)
            priors.append(prior)
        return stack_states(posts, 1), stack_states(priors, 1)
