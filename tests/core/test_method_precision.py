"""bf16 mixed precision: one update on the CPU is finite and close to the fp32 update; distributions stay fp32."""

from __future__ import annotations

import copy

import torch

from method_fakes import tiny_transfer


def _bf16(config) -> None:
    config.train.precision = 16


def test_bf16_update_is_finite_and_close_to_fp32() -> None:
    agent, _, batch, _ = tiny_transfer(configure=_bf16)
    reference = copy.deepcopy(agent)
    reference.config = copy.deepcopy(agent.config)
    reference.config.train.precision = 32
    torch.manual_seed(1)
    mixed = agent.train_step(batch)
    torch.manual_seed(1)
    full = reference.train_step(batch)
    for key in ("model_loss", "image_loss", "kl", "reward_loss", "distill_loss", "actor_loss", "critic_loss", "imagined_return", "vae_loss"):
        assert torch.isfinite(mixed[key]), key
        assert mixed[key].dtype == torch.float32, key
        assert torch.allclose(mixed[key], full[key], rtol=0.05, atol=0.05), (key, mixed[key], full[key])


def test_distributions_kl_and_returns_are_fp32_under_autocast() -> None:
    agent, _, batch, _ = tiny_transfer(configure=_bf16)
    with agent.autocast():
        output = agent.world_model.observe(batch)
        assert output.priors["mean"].dtype == torch.float32 and output.priors["std"].dtype == torch.float32
        assert agent.world_model.rssm.kl(output.posts, output.priors).dtype == torch.float32
        features = agent.world_model.rssm.feature(output.posts)
        condition = torch.zeros(*features.shape[:-1], agent.actor_critic.actor.cond_dim)
        dist = agent.actor_critic.actor(features, condition)
        assert dist.mean.dtype == torch.float32 and dist.log_prob(dist.sample()).dtype == torch.float32
        assert agent.world_model.reward(features).dtype == torch.float32
        # Matrix products do run in bf16 (autocast is active), so the test above is not vacuous.
        assert agent.world_model.encoder.net[0](torch.zeros(1, 3, 64, 64)).dtype == torch.bfloat16
