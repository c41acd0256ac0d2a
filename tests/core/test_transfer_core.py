"""Transfer terms on hand-made tensors: Eq. 3 weights, Eq. 4 loss, gradient isolation, action sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from method_fakes import prefer_teacher, tiny_transfer_with_teachers
from vid2act_core.config import TransferConfig, preset
from vid2act_core.rssm import RSSM
from vid2act_core.teachers import TeacherEnsemble, TeacherMismatchError, fit_actions
from vid2act_core.transfer import ActionVAE, SourcePairs, TaskSelectiveDistillation, TransferAgent, initialise_from_teacher
from vid2act_core.world_model import WorldModel


def test_weights_are_a_softmax_over_teachers_per_batch_and_time() -> None:
    torch.manual_seed(0)
    config = TransferConfig(distill_units=8, distill_layers=1, scorer="paper")
    distill = TaskSelectiveDistillation(teacher_size=3, student_size=2, config=config)
    teachers = torch.randn(4, 5, 3, 3)  # (B, T, N, Ft)
    student = torch.randn(4, 5, 2)
    weights = distill.weights(teachers, student)
    assert weights.shape == (4, 5, 3)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 5))
    # Equal to a softmax of f_weight(concat(s_i, e)) over i, computed by hand for one (b, t).
    logits = torch.stack([distill.f_weight(torch.cat([teachers[1, 2, i], student[1, 2]])) for i in range(3)]).squeeze(-1)
    assert torch.allclose(weights[1, 2], torch.softmax(logits, 0), atol=1e-6)
    # Weights vary over time steps (time-varying selection), not one per sequence.
    assert not torch.allclose(weights[:, 0], weights[:, 1])


def test_distillation_loss_is_equation_4() -> None:
    torch.manual_seed(1)
    distill = TaskSelectiveDistillation(3, 2, TransferConfig(distill_units=8, distill_layers=1, distill_burn_in=0, scorer="paper", distill_form="paper", distill_reduction="sum"))
    teachers = torch.randn(2, 4, 3, 3)
    student = torch.randn(2, 4, 2)
    loss, weights, _ = distill.loss(teachers, student)
    by_hand = 0.0
    for b in range(2):
        for t in range(4):
            for i in range(3):
                u = distill.f_distill(teachers[b, t, i])
                by_hand += weights[b, t, i] * ((student[b, t] - u) ** 2).sum()
    assert torch.allclose(loss, by_hand / (2 * 4), atol=1e-5)
    uniform = TaskSelectiveDistillation(3, 2, TransferConfig(distill_units=8, distill_layers=1, uniform_weights=True))
    assert torch.allclose(uniform.weights(teachers, student), torch.full((2, 4, 3), 1 / 3))


def _setup(action_sizes=(2, 4), target_action=3, guidance=True):
    def configure(config) -> None:
        config.transfer.guidance = guidance

    agent, teachers, ensemble, batch, _ = tiny_transfer_with_teachers(action_sizes, target_action, configure)
    return agent, teachers, ensemble, batch


def test_teacher_ensemble_equals_each_teacher_with_fitted_actions() -> None:
    agent, teachers, ensemble, batch = _setup(action_sizes=(2, 4, 3))
    posts, priors = ensemble.observe(batch["image"], batch["action"], batch["is_first"])
    assert posts.shape == (3, 8, 3, ensemble.feature_size)
    for index, teacher in enumerate(teachers):
        with torch.no_grad():
            post, prior = teacher.rssm.observe(
                teacher.embed(batch["image"]), fit_actions(batch["action"], teacher.action_dim), batch["is_first"], sample=False
            )
        assert torch.allclose(RSSM.feature(post), posts[:, :, index], atol=1e-5)
        assert torch.allclose(RSSM.feature(prior), priors[:, :, index], atol=1e-5)


def test_teachers_are_frozen_and_every_learned_part_gets_its_own_gradient() -> None:
    agent, teachers, ensemble, batch = _setup()
    assert not any(p.requires_grad for p in ensemble.parameters())
    assert not any(name.startswith("teachers.") for name, _ in agent.named_parameters())
    teacher_before = {k: v.clone() for k, v in ensemble.state_dict(keep_vars=False).items()}
    stacked_before = [buffer.clone() for buffer in ensemble.buffers()]
    world_model_before = [p.detach().clone() for p in agent.world_model.parameters()]

    # The world-model loss (with L_distill) reaches the student and the distillation's own maps, not G.
    output, _ = agent.train_world_model(batch)
    distill_params = list(agent.distillation.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in distill_params)
    assert all(p.grad is None for p in agent.vae.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(world_model_before, agent.world_model.parameters()))

    # The actor's loss leaves G unchanged and gives G no gradient.
    vae_before = [p.detach().clone() for p in agent.vae.parameters()]
    agent.train_behaviour(batch, output)
    assert all(p.grad is None for p in agent.vae.parameters())
    assert all(torch.equal(a, b) for a, b in zip(vae_before, agent.vae.parameters()))

    # The VAE's own loss trains it.
    metrics = agent.after_update(batch)
    assert torch.equal(metrics["vae_loss"], metrics["vae_reconstruction"] + metrics["vae_kl"])
    assert any(not torch.equal(a, b) for a, b in zip(vae_before, agent.vae.parameters()))

    # Several full updates later the teachers are bit-identical.
    for _ in range(2):
        agent.train_step(batch)
    assert all(torch.equal(a, b) for a, b in zip(stacked_before, ensemble.buffers()))
    assert teacher_before.keys() == ensemble.state_dict().keys()


def test_vae_learns_source_actions() -> None:
    torch.manual_seed(0)
    vae = ActionVAE(state_size=4, action_size=2, num_tasks=2, units=64, guidance_dim=16)
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    states = torch.randn(256, 4)
    labels = torch.nn.functional.one_hot(torch.randint(0, 2, (256,)), 2).float()
    actions = torch.tanh(states[:, :2] * (labels[:, :1] * 2 - 1))  # task-dependent mapping
    first, _ = vae.loss(states, actions, labels)
    for _ in range(300):
        loss, _ = vae.loss(states, actions, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    replayed = vae.decode(states, labels, sample=False)
    assert (replayed - actions).square().sum(-1).mean() < 0.25 * first.item()
    # The guidance is the decoder's penultimate feature at z = 0 (deterministic) or z ~ N(0, 1) clipped to +-0.5.
    guidance = vae.guidance(states, labels, sample=False)
    assert torch.equal(guidance, vae.decoder_body(torch.cat([states, torch.zeros(256, 4), labels], -1)))
    assert torch.equal(replayed, torch.tanh(vae.decoder_out(guidance)))
    torch.manual_seed(7)
    sampled = vae.guidance(states, labels)
    torch.manual_seed(7)
    latent = torch.randn(256, 4).clamp(-0.5, 0.5)
    assert torch.equal(sampled, vae.decoder_body(torch.cat([states, latent, labels], -1)))
    assert latent.abs().max() == 0.5  # some draws were clipped


def _known_vae() -> ActionVAE:
    """A VAE whose encoder gives mu = (0, 1, -1, 0.5), sigma = (1, 2, 1, 1) and whose decoder gives (0, 0.5), whatever the input."""
    vae = ActionVAE(state_size=3, action_size=2, num_tasks=2, units=8, guidance_dim=4)
    with torch.no_grad():
        for layer in (vae.encoder_mean, vae.encoder_log_std, vae.decoder_out):
            layer.weight.zero_()
        vae.encoder_mean.bias.copy_(torch.tensor([0.0, 1.0, -1.0, 0.5]))
        vae.encoder_log_std.bias.copy_(torch.tensor([0.0, math.log(2.0), 0.0, 0.0]))
        vae.decoder_out.bias.copy_(torch.tensor([0.0, math.atanh(0.5)]))
    return vae


KNOWN_VAE_KL = 0.0 + (2.0 - math.log(2.0)) + 0.5 + 0.125
"""KL(N(mu, sigma^2) || N(0, 1)) of `_known_vae`, summed over its 4 latents: 1/2 (sigma^2 + mu^2 - 1) - log sigma each."""


def test_vae_loss_terms_on_a_case_with_a_known_answer() -> None:
    vae = _known_vae()
    states, labels = torch.randn(2, 3), torch.eye(2)
    actions = torch.tensor([[1.0, 0.5], [-0.5, 0.0]])
    loss, metrics = vae.loss(states, actions, labels)
    # Reconstruction (0, 0.5) for both pairs: squared errors 1 + 0 and 0.25 + 0.25, averaged over the pairs.
    assert metrics["vae_reconstruction"].item() == pytest.approx(0.75, abs=1e-6)
    assert metrics["vae_kl"].item() == pytest.approx(KNOWN_VAE_KL, abs=1e-6)
    assert loss.item() == pytest.approx(0.75 + KNOWN_VAE_KL, abs=1e-6)


def test_source_pairs_pair_each_teacher_posterior_with_the_next_stored_action() -> None:
    torch.manual_seed(0)
    teacher_config = preset("tiny").world_model
    teacher_config.use_reward_head = False
    teacher = WorldModel(teacher_config, 2).eval()
    rng = np.random.default_rng(0)
    episodes = [
        {"image": rng.integers(0, 255, (steps, 64, 64, 3), dtype=np.uint8), "action": rng.uniform(-1, 1, (steps, 2)).astype(np.float32)}
        for steps in (5, 4)
    ]
    pairs = SourcePairs.from_episodes("source", teacher, episodes, "cpu")
    # action[t] is stored beside the frame it led to, so the action taken from s_t is a_{t+1}; a last state has none.
    assert len(pairs) == 4 + 3
    assert torch.equal(pairs.actions, torch.from_numpy(np.concatenate([episode["action"][1:] for episode in episodes])))
    offset = 0
    for episode in episodes:
        actions = torch.from_numpy(episode["action"])[None]
        is_first = torch.zeros(actions.shape[:2], dtype=torch.bool)
        is_first[:, 0] = True
        with torch.no_grad():
            posts, _ = teacher.rssm.observe(teacher.embed(torch.from_numpy(episode["image"])[None]), actions, is_first, sample=False)
        expected = RSSM.feature(posts)[0, :-1]
        assert torch.allclose(pairs.features[offset : offset + len(expected)], expected, atol=1e-6)
        offset += len(expected)
    # s_t does not depend on the action paired with it: another last action changes that pair's action only.
    changed = [dict(episodes[0], action=episodes[0]["action"].copy()), episodes[1]]
    changed[0]["action"][-1] = -changed[0]["action"][-1]
    other = SourcePairs.from_episodes("source", teacher, changed, "cpu")
    assert torch.equal(other.features, pairs.features)
    assert torch.equal(other.actions[3], -pairs.actions[3]) and torch.equal(other.actions[:3], pairs.actions[:3])


def test_acting_selects_a_teacher_and_stores_its_features() -> None:
    agent, _, ensemble, batch = _setup()
    obs = {"image": batch["image"][:1, 0], "is_first": torch.tensor([True])}
    action, state = agent.policy(obs, None, "explore")
    assert action.shape == (1, 3) and action.abs().max() <= 1
    extras = agent.transition_extras(state)
    assert extras["teacher_feat"].shape == (2, ensemble.feature_size) and extras["teacher_feat"].dtype == np.float16
    # Four explore steps: teacher 0 (tied W, before any update) then teachers 1, 1, 0 once W favours them.
    for t, teacher in ((1, 1), (2, 1), (3, 0)):
        prefer_teacher(agent, teacher)
        obs = {"image": batch["image"][:1, t], "is_first": torch.tensor([False])}
        _, state = agent.policy(obs, state, "explore")
    # k changed on 2 of the 3 steps that followed a step of the same episode (0 -> 1, 1 -> 0).
    assert agent.acting_metrics() == {"selected/t0": 0.5, "selected/t1": 0.5, "selection_switch_rate": pytest.approx(2 / 3)}
    assert agent.acting_metrics() == {}
    # A new episode's first step is no switch, whatever it selects (teacher 1 after the last episode's 0).
    prefer_teacher(agent, 1)
    _, state = agent.policy({"image": batch["image"][:1, 0], "is_first": torch.tensor([True])}, state, "explore")
    _, state = agent.policy({"image": batch["image"][:1, 1], "is_first": torch.tensor([False])}, state, "explore")
    assert agent.acting_metrics() == {"selected/t0": 0.0, "selected/t1": 1.0, "selection_switch_rate": 0.0}


def test_ablation_switches_share_the_code_path() -> None:
    agent, _, _, batch = _setup(guidance=False)
    assert agent.actor_critic.actor.cond_dim == 0 and not hasattr(agent, "vae")
    metrics = agent.train_step(batch)
    assert "distill_loss" in metrics and "vae_loss" not in metrics
    config = preset("tiny")
    config.transfer.distill = False
    plain = TransferAgent(config, 3, "cpu", teachers=None)
    plain_metrics = plain.train_step({k: v for k, v in batch.items() if not k.startswith("teacher_")})
    assert "distill_loss" not in plain_metrics and plain.transition_extras({}) == {}


def test_mismatched_teachers_are_refused_and_init_from_teacher_copies_weights() -> None:
    small = preset("tiny").world_model
    other = preset("tiny").world_model
    other.deter = 48
    with pytest.raises(TeacherMismatchError, match="teacher 'b' differs from teacher 'a' in deter"):
        TeacherEnsemble([WorldModel(small, 2), WorldModel(other, 2)], ["a", "b"])
    teacher_config = preset("tiny").world_model
    teacher_config.use_reward_head = False
    teacher = WorldModel(teacher_config, 4)
    student = WorldModel(preset("tiny").world_model, 6)
    copied = initialise_from_teacher(student, teacher)
    assert "encoder.net.0.weight" in copied and "rssm.img_in_action.weight" in copied
    assert torch.equal(student.encoder.net[0].weight, teacher.encoder.net[0].weight)
    assert torch.equal(student.rssm.img_in_action.weight[:, :4], teacher.rssm.img_in_action.weight)
    assert torch.count_nonzero(student.rssm.img_in_action.weight[:, 4:]) == 0
