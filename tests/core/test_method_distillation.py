"""Eq. 4's target is the student prior's mean, and burn-in steps contribute no gradient."""

from __future__ import annotations

import torch

from method_fakes import tiny_transfer
from vid2act_core.config import TransferConfig
from vid2act_core.rssm import RSSM
from vid2act_core.transfer import TaskSelectiveDistillation


def test_distillation_target_is_the_prior_mean_not_a_sample() -> None:
    def configure(config) -> None:
        config.transfer.distill_burn_in = 0
        config.transfer.scorer = "paper"  # a W that does not change between the calls below
        config.transfer.distill_form = "paper"  # a target without running statistics (they advance per call)

    agent, _, batch, _ = tiny_transfer(configure=configure)
    output = agent.world_model.observe(batch)
    loss, _ = agent.extra_world_model_loss(batch, output)
    # Replacing the prior's sample by noise changes nothing; the loss equals Eq. 4 on concat(deter, mean).
    noisy = dict(output.priors, stoch=torch.randn_like(output.priors["stoch"]) * 10)
    noisy_loss, _ = agent.extra_world_model_loss(batch, type(output)(posts=output.posts, priors=noisy, embeds=output.embeds))
    assert torch.equal(loss, noisy_loss)
    mean_feature = torch.cat([output.priors["deter"], output.priors["mean"]], -1)
    by_hand, _, _ = agent.distillation.loss(batch["teacher_feat"], mean_feature)
    assert torch.allclose(loss, agent.config.transfer.alpha * by_hand)
    assert not torch.allclose(mean_feature, RSSM.feature(output.priors))


def test_burn_in_steps_contribute_zero_gradient() -> None:
    torch.manual_seed(0)
    distill = TaskSelectiveDistillation(3, 2, TransferConfig(distill_units=8, distill_layers=1, distill_burn_in=3, scorer="paper", distill_form="paper", distill_reduction="sum"), 2)
    teachers = torch.randn(2, 6, 2, 3)
    student = torch.randn(2, 6, 2, requires_grad=True)
    is_first = torch.zeros(2, 6, dtype=torch.bool)
    is_first[1, 1] = True  # an episode starts inside row 1's window: both models start from zero there
    loss, _, valid = distill.loss(teachers, student, is_first)
    loss.backward()
    expected_valid = torch.tensor([[False] * 3 + [True] * 3, [False] + [True] * 5])
    assert torch.equal(valid, expected_valid)
    assert torch.count_nonzero(student.grad[~expected_valid]) == 0
    assert (student.grad[expected_valid].abs().sum(-1) > 0).all()
    # Teacher features at burn-in steps do not change the loss.
    changed = teachers.clone()
    changed[0, :3] = torch.randn(3, 2, 3) * 100
    changed_loss, _, _ = distill.loss(changed, student.detach(), is_first)
    assert torch.allclose(changed_loss, loss.detach())
    # The mean is over valid frames only (not diluted by masked ones).
    no_burn_in = TaskSelectiveDistillation(3, 2, TransferConfig(distill_units=8, distill_layers=1, distill_burn_in=0, scorer="paper", distill_form="paper", distill_reduction="sum"), 2)
    no_burn_in.load_state_dict(distill.state_dict())
    _, weights, _ = no_burn_in.loss(teachers, student.detach())
    per_frame = (weights * (student.detach().unsqueeze(-2) - distill.transferable(teachers)).square().sum(-1)).sum(-1)
    assert torch.allclose(loss.detach(), per_frame[expected_valid].mean(), atol=1e-6)
