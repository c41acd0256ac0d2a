"""Per-step task selection in imagination (Algorithm 1, lines 12-14) and the teachers' imagined steps."""

from __future__ import annotations

import torch

from method_fakes import tiny_transfer
from vid2act_core.rssm import RSSM, detach_state, flatten_state


def _sharp_scorer(agent) -> None:
    """Large paper-scorer weights, so that argmax W follows small changes of the teachers' states."""
    with torch.no_grad():
        agent.distillation.f_weight.weight.mul_(200.0)


def _rollout_selection(selection: str):
    def configure(config) -> None:
        config.transfer.imagination_selection = selection
        config.transfer.scorer = "paper"  # per-frame W (prediction_error has one W per run)

    agent, ensemble, batch, _ = tiny_transfer(action_sizes=(2, 4, 3), batch_size=4, configure=configure)
    _sharp_scorer(agent)
    output = agent.world_model.observe(batch)
    condition = agent.imagination_condition(batch, output)
    start = flatten_state(detach_state(output.posts))
    agent.actor_critic.imagine(agent.world_model, start, condition)
    return agent, ensemble, batch, output, torch.stack(condition.selected, 1)  # (M, H)


def test_per_step_selection_can_change_k_within_one_rollout() -> None:
    agent, ensemble, batch, output, selected = _rollout_selection("per_step")
    assert selected.shape == (4 * 8, agent.config.actor_critic.horizon)
    assert (selected[:, 1:] != selected[:, :-1]).any(dim=1).any()
    # The first k comes from the stored teacher priors and the student's prior mean at the start state.
    weights = agent.distillation.weights(batch["teacher_feat"].flatten(0, 1), RSSM.mean_feature(output.priors).flatten(0, 1))
    assert torch.equal(selected[:, 0], weights.argmax(-1))


def test_per_rollout_selection_keeps_k_for_the_whole_rollout() -> None:
    _, _, _, _, selected = _rollout_selection("per_rollout")
    assert torch.equal(selected, selected[:, :1].expand_as(selected))


def test_teacher_imagine_step_from_the_cached_posterior_reproduces_the_stored_prior() -> None:
    _, ensemble, batch, _ = tiny_transfer(action_sizes=(2, 4, 3))
    posts = batch["teacher_post"][:, 3].transpose(0, 1)  # (N, B, F): posteriors at t = 3
    imagined = ensemble.imagine_step(ensemble.state_from_features(posts), batch["action"][:, 4])
    # The teachers' one-step predictions for t = 4, as filtering stored them.
    assert torch.allclose(RSSM.feature(imagined).transpose(0, 1), batch["teacher_feat"][:, 4], atol=1e-5)


def test_per_step_with_a_per_run_scorer_rolls_no_teacher_and_keeps_k(monkeypatch) -> None:
    """prediction_error gives one W per run: per-step selection must equal per-rollout, without teacher steps."""

    def configure(config) -> None:
        config.transfer.imagination_selection = "per_step"
        config.transfer.scorer = "prediction_error"

    agent, ensemble, batch, _ = tiny_transfer(action_sizes=(2, 4, 3), batch_size=4, configure=configure)
    agent.distillation.f_weight.error_ema.copy_(torch.tensor([0.5, 0.1, 0.9]))  # teacher 1 predicts best
    agent.distillation.f_weight.updates.fill_(1)
    calls = []
    monkeypatch.setattr(ensemble, "imagine_step", lambda *args: calls.append(args))
    output = agent.world_model.observe(batch)
    condition = agent.imagination_condition(batch, output)
    agent.actor_critic.imagine(agent.world_model, flatten_state(detach_state(output.posts)), condition)
    selected = torch.stack(condition.selected, 1)
    assert calls == [] and condition.teacher_state is None
    assert torch.equal(selected, torch.ones_like(selected))  # argmax W = teacher 1 at every imagined step
