"""How target actions drive teachers of other action sizes (`transfer.action_mapping`)."""

from __future__ import annotations

import pytest
import torch

from method_fakes import tiny_transfer
from vid2act_core.rssm import RSSM


def test_pad_truncate_and_zero_mappings() -> None:
    _, ensemble, _, _ = tiny_transfer(action_sizes=(2, 4, 3), target_action=3)
    action = torch.tensor([[0.5, -0.25, 0.75]])
    ensemble.action_mapping = "pad_truncate"
    by_index = ensemble.teacher_actions(action)  # (N, 1, A_max = 4)
    assert torch.equal(by_index[0, 0], torch.tensor([0.5, -0.25, 0.75, 0.0]))  # 2-dim teacher reads dims 0-1 (its weights)
    assert torch.equal(by_index[1, 0], torch.tensor([0.5, -0.25, 0.75, 0.0]))  # 4-dim teacher: padded with a zero
    ensemble.action_mapping = "zero"
    zero = ensemble.teacher_actions(action)
    assert torch.count_nonzero(zero[0]) == 0 and torch.count_nonzero(zero[1]) == 0  # other sizes: zero actions
    assert torch.equal(zero[2, 0], torch.tensor([0.5, -0.25, 0.75, 0.0]))  # same size as the target: unchanged
    # Under `zero` a teacher of another size predicts the same whatever the target does.
    state = ensemble.initial(1, "cpu")
    first = RSSM.feature(ensemble.imagine_step(state, action))
    second = RSSM.feature(ensemble.imagine_step(state, -action))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.allclose(first[2], second[2])
    with pytest.raises(ValueError, match="transfer.action_mapping: 'learned'"):
        ensemble.action_mapping = "learned"


def test_the_agent_applies_the_configured_mapping() -> None:
    agent, ensemble, _, _ = tiny_transfer(configure=lambda c: setattr(c.transfer, "action_mapping", "zero"))
    assert ensemble.action_mapping == "zero"
