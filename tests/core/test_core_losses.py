"""Hand-computed expectations for the loss terms and the actor's distribution."""

from __future__ import annotations

import math

import torch

from vid2act_core.dists import TruncatedNormal, gaussian_kl
from vid2act_core.losses import continuation_loss, kl_balance_loss, lambda_returns


def test_lambda_returns_four_step_example() -> None:
    rewards = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    values = torch.tensor([[10.0, 20.0, 30.0, 40.0, 50.0]])
    discounts = torch.full((1, 4), 0.9)
    lam = 0.5
    # R_4 = v_4 = 50, then R_t = r_t + 0.9 * (0.5 * v_{t+1} + 0.5 * R_{t+1}) backwards:
    r3 = 4 + 0.9 * (0.5 * 50 + 0.5 * 50)  # 49.0
    r2 = 3 + 0.9 * (0.5 * 40 + 0.5 * r3)  # 43.05
    r1 = 2 + 0.9 * (0.5 * 30 + 0.5 * r2)  # 34.8725
    r0 = 1 + 0.9 * (0.5 * 20 + 0.5 * r1)  # 25.692625
    expected = torch.tensor([[r0, r1, r2, r3]])
    assert torch.allclose(lambda_returns(rewards, values, discounts, lam), expected)
    assert abs(r0 - 25.692625) < 1e-9


def test_lambda_returns_limits() -> None:
    rewards = torch.tensor([[1.0, 1.0, 1.0]])
    values = torch.tensor([[0.0, 5.0, 6.0, 7.0]])
    discounts = torch.ones(1, 3)
    # lambda = 0: one-step TD targets r_t + v_{t+1}; lambda = 1: Monte Carlo sum plus bootstrap.
    assert torch.allclose(lambda_returns(rewards, values, discounts, 0.0), torch.tensor([[6.0, 7.0, 8.0]]))
    assert torch.allclose(lambda_returns(rewards, values, discounts, 1.0), torch.tensor([[10.0, 9.0, 8.0]]))


def _gaussian_states(requires_grad: bool = True):
    post_mean = torch.tensor([[0.5, -1.0]], requires_grad=requires_grad)
    prior_mean = torch.tensor([[0.0, 0.0]], requires_grad=requires_grad)
    std = torch.ones(1, 2)
    post = {"mean": post_mean, "std": std}
    prior = {"mean": prior_mean, "std": std}
    return post, prior, post_mean, prior_mean


def _kl(lhs, rhs):
    return gaussian_kl(lhs["mean"], lhs["std"], rhs["mean"], rhs["std"])


def test_kl_balancing_sends_80_percent_of_the_gradient_to_the_prior() -> None:
    post, prior, post_mean, prior_mean = _gaussian_states()
    loss, value = kl_balance_loss(_kl, post, prior, balance=0.8, free_nats=0.0)
    loss.backward()
    # Unbalanced KL = 0.5 * ||post - prior||^2 -> d/dprior = prior - post, d/dpost = post - prior.
    full_prior_grad = (prior_mean - post_mean).detach()
    full_post_grad = (post_mean - prior_mean).detach()
    assert torch.allclose(prior_mean.grad, 0.8 * full_prior_grad)
    assert torch.allclose(post_mean.grad, 0.2 * full_post_grad)
    assert torch.allclose(value, torch.tensor(0.5 * (0.25 + 1.0)))
    assert torch.allclose(loss, value)


def test_free_nats_clamp_removes_the_gradient_below_the_threshold() -> None:
    post, prior, post_mean, prior_mean = _gaussian_states()
    kl_value = 0.5 * (0.25 + 1.0)  # 0.625
    loss, _ = kl_balance_loss(_kl, post, prior, balance=0.8, free_nats=1.0)
    loss.backward()
    assert torch.allclose(loss, torch.tensor(1.0))
    assert torch.count_nonzero(post_mean.grad) == 0 and torch.count_nonzero(prior_mean.grad) == 0
    post, prior, post_mean, prior_mean = _gaussian_states()
    loss, _ = kl_balance_loss(_kl, post, prior, balance=0.8, free_nats=0.5)
    loss.backward()
    assert torch.allclose(loss, torch.tensor(kl_value))
    assert torch.count_nonzero(prior_mean.grad) == 2


