"""Discriminating selection (issue 11): with the default scorer the teacher trained on the target's own
dynamics gets the top weight, at every position in the teacher list and for each of 3 seeds.

The teachers are pretrained once per session (module fixture); docs/method.md has the table for
every scorer (`benchmarks/selection_scorers.py`).
"""

from __future__ import annotations

import pytest
import torch

from selection_world import RELATED, pretrain_teachers, rotations, student_weights
from vid2act_core.config import TransferConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teachers():
    torch.set_num_threads(1)
    return pretrain_teachers()


def test_default_scorer_puts_the_related_teacher_on_top_at_every_position_and_seed(teachers) -> None:
    default = TransferConfig()
    outcomes = {}
    for seed in range(3):
        for order in rotations():
            weights = student_weights(teachers, order, default.scorer, default.distill_heads, seed, updates=20)
            outcomes[(seed, order.index(RELATED))] = weights
    losers = {key: weights for key, weights in outcomes.items() if max(weights, key=weights.get) != RELATED}
    assert not losers, f"(seed, position of {RELATED}) -> W where another teacher won: {losers}"
    # Not by a hair: the related teacher holds most of the weight.
    assert min(weights[RELATED] for weights in outcomes.values()) > 0.5
