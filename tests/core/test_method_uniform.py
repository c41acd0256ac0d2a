"""Uniform-weights ablation changes W only: k drawn uniformly per step, G fed one-hot labels, no selected teacher."""

from __future__ import annotations

import torch

from method_fakes import prefer_teacher, tiny_transfer
from vid2act_core.transfer import UNIFORM_SELECTION


def _uniform(config) -> None:
    config.transfer.uniform_weights = True


def _recording_labels(agent) -> list[torch.Tensor]:
    """Wrap G's guidance so that every label it receives is recorded."""
    seen: list[torch.Tensor] = []
    original = agent.vae.guidance

    def guidance(states, labels, sample=True):
        seen.append(labels.detach().clone())
        return original(states, labels, sample)

    agent.vae.guidance = guidance
    return seen


def test_uniform_ablation_feeds_g_one_hot_labels_drawn_per_step() -> None:
    agent, _, batch, _ = tiny_transfer(action_sizes=(2, 4, 3), configure=_uniform, batch_size=4)
    seen = _recording_labels(agent)
    output, metrics = agent.train_world_model(batch)
    assert torch.allclose(torch.stack([metrics[f"weight/t{i}"] for i in range(3)]), torch.full((3,), 1 / 3))
    agent.train_behaviour(batch, output)
    obs = {"image": batch["image"][:1, 0], "is_first": torch.tensor([True])}
    _, state = agent.policy(obs, None, "explore")
    for t in range(1, 6):
        _, state = agent.policy({"image": batch["image"][:1, t], "is_first": torch.tensor([False])}, state, "explore")
    labels = torch.cat(seen)
    assert len(seen) == agent.config.actor_critic.horizon + 6
    # Only one-hot labels, never the uniform vector G was not trained on.
    assert torch.equal(labels.sum(-1), torch.ones(len(labels))) and set(labels.unique().tolist()) == {0.0, 1.0}
    # k is drawn, not argmax of tied weights (which would always be teacher 0): every teacher is drawn.
    assert set(labels.argmax(-1).tolist()) == {0, 1, 2}
    # Within one imagined rollout k changes between steps.
    imagined = torch.stack([label.argmax(-1) for label in seen[: agent.config.actor_critic.horizon]], 1)
    assert (imagined[:, 1:] != imagined[:, :-1]).any()


def test_uniform_draws_are_seeded_and_metrics_name_no_teacher() -> None:
    draws = []
    for _ in range(2):
        agent, _, batch, _ = tiny_transfer(configure=_uniform)
        seen = _recording_labels(agent)
        output, _ = agent.train_world_model(batch)
        agent.train_behaviour(batch, output)
        draws.append(torch.cat(seen).argmax(-1))
    assert torch.equal(draws[0], draws[1])
    obs = {"image": batch["image"][:1, 0], "is_first": torch.tensor([True])}
    agent.policy(obs, None, "explore")
    assert agent.acting_metrics() == {f"selected/{UNIFORM_SELECTION}": 1.0}
    # The generator's state travels in the checkpoint, so a resumed run continues the same draws.
    checkpoint = agent.checkpoint()
    expected = agent.selector.select(torch.zeros(16, 2))
    agent.selector.select(torch.zeros(5, 2))
    agent.restore(checkpoint)
    assert torch.equal(agent.selector.select(torch.zeros(16, 2)), expected)


def test_learned_weights_select_argmax_and_name_teachers() -> None:
    agent, _, batch, _ = tiny_transfer()
    prefer_teacher(agent, 1)  # W = (1/3, 2/3): tied weights would hide argmin, both give teacher 0
    obs = {"image": batch["image"][:1, 0], "is_first": torch.tensor([True])}
    _, state = agent.policy(obs, None, "explore")
    assert torch.allclose(state["task_weights"], torch.tensor([[1 / 3, 2 / 3]]))
    assert state["selected_task"].tolist() == [1]
    _, state = agent.policy({"image": batch["image"][:1, 1], "is_first": torch.tensor([False])}, state, "explore")
    assert agent.acting_metrics() == {"selected/t0": 0.0, "selected/t1": 1.0, "selection_switch_rate": 0.0}