def test_balanced_kl_is_kl_of_the_posterior_from_the_prior_on_both_sides() -> None:
    # Unequal stds, where KL(post || prior) != KL(prior || post): N(1, 2^2) against N(0, 0.5^2).
    post_mean, post_std = torch.tensor([[1.0]], requires_grad=True), torch.tensor([[2.0]], requires_grad=True)
    prior_mean, prior_std = torch.tensor([[0.0]], requires_grad=True), torch.tensor([[0.5]], requires_grad=True)
    post, prior = {"mean": post_mean, "std": post_std}, {"mean": prior_mean, "std": prior_std}
    loss, value = kl_balance_loss(_kl, post, prior, balance=0.8, free_nats=0.0)
    # KL(N(1, 4) || N(0, 0.25)) = log(0.5 / 2) + (4 + 1) / (2 * 0.25) - 1/2; the reverse KL is about 1.3.
    by_hand = math.log(0.25) + 5 / 0.5 - 0.5
    assert abs(value.item() - by_hand) < 1e-5 and abs(loss.item() - by_hand) < 1e-5
    loss.backward()
    # d KL / d(prior mean) = (mu_prior - mu_post) / s_prior^2 = -4, d / d(post mean) = +4;
    # d / d(prior std) = 1 / s_prior - (s_post^2 + (mu_post - mu_prior)^2) / s_prior^3 = 2 - 40,
    # d / d(post std) = s_post / s_prior^2 - 1 / s_post = 8 - 0.5; the prior gets 0.8 of its side, the posterior 0.2.
    assert torch.allclose(prior_mean.grad, torch.tensor([[0.8 * -4.0]]))
    assert torch.allclose(post_mean.grad, torch.tensor([[0.2 * 4.0]]))
    assert torch.allclose(prior_std.grad, torch.tensor([[0.8 * -38.0]]))
    assert torch.allclose(post_std.grad, torch.tensor([[0.2 * 7.5]]))


def test_truncated_normal_samples_stay_in_bounds_and_carry_gradients() -> None:
    generator = torch.Generator().manual_seed(0)
    mean = torch.tensor([[0.99, -0.99, 0.0]]).repeat(20_000, 1).requires_grad_(True)
    std = torch.tensor([[2.0, 5.0, 0.1]]).repeat(20_000, 1).requires_grad_(True)
    dist = TruncatedNormal(mean, std)
    samples = dist.rsample(generator)
    assert samples.min() >= -1.0 and samples.max() <= 1.0
    assert torch.isfinite(dist.log_prob(samples)).all()
    samples.sum().backward()
    assert mean.grad.abs().sum() > 0 and std.grad.abs().sum() > 0
    # A narrow distribution centred inside the interval behaves like the untruncated normal.
    assert abs(samples[:, 2].mean().item()) < 0.01
    assert abs(samples[:, 2].std().item() - 0.1) < 0.01
    # Its density integrates to one over [-1, 1] (trapezoid rule on a fine grid).
    grid = torch.linspace(-1, 1, 4001)[:, None]
    narrow = TruncatedNormal(torch.tensor([[0.7]]), torch.tensor([[0.8]]))
    density = narrow.log_prob(grid).exp()
    assert abs(torch.trapezoid(density, grid[:, 0]).item() - 1.0) < 1e-3
    # Closed-form entropy matches a Monte Carlo estimate.
    many = TruncatedNormal(torch.full((200_000, 1), 0.7), torch.full((200_000, 1), 0.8)).rsample(generator)
    monte_carlo = -narrow.log_prob(many).mean()
    assert abs(monte_carlo.item() - narrow.entropy().item()) < 0.01


def test_continuation_loss_targets_one_minus_terminal() -> None:
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]], dtype=torch.bfloat16)
    is_terminal = torch.tensor([[False, True], [False, False]])
    # Targets 1, 0, 1, 1: -log sigmoid(x) for a continuing step, -log(1 - sigmoid(x)) for the terminal one.
    # Flipping the targets changes each term by +-x: these logits do not sum to zero, so the flip shows.
    expected = (
        math.log(1 + math.exp(-0.0)) + math.log(1 + math.exp(2.0)) + math.log(1 + math.exp(1.0)) + math.log(1 + math.exp(-0.5))
    ) / 4
    flipped = (math.log(2.0) + math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(0.5))) / 4
    assert abs(expected - flipped) > 0.5
    value = continuation_loss(logits, is_terminal)
    assert value.dtype == torch.float32
    assert abs(value.item() - expected) < 1e-6
