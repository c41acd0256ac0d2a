"""Core paths no other test runs: categorical and Gaussian (std != 1) KL, REINFORCE, mid-sequence resets, DDP averaging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributions import Normal, OneHotCategorical, kl_divergence

from vid2act_core.actor_critic import ActorCritic
from vid2act_core.config import preset
from vid2act_core.dists import categorical_kl, gaussian_kl
from vid2act_core.losses import lambda_returns
from vid2act_core.rssm import RSSM, flatten_state
from vid2act_core.world_model import WorldModel


def test_categorical_kl_equals_torch_distributions_summed_over_variables() -> None:
    torch.manual_seed(0)
    logits_a, logits_b = torch.randn(5, 3, 4, 6), torch.randn(5, 3, 4, 6)
    expected = kl_divergence(OneHotCategorical(logits=logits_a), OneHotCategorical(logits=logits_b)).sum(-1)
    assert torch.allclose(categorical_kl(logits_a, logits_b), expected, atol=1e-6)
    assert torch.allclose(categorical_kl(logits_a, logits_a), torch.zeros(5, 3), atol=1e-6)


def test_gaussian_kl_with_unequal_stds_equals_torch_distributions() -> None:
    torch.manual_seed(1)
    mean_a, mean_b = torch.randn(7, 5), torch.randn(7, 5)
    std_a, std_b = torch.rand(7, 5) * 2 + 0.1, torch.rand(7, 5) * 0.5 + 0.05
    expected = kl_divergence(Normal(mean_a, std_a), Normal(mean_b, std_b)).sum(-1)
    assert torch.allclose(gaussian_kl(mean_a, std_a, mean_b, std_b), expected, rtol=1e-5, atol=1e-5)
    # One number by hand: KL(N(1, 2^2) || N(0, 0.5^2)) = log(0.5/2) + (4 + 1) / (2 * 0.25) - 1/2.
    by_hand = np.log(0.25) + 5 / 0.5 - 0.5
    assert abs(gaussian_kl(torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([0.5])).item() - by_hand) < 1e-5


def test_rssm_resets_at_a_mid_sequence_is_first() -> None:
    torch.manual_seed(2)
    for latent in ("gaussian", "categorical"):
        config = preset("tiny").world_model
        config.latent = latent
        rssm = RSSM(config, action_dim=3, embed_dim=16)
        embeds, actions = torch.randn(2, 9, 16), torch.rand(2, 9, 3) * 2 - 1
        is_first = torch.zeros(2, 9, dtype=torch.bool)
        is_first[:, 0] = True
        is_first[0, 5] = True  # sequence 0 holds two episodes
        posts, priors = rssm.observe(embeds, actions, is_first, sample=False)
        # From step 5 on, sequence 0 equals the second episode filtered on its own ...
        alone_posts, alone_priors = rssm.observe(embeds[:1, 5:], actions[:1, 5:], is_first[:1, 5:], sample=False)
        assert torch.allclose(RSSM.feature(posts)[0, 5:], RSSM.feature(alone_posts)[0], atol=1e-6), latent
        assert torch.allclose(RSSM.feature(priors)[0, 5:], RSSM.feature(alone_priors)[0], atol=1e-6), latent
        # ... whatever the action stored at the reset step, while sequence 1 keeps its history.
        changed = actions.clone()
        changed[0, 5] = 1.0
        changed_posts, _ = rssm.observe(embeds, changed, is_first, sample=False)
        assert torch.allclose(RSSM.feature(changed_posts), RSSM.feature(posts), atol=1e-6), latent
        assert not torch.allclose(RSSM.feature(posts)[1, 5:], RSSM.feature(alone_posts)[0], atol=1e-3), latent


def test_reinforce_actor_gradient_is_the_score_function_with_a_detached_advantage() -> None:
    torch.manual_seed(3)
    config = preset("tiny")
    config.actor_critic.actor_grad = "reinforce"
    world_model = WorldModel(config.world_model, 2)
    actor_critic = ActorCritic(config.actor_critic, world_model.feature_size, 2)
    start = flatten_state(world_model.rssm.initial(6, "cpu"), 1)
    start = {key: value + 0.1 * torch.randn_like(value) for key, value in start.items()}

    torch.manual_seed(4)
    actor_loss, _, _ = actor_critic.loss(world_model, start)
    actor_loss.backward()
    actor_grads = [p.grad.clone() for p in actor_critic.actor.parameters()]
    # No gradient flows through the dynamics, reward or critic into the world model.
    assert all(p.grad is None or not p.grad.any() for p in world_model.parameters())

    # By hand, from the same imagined rollout: -mean(w * (log pi(a) * (R - v) + eta * H)).
    actor_critic.zero_grad(set_to_none=True)
    torch.manual_seed(4)
    features, _, entropies, log_probs = actor_critic.imagine(world_model, start)
    with torch.no_grad():
        rewards = world_model.reward(features[:, 1:])
        discounts = config.actor_critic.discount * torch.ones_like(rewards)
        returns = lambda_returns(rewards, actor_critic.slow_critic(features).squeeze(-1), discounts, config.actor_critic.lambda_)
        advantage = returns - actor_critic.critic(features[:, :-1]).squeeze(-1)
        weights = torch.cumprod(torch.cat([torch.ones_like(discounts[:, :1]), discounts[:, :-1]], 1), 1)
    by_hand = -(weights * (log_probs * advantage + config.actor_critic.entropy * entropies)).mean()
    assert torch.allclose(by_hand, actor_loss, atol=1e-6)
    by_hand.backward()
    for grad, param in zip(actor_grads, actor_critic.actor.parameters()):
        assert torch.allclose(grad, param.grad, atol=1e-6)

    # Dynamics backpropagation is a different gradient (the test above can tell them apart).
    config.actor_critic.actor_grad = "dynamics"
    actor_critic.zero_grad(set_to_none=True)
    torch.manual_seed(4)
    actor_critic.loss(world_model, start)[0].backward()
    assert any(not torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(actor_grads, actor_critic.actor.parameters()))


def test_lambda_returns_bootstrap_from_the_slow_critic_and_train_the_online_one() -> None:
    torch.manual_seed(5)
    config = preset("tiny")
    world_model = WorldModel(config.world_model, 2)
    actor_critic = ActorCritic(config.actor_critic, world_model.feature_size, 2)
    # A fresh slow critic is an exact copy of the critic, where the two cannot be told apart: move it away.
    with torch.no_grad():
        for param in actor_critic.slow_critic.parameters():
            param.add_(0.5 * torch.randn_like(param))
    start = flatten_state(world_model.rssm.initial(6, "cpu"), 1)
    start = {key: value + 0.1 * torch.randn_like(value) for key, value in start.items()}
    torch.manual_seed(6)
    _, critic_loss, metrics = actor_critic.loss(world_model, start)

    torch.manual_seed(6)
    features, _, _, _ = actor_critic.imagine(world_model, start)

    def by_hand(bootstrap: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """(critic loss, mean return) with lambda-returns bootstrapped from `bootstrap` (no continuation head in tiny)."""
        with torch.no_grad():
            rewards = world_model.reward(features[:, 1:])
            discounts = config.actor_critic.discount * torch.ones_like(rewards)
            returns = lambda_returns(rewards, bootstrap(features).squeeze(-1), discounts, config.actor_critic.lambda_)
            weights = torch.cumprod(torch.cat([torch.ones_like(discounts[:, :1]), discounts[:, :-1]], 1), 1)
            values = actor_critic.critic(features[:, :-1]).squeeze(-1)
        return 0.5 * (weights * (values - returns).square()).mean(), returns.mean()

    assert world_model.continuation(features) is None
    slow_loss, slow_return = by_hand(actor_critic.slow_critic)
    online_loss, online_return = by_hand(actor_critic.critic)
    assert torch.allclose(critic_loss, slow_loss, atol=1e-6) and torch.allclose(metrics["imagined_return"], slow_return, atol=1e-6)
    assert not torch.allclose(slow_loss, online_loss, atol=1e-3) and not torch.allclose(slow_return, online_return, atol=1e-3)


# ----- data-parallel gradient averaging (2 gloo processes) ---------------------------------------


class _FixedSource:
    """Always the same rows of one global batch (this rank's share)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        assert batch_size == len(self.arrays["image"]) and length == self.arrays["image"].shape[1]
        return self.arrays


def _global_batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    is_first = np.zeros((4, 6), bool)
    is_first[:, 0] = True
    return {
        "image": rng.integers(0, 255, (4, 6, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (4, 6, 2)).astype(np.float32),
        "is_first": is_first,
        "is_terminal": np.zeros((4, 6), bool),
    }


def _train_three_steps(rows: slice, distributed, run_dir: Path) -> dict[str, torch.Tensor]:
    from vid2act_core.runtime.distributed import DistributedContext
    from vid2act_core.pretrain import TeacherPretrainer

    config = preset("tiny")
    config.world_model.free_nats = 0.0  # linear in the batch: the mean of the shards' means is the global mean
    arrays = {key: value[rows] for key, value in _global_batch().items()}
    config.train.batch_size, config.train.batch_length = len(arrays["image"]), 6
    context = distributed or DistributedContext(0, 1, torch.device("cpu"), False, False)
    trainer = TeacherPretrainer(config, 2, _FixedSource(arrays), run_dir, context)
    # Latent means instead of samples: every rank and the single process compute the same function.
    stoch = trainer.world_model.rssm._stoch
    trainer.world_model.rssm._stoch = lambda stats, sample: stoch(stats, False)
    for _ in range(3):
        trainer.train_step()
    return {key: value.detach().clone() for key, value in trainer.world_model.state_dict().items()}


def _ddp_worker(rank: int, init_file: str, out_dir: str) -> None:
    from vid2act_core.runtime.distributed import DistributedContext

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        context = DistributedContext(rank, 2, torch.device("cpu"), True, False)
        weights = _train_three_steps(slice(2 * rank, 2 * rank + 2), context, Path(out_dir) / f"rank{rank}")
        torch.save(weights, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_replicas_stay_identical_and_match_one_process_on_the_global_batch(tmp_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1))
    single = _train_three_steps(slice(0, 4), None, tmp_path / "single")
    untrained = _initial_weights()
    changed = 0
    for key in single:
        assert torch.equal(rank0[key], rank1[key]), f"replicas differ in {key}"
        assert torch.allclose(rank0[key], single[key], atol=2e-5), f"DDP and one process differ in {key}"
        changed += int(not torch.equal(single[key], untrained[key]))
    assert changed > 10


def _initial_weights() -> dict[str, torch.Tensor]:
    from vid2act_core.pretrain import teacher_config

    config = teacher_config(preset("tiny"))
    torch.manual_seed(config.seed)
    return WorldModel(config.world_model, 2, config.env.image_size).state_dict()
