"""APV baseline: action-free model, stacked fine-tuning rule, kNN intrinsic bonus, registry kind."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vid2act_core.baselines.apv import AF_PREFIX, APVAgent, split_state
from vid2act_core.baselines.knn_bonus import KNNParticleBonus
from vid2act_core.config import preset
from vid2act_core.world_model import WorldModel

torch.set_num_threads(1)
ACTIONS = 3


def tiny_config():
    config = preset("tiny")
    config.apv.window, config.apv.queue_size, config.apv.k, config.apv.freeze_updates = 3, 64, 4, 1
    return config


def video_model(config) -> WorldModel:
    torch.manual_seed(1)
    return WorldModel(dataclasses.replace(config.world_model, action_free=True, use_reward_head=False), 1)


def make_batch(actions: torch.Tensor | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    batch = {
        "image": torch.randint(0, 255, (2, 8, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(2, 8, ACTIONS, generator=generator) * 2 - 1 if actions is None else actions,
        "is_first": torch.zeros(2, 8, dtype=torch.bool),
        "reward": torch.rand(2, 8, generator=generator),
        "is_terminal": torch.zeros(2, 8, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    return batch


def test_action_free_model_has_no_action_input_and_ignores_actions():
    model = video_model(tiny_config())
    assert not any("img_in_action" in key for key in model.state_dict())
    first, second = make_batch(), make_batch()
    second["action"] = torch.randn_like(first["action"]) * 5
    out_a, out_b = model.observe(first, sample=False), model.observe(second, sample=False)
    for key in out_a.posts:
        assert torch.equal(out_a.posts[key], out_b.posts[key]) and torch.equal(out_a.priors[key], out_b.priors[key])
    state = {key: value[:, -1] for key, value in out_a.posts.items()}
    step_a = model.rssm.img_step(state, torch.zeros(2, 1), sample=False)
    step_b = model.rssm.img_step(state, torch.ones(2, 1) * 9, sample=False)
    assert torch.equal(step_a["deter"], step_b["deter"])


def test_stacked_model_action_free_part_ignores_actions_the_conditional_part_does_not():
    agent = APVAgent(tiny_config(), ACTIONS, "cpu", video_model(tiny_config()))
    first, second = make_batch(), make_batch()
    second["action"] = -first["action"]
    posts_a = agent.world_model.observe(first, sample=False).posts
    posts_b = agent.world_model.observe(second, sample=False).posts
    af_a, ac_a = split_state(posts_a, AF_PREFIX)
    af_b, ac_b = split_state(posts_b, AF_PREFIX)
    assert all(torch.equal(af_a[key], af_b[key]) for key in af_a)
    assert not torch.equal(ac_a["deter"], ac_b["deter"])


def test_pretrained_parts_are_loaded_then_frozen_for_freeze_updates_then_fine_tuned():
    config = tiny_config()
    config.apv.freeze_updates = 1
    source = video_model(config)
    agent = APVAgent(config, ACTIONS, "cpu", source)
    assert agent.loaded_modules == ["encoder", "action-free rssm", "decoder"]
    assert torch.equal(agent.world_model.encoder.net[0].weight, source.encoder.net[0].weight)
    pretrained = [p.detach().clone() for p in agent.world_model.pretrained_parameters()]
    finetuned = [p.detach().clone() for p in agent.world_model.finetuned_parameters()]
    metrics = agent.train_step(make_batch())
    assert metrics["pretrained_frozen"] == 1.0 and metrics["pretrained_grad_norm"] > 0  # gradient arrives, lr is 0
    assert all(torch.equal(a, b) for a, b in zip(pretrained, agent.world_model.pretrained_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(finetuned, agent.world_model.finetuned_parameters()))
    metrics = agent.train_step(make_batch(seed=1))
    assert metrics["pretrained_frozen"] == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(pretrained, agent.world_model.pretrained_parameters()))


def test_action_free_kl_is_left_out_of_the_fine_tuning_loss_at_its_published_weight_0():
    config = tiny_config()
    agent = APVAgent(config, ACTIONS, "cpu", video_model(config))
    _, output, metrics = agent.world_model.loss(make_batch())
    wm = config.world_model
    expected = wm.image_scale * metrics["image_loss"] + wm.kl_scale * metrics["kl_loss"] + wm.reward_scale * metrics["reward_loss"]
    # The logged af_kl is KL(posterior || prior) of the action-free part (tiny: Gaussian latents, unequal stds).
    posts, priors = split_state(output.posts, AF_PREFIX)[0], split_state(output.priors, AF_PREFIX)[0]
    by_hand = kl_divergence(Normal(posts["mean"], posts["std"]), Normal(priors["mean"], priors["std"])).sum(-1).mean()
    assert torch.allclose(metrics["af_kl"], by_hand, rtol=1e-5)
    assert not torch.allclose(posts["std"], priors["std"])
    assert torch.allclose(metrics["model_loss"], expected)


def test_knn_bonus_matches_a_hand_computation():
    bonus = KNNParticleBonus(feature_size=2, k=2, window=2, queue_size=8, dim=2, momentum=0.5)
    bonus.projection.copy_(torch.eye(2))
    features = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [2.0, 4.0], [6.0, 4.0]]])
    # particles: window means (1, 0), (2, 2), (4, 4); each one's 2 nearest: itself (0) and the closest other.
    d01, d12 = math.sqrt(1 + 4), math.sqrt(4 + 4)
    expected_raw = torch.tensor([[d01 / 2, d01 / 2, d12 / 2]])
    raw = bonus.raw(features)
    assert torch.allclose(raw, expected_raw)
    assert int(bonus.filled) == 3 and torch.allclose(bonus.queue[:3], torch.tensor([[1.0, 0.0], [2.0, 2.0], [4.0, 4.0]]))
    # a second batch: its particle (5, 4) finds (4, 4) from the queue; normalised by 0.5 * 1 + 0.5 * |raw|
    second = torch.tensor([[[5.0, 4.0], [5.0, 4.0]]])
    normalised = bonus(second)
    raw_second = 0.5  # distances 0 (itself) and 1 (to (4, 4))
    assert torch.allclose(normalised, torch.tensor([[raw_second / (0.5 + 0.5 * raw_second)]]))
    assert torch.allclose(bonus.queue[:4], torch.tensor([[5.0, 4.0], [1.0, 0.0], [2.0, 2.0], [4.0, 4.0]]))


def test_knn_bonus_refuses_a_window_longer_than_the_sequence():
    with pytest.raises(ValueError, match="apv.window=5"):
        KNNParticleBonus(2, window=5)(torch.zeros(1, 3, 2))


def test_apv_agent_resumes_its_encoder_optimiser_and_bonus_queue():
    config = tiny_config()
    agent = APVAgent(config, ACTIONS, "cpu", video_model(config))
    agent.train_step(make_batch())
    saved = agent.checkpoint()
    fresh = APVAgent(config, ACTIONS, "cpu", None)
    fresh.restore(saved)
    assert torch.equal(fresh.world_model.bonus.queue, agent.world_model.bonus.queue)
    restored, trained = fresh.encoder_optimizer.state_dict(), agent.encoder_optimizer.state_dict()
    assert restored["state"].keys() == trained["state"].keys() and len(trained["state"]) > 0
    for index, moments in trained["state"].items():
        assert moments["step"].item() == 1  # one update so far
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(restored["state"][index][key], moments[key]), (index, key)
    # The moments restored are those of a real gradient, not a fresh optimiser's zeros.
    assert sum(moments["exp_avg_sq"].sum() for moments in restored["state"].values()) > 0
    # The frozen update ran at learning rate 0: the restored optimiser keeps it for the next step to reset.
    assert [group["lr"] for group in restored["param_groups"]] == [group["lr"] for group in trained["param_groups"]] == [0.0]


def test_apv_preset_blocks_carry_the_published_settings():
    finetune = preset("paper-metaworld,apv-metaworld")
    assert (finetune.world_model.latent, finetune.world_model.deter, finetune.world_model.cnn_depth) == ("categorical", 1024, 48)
    assert (finetune.apv.k, finetune.apv.window, finetune.apv.queue_size, finetune.apv.beta, finetune.apv.af_kl_scale) == (16, 5, 4096, 1.0, 0.0)
    assert (finetune.train.batch_size, finetune.train.batch_length, finetune.train.steps) == (50, 50, 256_000)
    video = preset("paper-metaworld,apv-video")
    assert (video.world_model.kl_scale, video.train.batch_size, video.train.batch_length) == (0.1, 16, 25)
