"""vid2act_core.trainer_core: the pieces OnlineTrainer and TeacherPretrainer share."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from vid2act_core.config import preset
from vid2act_core.trainer_core import (
    MetricsAccumulator,
    autocast,
    capture_rng_state,
    open_loop_strip,
    restore_rng_state,
    to_torch,
)
from vid2act_core.world_model import WorldModel

CPU = torch.device("cpu")


def test_metrics_accumulator_means_sorted_keys_and_reset() -> None:
    metrics = MetricsAccumulator()
    assert metrics.flush() == {}
    metrics.add({"b": torch.tensor(1.0), "a": torch.tensor(2.0)})
    metrics.add({"b": torch.tensor(3.0), "a": torch.tensor(4.0, dtype=torch.float16)})
    assert len(metrics) == 2
    means = metrics.flush()
    assert list(means) == ["losses/a", "losses/b"]
    assert means == {"losses/a": 3.0, "losses/b": 2.0}
    assert len(metrics) == 0 and metrics.flush() == {}


def test_metrics_accumulator_applies_the_reduction_to_the_means() -> None:
    metrics = MetricsAccumulator(prefix="x/")
    metrics.add({"loss": torch.tensor(4.0)})
    assert metrics.flush(lambda means: means / 2) == {"x/loss": 2.0}


def test_rng_state_round_trip_replays_the_same_draws() -> None:
    rng = np.random.default_rng(5)
    rng.random()
    state = capture_rng_state(rng, CPU, python=True)
    assert set(state) == {"numpy", "torch", "python"}
    expected = (rng.random(), torch.rand(3), random.random())
    rng.random(), torch.rand(3), random.random()  # move every generator on
    restore_rng_state(rng, state, CPU)
    assert rng.random() == expected[0]
    assert torch.equal(torch.rand(3), expected[1])
    assert random.random() == expected[2]
    assert "python" not in capture_rng_state(rng, CPU)


def test_autocast_only_at_precision_16() -> None:
    weight = torch.ones(2, 2)
    with autocast(32, CPU):
        assert (weight @ weight).dtype == torch.float32
    with autocast(16, CPU):
        assert (weight @ weight).dtype == torch.bfloat16


def test_to_torch_keeps_integers_and_flags_and_widens_half_floats() -> None:
    tensors = to_torch(
        {"image": np.zeros((2, 3), np.uint8), "flag": np.ones(2, bool), "feat": np.ones(2, np.float16), "name": np.array(["a"])},
        CPU,
    )
    assert set(tensors) == {"image", "flag", "feat"}
    assert (tensors["image"].dtype, tensors["flag"].dtype, tensors["feat"].dtype) == (torch.uint8, torch.bool, torch.float32)


@pytest.mark.parametrize(("stack", "shape"), [("time", (3 * 6, 64, 192, 3)), ("rows", (6, 3 * 64, 192, 3))])
def test_open_loop_strip_layouts(stack: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    config = preset("tiny")
    model = WorldModel(config.world_model, action_dim=2, image_size=64)
    batch = {
        "image": torch.randint(0, 256, (5, 6, 64, 64, 3), dtype=torch.uint8),
        "action": torch.zeros(5, 6, 2),
        "is_first": torch.zeros(5, 6, dtype=torch.bool),
    }
    strip = open_loop_strip(model, batch, context=2, sequences=3, stack=stack)  # type: ignore[arg-type]
    assert strip.shape == shape and strip.dtype == np.uint8
    # The left third is the ground truth of the first sequences.
    first_truth = strip[:6, :64, :64] if stack == "time" else strip[:, :64, :64]
    np.testing.assert_array_equal(first_truth, batch["image"][0].numpy())
