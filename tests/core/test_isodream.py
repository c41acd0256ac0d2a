"""Iso-Dream baseline: the non-controllable branch ignores actions; inverse dynamics shapes only the controllable branch."""

from __future__ import annotations

import torch

from vid2act_core.baselines.apv import split_state
from vid2act_core.baselines.isodream import IsoDreamAgent
from vid2act_core.baselines.isodream_model import FREE_PREFIX
from vid2act_core.config import preset

torch.set_num_threads(1)
ACTIONS = 2


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    batch = {
        "image": torch.randint(0, 255, (2, 6, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(2, 6, ACTIONS, generator=generator) * 2 - 1,
        "is_first": torch.zeros(2, 6, dtype=torch.bool),
        "reward": torch.rand(2, 6, generator=generator),
        "is_terminal": torch.zeros(2, 6, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    return batch


def agent() -> IsoDreamAgent:
    torch.manual_seed(0)
    return IsoDreamAgent(preset("tiny"), ACTIONS, "cpu")


def test_non_controllable_branch_has_no_action_input_and_ignores_actions():
    model = agent().world_model
    assert not any(key.startswith("rssm.free.img_in_action") for key in model.state_dict())
    first, second = make_batch(), make_batch()
    second["action"] = -first["action"] * 3
    posts_a, posts_b = model.observe(first, sample=False).posts, model.observe(second, sample=False).posts
    free_a, ctrl_a = split_state(posts_a, FREE_PREFIX)
    free_b, ctrl_b = split_state(posts_b, FREE_PREFIX)
    assert all(torch.equal(free_a[key], free_b[key]) for key in free_a)
    assert not torch.equal(ctrl_a["deter"], ctrl_b["deter"])


def test_inverse_dynamics_gradient_reaches_only_the_controllable_branch():
    model = agent().world_model
    batch = make_batch()
    posts = model.observe(batch).posts
    model.zero_grad()
    model.inverse_dynamics_loss(posts, batch["action"], batch["is_first"]).backward()
    grads = {name: param.grad for name, param in model.named_parameters()}
    free_parts = ("rssm.free.", "encoder.free.", "free_decoder.")
    for name, grad in grads.items():
        if name.startswith(free_parts):
            assert grad is None or torch.count_nonzero(grad) == 0, name
    for prefix in ("rssm.controllable.", "encoder.controllable.", "inverse_dynamics."):
        assert any(grad is not None and grad.abs().sum() > 0 for name, grad in grads.items() if name.startswith(prefix)), prefix


def test_inverse_dynamics_is_in_the_world_model_loss_and_trains():
    iso = agent()
    metrics = iso.train_step(make_batch())
    assert metrics["inverse_dynamics_loss"] > 0 and "cont_loss" not in metrics  # tiny: no continuation head
    wm = iso.config.world_model
    # Each branch's balanced KL: both sides have the same value, so its loss is max(KL, free nats).
    free_kl_loss = torch.clamp(metrics["free_kl"], min=wm.free_nats)
    assert torch.allclose(metrics["kl_loss"], torch.clamp(metrics["kl"], min=wm.free_nats))
    expected = (wm.image_scale * metrics["image_loss"] + wm.kl_scale * (metrics["kl_loss"] + free_kl_loss)
                + wm.reward_scale * metrics["reward_loss"] + iso.config.isodream.inverse_scale * metrics["inverse_dynamics_loss"])
    assert torch.allclose(metrics["model_loss"], expected)


def test_actor_attends_to_the_imagined_non_controllable_future():
    iso = agent()
    batch = make_batch()
    output = iso.world_model.observe(batch)
    condition = iso.imagination_condition(batch, output)
    start = {key: value[:, -1] for key, value in output.posts.items()}
    window = condition(start, None)
    free_size = iso.world_model.rssm.free.feature_size
    assert window.shape == (2, iso.config.isodream.window * free_size)
    assert torch.equal(window[:, :free_size], iso.world_model.rssm.free_feature(start))
    later = condition(start, torch.zeros(2, ACTIONS))
    assert torch.equal(later[:, :free_size], window[:, free_size : 2 * free_size])  # the window slides one step
    actor = iso.actor_critic.actor
    feature = iso.world_model.rssm.feature(start)
    assert not torch.allclose(actor(feature, window).mean, actor(feature, window + 1.0).mean)
