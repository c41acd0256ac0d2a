"""What the two-RSSM baselines (APV, Iso-Dream) share.

Their state holds two RSSM states in one dict, one of them under a key prefix (`split_state` /
`merge_state`); their composite RSSM shows the other one's interface to the agent
(`CompositeRSSM`), and their world models reuse `WorldModel`'s methods that only read `encoder`,
`rssm`, the heads and `open_loop` (`CompositeWorldModel`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from vid2act_core.config_schema import WorldModelConfig
from vid2act_core.losses import continuation_loss
from vid2act_core.rssm import RSSM, State
from vid2act_core.world_model import Batch, WorldModel


def split_state(state: State, prefix: str) -> tuple[State, State]:
    """(the `prefix`ed entries without the prefix, the other entries)."""
    inner = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    outer = {key: value for key, value in state.items() if not key.startswith(prefix)}
    return inner, outer


def merge_state(inner: State, outer: State, prefix: str) -> State:
    """The inverse of `split_state`: `outer` as is, `inner` under `prefix`."""
    return {**outer, **{prefix + key: value for key, value in inner.items()}}


class CompositeRSSM(nn.Module, ABC):
    """The RSSM interface over a state of two RSSM states: the inner one's keys under `prefix`, the
    outer one's unprefixed. Features, KL, the recurrent cell and the config are the outer RSSM's (the
    one the heads, the actor and the critic read); subclasses name the two (`parts`) and write the steps."""

    prefix: str
    feature = staticmethod(RSSM.feature)
    mean_feature = staticmethod(RSSM.mean_feature)
    reset_where_first = staticmethod(RSSM.reset_where_first)

    @abstractmethod
    def parts(self) -> tuple[RSSM, RSSM]:
        """(inner, outer)."""

    @property
    def config(self) -> WorldModelConfig:
        return self.parts()[1].config

    @property
    def feature_size(self) -> int:
        return self.parts()[1].feature_size

    @property
    def cell(self) -> nn.Module:
        return self.parts()[1].cell

    def initial(self, batch_size: int, device: torch.device | str, dtype: torch.dtype = torch.float32) -> State:
        inner, outer = self.parts()
        return merge_state(inner.initial(batch_size, device, dtype), outer.initial(batch_size, device, dtype), self.prefix)

    def kl(self, lhs: State, rhs: State) -> torch.Tensor:
        """KL of the outer states."""
        outer = self.parts()[1]
        return outer.kl(split_state(lhs, self.prefix)[1], split_state(rhs, self.prefix)[1])


class CompositeWorldModel(nn.Module):
    """Base of a world model over a composite RSSM: `WorldModel`'s feature size, embedding, filtering,
    heads and open-loop error, unchanged. Subclasses set config, encoder, rssm, decoder, reward_head
    and cont_head, and write their own loss (and `open_loop` where decoding differs)."""

    feature_size = WorldModel.feature_size
    embed = WorldModel.embed
    observe = WorldModel.observe
    reward = WorldModel.reward
    continuation = WorldModel.continuation
    open_loop_error = WorldModel.open_loop_error

    def with_continuation(
        self, loss: torch.Tensor, features: torch.Tensor, batch: Batch, metrics: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """`loss` plus cont_scale times the continuation term where the model has the head; logs
        `cont_loss` (with the head) and `model_loss` (the total) into `metrics`."""
        if self.cont_head is not None:
            cont_nll = continuation_loss(self.cont_head(features).squeeze(-1), batch["is_terminal"])
            loss = loss + self.config.cont_scale * cont_nll
            metrics["cont_loss"] = cont_nll.detach()
        metrics["model_loss"] = loss.detach()
        return loss
