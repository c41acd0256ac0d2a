"""Loss terms with hand-checkable definitions: KL balancing with free nats, continuation, lambda returns."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from vid2act_core.rssm import State, detach_state


def kl_balance_loss(
    kl_fn: Callable[[State, State], torch.Tensor],
    post: State,
    prior: State,
    balance: float,
    free_nats: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DreamerV2's balanced KL: `balance` of the gradient trains the prior, the rest the posterior.

    Free nats apply to the batch-mean KL of each side: below `free_nats` that side has no gradient.
    Returns (loss, mean KL value for logging).
    """
    kl_prior_side = kl_fn(detach_state(post), prior).mean()
    kl_post_side = kl_fn(post, detach_state(prior)).mean()
    free = torch.as_tensor(free_nats, dtype=kl_prior_side.dtype, device=kl_prior_side.device)
    loss = balance * torch.maximum(kl_prior_side, free) + (1 - balance) * torch.maximum(kl_post_side, free)
    return loss, kl_prior_side.detach()


def continuation_loss(logits: torch.Tensor, is_terminal: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of continuation logits against 1 - is_terminal, in float32.

    A terminal step (the task ended, discount 0) has target 0; a step that only ends the episode by
    the time limit (is_last alone) still continues (target 1).
    """
    return F.binary_cross_entropy_with_logits(logits.float(), 1.0 - is_terminal.float())


def lambda_returns(
    rewards: torch.Tensor, values: torch.Tensor, discounts: torch.Tensor, lambda_: float
) -> torch.Tensor:
    """TD(lambda) targets along axis 1.

    rewards, discounts: (B, H) for the transitions t -> t+1; values: (B, H+1) with values[:, t] = v(s_t).
    R_t = rewards_t + discounts_t * ((1 - lambda) * values_{t+1} + lambda * R_{t+1}),  R_H = values_H.
    Returns (B, H).
    """
    horizon = rewards.shape[1]
    if values.shape[1] != horizon + 1:
        raise ValueError(f"values must have horizon + 1 = {horizon + 1} steps, got {values.shape[1]}")
    next_return = values[:, -1]
    returns = []
    for t in reversed(range(horizon)):
        next_return = rewards[:, t] + discounts[:, t] * ((1 - lambda_) * values[:, t + 1] + lambda_ * next_return)
        returns.append(next_return)
    return torch.stack(returns[::-1], 1)
