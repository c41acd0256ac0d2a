"""The transfer student's behaviour at run level: frozen teachers, what acting stores and selects, what G sees.

Each test names the property it guards; docs/testing.md lists the mutation of the code each one catches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from method_fakes import tiny_transfer
from vid2act_core.runtime.checkpoint import load_checkpoint, save_atomic
from vid2act_core.rssm import RSSM, detach_state, flatten_state
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY


def _stacked_teacher_tensors(ensemble) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in ensemble.named_buffers()}


def _act_through(agent, images: torch.Tensor, mode: str = "explore"):
    """Act on one episode (T, H, W, 3) step by step; return the actions taken and every policy state."""
    state, actions, states = None, [], []
    for t in range(images.shape[0]):
        obs = {"image": images[t : t + 1], "is_first": torch.tensor([t == 0])}
        action, state = agent.policy(obs, state, mode)
        actions.append(action[0])
        states.append(state)
    return torch.stack(actions), states


def test_teacher_weights_and_their_stored_features_survive_updates_and_a_restore_unchanged() -> None:
    agent, ensemble, batch, _ = tiny_transfer()
    stacked = _stacked_teacher_tensors(ensemble)
    assert len(stacked) > 10 and all(not tensor.requires_grad for tensor in ensemble.buffers())
    posts_before, priors_before = ensemble.observe(batch["image"], batch["action"], batch["is_first"])
    for _ in range(3):
        agent.train_step(batch)
    _act_through(agent, batch["image"][0, :4])
    # The checkpoint holds no teacher weights, so a restore can never overwrite the frozen teachers.
    checkpoint = agent.checkpoint()
    assert not any(key.startswith("teachers.") for key in checkpoint["model"])
    agent.restore(checkpoint)
    after = _stacked_teacher_tensors(ensemble)
    assert after.keys() == stacked.keys()
    assert all(torch.equal(after[name], stacked[name]) for name in stacked), "a teacher tensor changed"
    posts_after, priors_after = ensemble.observe(batch["image"], batch["action"], batch["is_first"])
    assert torch.equal(posts_after, posts_before) and torch.equal(priors_after, priors_before)


def test_features_stored_while_acting_equal_observe_on_the_same_episode_and_k_is_argmax_w() -> None:
    agent, ensemble, batch, _ = tiny_transfer()
    images = batch["image"][1]  # (T, H, W, 3)
    actions, states = _act_through(agent, images)
    # The episode as the replay stores it: action[t] led to image[t], action[0] = 0.
    episode_actions = torch.cat([torch.zeros(1, actions.shape[-1]), actions[:-1]])
    is_first = torch.zeros(1, len(images), dtype=torch.bool)
    is_first[0, 0] = True
    posts, priors = ensemble.observe(images[None], episode_actions[None], is_first)
    stored = np.stack([agent.transition_extras(state)[TEACHER_FEATURE_KEY] for state in states])
    stored_posts = np.stack([agent.transition_extras(state)[TEACHER_POSTERIOR_KEY] for state in states])
    assert stored.dtype == np.float16 and stored.shape == priors[0].shape
    np.testing.assert_array_equal(stored, priors[0].to(torch.float16).numpy())
    np.testing.assert_array_equal(stored_posts, posts[0].to(torch.float16).numpy())
    # At every step k = argmax W, with W from the teachers' predictions and the student's prior.
    for t, state in enumerate(states):
        assert torch.allclose(state["teacher_features"][0], priors[0, t], atol=1e-6)
        assert torch.equal(state["selected_task"], state["task_weights"].argmax(-1)), t
    selected = torch.cat([state["selected_task"] for state in states])
    counts = agent.acting_metrics()
    for index in range(agent.num_teachers):
        assert counts[f"selected/t{index}"] == (selected == index).float().mean().item()


def test_transition_extras_store_the_acting_batch_element_zero() -> None:
    agent, _, batch, _ = tiny_transfer()
    # Two streams acted on together; the predictions differ from the second frame on (the first is the reset).
    state = None
    for t in range(2):
        obs = {"image": batch["image"][:2, t], "is_first": torch.tensor([t == 0, t == 0])}
        _, state = agent.policy(obs, state, "explore")
    features = state["teacher_features"]
    assert not torch.allclose(features[0], features[1])
    extras = agent.transition_extras(state)
    np.testing.assert_array_equal(extras[TEACHER_FEATURE_KEY], features[0].to(torch.float16).numpy())
    np.testing.assert_array_equal(
        extras[TEACHER_POSTERIOR_KEY], state["teacher_posterior_features"][0].to(torch.float16).numpy()
    )


def test_guidance_for_another_task_changes_the_action() -> None:
    agent, _, batch, _ = tiny_transfer()
    obs = {"image": batch["image"][:1, 0], "is_first": torch.tensor([True])}
    actions = []
    for forced in (0, 1):
        agent.selector.select = lambda weights, k=forced: torch.full(weights.shape[:-1], k, dtype=torch.long)
        torch.manual_seed(5)  # the same latent and guidance noise for both tasks
        action, state = agent.policy(obs, None, "eval")
        assert state["selected_task"].item() == forced
        actions.append(action)
    assert not torch.allclose(actions[0], actions[1])
    # And the actor's input really is [student state, G's guidance for k]: zero guidance acts differently.
    torch.manual_seed(5)
    _, state = agent.policy(obs, None, "eval")
    feature = agent.world_model.rssm.feature(state["latent"])
    with_zero = agent.actor_critic.actor(feature, torch.zeros(1, agent.config.transfer.guidance_dim)).mode()
    assert not torch.allclose(with_zero, actions[1])


def test_imagination_feeds_g_the_one_hot_label_of_the_k_selected_at_each_step() -> None:
    agent, _, batch, _ = tiny_transfer(action_sizes=(2, 4, 3), batch_size=2, configure=lambda c: setattr(c.transfer, "scorer", "paper"))
    with torch.no_grad():
        agent.distillation.f_weight.weight.mul_(200.0)  # sharp per-frame weights: k changes within rollouts
    seen: list[torch.Tensor] = []
    original = agent.vae.guidance

    def recording(states, labels, sample=True):
        seen.append(labels.clone())
        return original(states, labels, sample)

    agent.vae.guidance = recording
    output = agent.world_model.observe(batch)
    condition = agent.imagination_condition(batch, output)
    agent.actor_critic.imagine(agent.world_model, flatten_state(detach_state(output.posts)), condition)
    assert len(seen) == len(condition.selected) == agent.config.actor_critic.horizon
    for labels, selected in zip(seen, condition.selected):
        assert torch.equal(labels, F.one_hot(selected, agent.num_teachers).float())
    # The first step's k is argmax W of the stored teacher predictions and the student's prior.
    weights = agent.distillation.weights(batch["teacher_feat"].flatten(0, 1), RSSM.mean_feature(output.priors).flatten(0, 1))
    assert torch.equal(condition.selected[0], weights.argmax(-1))


def test_the_vae_step_trains_g_only() -> None:
    agent, _, batch, _ = tiny_transfer()
    output, _ = agent.train_world_model(batch)
    agent.train_behaviour(batch, output)
    distill_before = {name: p.detach().clone() for name, p in agent.distillation.named_parameters()}
    world_before = {name: p.detach().clone() for name, p in agent.world_model.named_parameters()}
    vae_before = {name: p.detach().clone() for name, p in agent.vae.named_parameters()}
    agent.distillation.zero_grad(set_to_none=True)
    agent.after_update(batch)
    assert all(torch.equal(p, distill_before[name]) for name, p in agent.distillation.named_parameters())
    assert all(p.grad is None for p in agent.distillation.parameters())
    assert all(torch.equal(p, world_before[name]) for name, p in agent.world_model.named_parameters())
    assert any(not torch.equal(p, vae_before[name]) for name, p in agent.vae.named_parameters())


def test_transfer_checkpoint_round_trips_weights_and_every_optimiser_including_the_vae(tmp_path: Path) -> None:
    agent, _, batch, _ = tiny_transfer(seed=0)
    for _ in range(2):
        agent.train_step(batch)
    # Through a file, as a resumed run reads it (an in-memory checkpoint shares the optimiser's tensors).
    save_atomic(agent.checkpoint(), tmp_path / "latest.pt")
    checkpoint = load_checkpoint(tmp_path / "latest.pt", required_key="model")
    assert checkpoint["vae_optimizer"]["state"], "the VAE optimiser has state after two updates"
    # The same teachers and sources (they come from the registry, not the checkpoint), other learned state.
    fresh, _, _, _ = tiny_transfer(seed=0)
    torch.manual_seed(99)
    fresh.train_step(batch)
    assert not torch.equal(fresh.vae.decoder_out.weight, agent.vae.decoder_out.weight)
    fresh.restore(checkpoint)
    for name, tensor in agent.state_dict().items():
        assert torch.equal(tensor, fresh.state_dict()[name]), name
    # Continuing from the restored state is the same update: Adam moments and step counts came along.
    for model in (agent, fresh):
        torch.manual_seed(11)
        model.selector.load_state_dict(checkpoint["task_selector"])
        model.train_step(batch)
    for name, tensor in agent.state_dict().items():
        assert torch.equal(tensor, fresh.state_dict()[name]), name
    for key in ("model_optimizer", "actor_optimizer", "critic_optimizer", "vae_optimizer"):
        left, right = agent.checkpoint()[key]["state"], fresh.checkpoint()[key]["state"]
        assert left.keys() == right.keys()
        for index in left:
            for field in left[index]:
                assert torch.equal(torch.as_tensor(left[index][field]), torch.as_tensor(right[index][field])), (key, field)
