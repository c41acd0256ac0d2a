"""The probe's measurements equal their definitions on models whose predictions are set by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from vid2act_core.config import preset
from vid2act_core.probe import (
    OpenLoopPrediction,
    ProbeHistory,
    ProbeSchedule,
    WorldModelPredictor,
    fixed_windows,
    open_loop_errors,
    train_student,
)
from vid2act_core.world_model import Batch, WorldModel

CONTEXT, HORIZONS = 2, [3, 6]


def windows(count: int = 5, length: int = CONTEXT + 6, seed: int = 0, size: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "image": rng.integers(50, 150, (count, length, size, size, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (count, length, 3)).astype(np.float32),
        "reward": rng.normal(size=(count, length)).astype(np.float32),
        "is_first": np.zeros((count, length), dtype=bool),
    }


class OffsetPredictor:
    """Predicts truth + 0.1 (images) and reward + 1 for the first 3 predicted steps, + 0.2 and + 2 after."""

    def __init__(self) -> None:
        self.contexts: list[int] = []

    def predict(self, batch: Batch, context: int) -> OpenLoopPrediction:
        self.contexts.append(context)
        images = batch["image"][:, context:].float() / 255.0
        rewards = batch["reward"][:, context:].float()
        steps = torch.arange(images.shape[1])
        image_offset = torch.where(steps < 3, 0.1, 0.2).reshape(1, -1, 1, 1, 1)
        reward_offset = torch.where(steps < 3, 1.0, 2.0).reshape(1, -1)
        return OpenLoopPrediction(images=images + image_offset, rewards=rewards + reward_offset)


def test_open_loop_errors_are_the_mean_squared_errors_over_each_horizon() -> None:
    predictor = OffsetPredictor()
    metrics = open_loop_errors(predictor, windows(), CONTEXT, HORIZONS, windows_per_call=2)  # chunks of 2, 2, 1
    assert metrics["image_mse_3"] == pytest.approx(0.1**2, rel=1e-5)
    assert metrics["image_mse_6"] == pytest.approx((3 * 0.1**2 + 3 * 0.2**2) / 6, rel=1e-5)
    assert metrics["reward_mse_3"] == pytest.approx(1.0, rel=1e-5)
    assert metrics["reward_mse_6"] == pytest.approx((3 * 1.0 + 3 * 4.0) / 6, rel=1e-5)
    assert predictor.contexts == [CONTEXT] * 3


class ConstantImage(nn.Module):
    """A decoder whose every pixel is 0.1 in the decoder's [-0.5, 0.5] range, i.e. 0.6 as an image."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.full((*features.shape[:-1], 3, 64, 64), 0.1)


class ConstantReward(nn.Module):
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.full((*features.shape[:-1], 1), 3.0)


def test_world_model_predictor_errors_equal_the_definition_for_a_hand_set_model() -> None:
    config = preset("tiny")
    torch.manual_seed(0)
    model = WorldModel(config.world_model, 3, 64)
    model.decoder, model.reward_head = ConstantImage(), ConstantReward()
    data = windows(count=3, size=64)
    metrics = open_loop_errors(WorldModelPredictor(model), data, CONTEXT, HORIZONS)
    truth = data["image"][:, CONTEXT:].astype(np.float64) / 255.0
    rewards = data["reward"][:, CONTEXT:].astype(np.float64)
    for horizon in HORIZONS:
        assert metrics[f"image_mse_{horizon}"] == pytest.approx(((0.6 - truth[:, :horizon]) ** 2).mean(), rel=1e-5)
        assert metrics[f"reward_mse_{horizon}"] == pytest.approx(((3.0 - rewards[:, :horizon]) ** 2).mean(), rel=1e-5)


def test_world_model_predictor_images_are_the_open_loop_predictions() -> None:
    config = preset("tiny")
    torch.manual_seed(1)
    model = WorldModel(config.world_model, 3, 64).eval()
    batch = {key: torch.as_tensor(value) for key, value in windows(count=2, size=64).items()}
    batch["is_first"][1, 5] = True  # an episode starts inside the window: both reset there
    _, reference = model.open_loop(batch, CONTEXT)
    prediction = WorldModelPredictor(model).predict(batch, CONTEXT)
    rounded = (prediction.images * 255).round()
    assert prediction.images.shape == (2, 6, 64, 64, 3) and prediction.rewards.shape == (2, 6)
    assert (rounded - reference[:, CONTEXT:].float()).abs().max() <= 1.0
    assert (rounded - reference[:, CONTEXT:].float()).abs().mean() < 0.01


def test_open_loop_errors_refuse_a_horizon_beyond_the_window() -> None:
    with pytest.raises(ValueError, match="horizon 7"):
        open_loop_errors(OffsetPredictor(), windows(), CONTEXT, [3, 7])


def test_fixed_windows_are_evenly_spaced_and_deterministic() -> None:
    episode = {"image": np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1).repeat(3, -1), "action": np.zeros((20, 2), np.float32),
               "reward": np.arange(20, dtype=np.float32), "is_first": np.arange(20) == 0}
    result = fixed_windows([episode, episode], 8, 3)
    assert result["reward"].shape == (6, 8)
    assert result["reward"][:3, 0].tolist() == [0.0, 6.0, 12.0]  # starts 0, (20-8)/2, 20-8
    assert result["is_first"][:, 0].tolist() == [True, False, False] * 2
    np.testing.assert_array_equal(fixed_windows([episode, episode], 8, 3)["image"], result["image"])
    with pytest.raises(ValueError, match="held-out episode 0 has 20 steps"):
        fixed_windows([episode], 21, 1)


class ScriptedStudent:
    """At update u reports W(b) = u / 8 and W(a) = 1 - u / 8, and records the teacher columns it saw."""

    def __init__(self) -> None:
        self.world_model = None
        self.seen: list[torch.Tensor] = []
        self.seen_posteriors: list[torch.Tensor] = []
        self.calls = 0

    def train_world_model(self, batch: Batch) -> tuple[None, dict[str, torch.Tensor]]:
        self.calls += 1
        self.seen.append(batch.get("teacher_feat"))
        self.seen_posteriors.append(batch.get("teacher_post"))
        share = self.calls / 8
        return None, {"weight/b": torch.tensor(share), "weight/a": torch.tensor(1 - share), "image_loss": torch.tensor(float(self.calls))}


class ColumnSource:
    """Windows whose teacher_feat column i holds the value i, teacher_post column i the value 10 + i."""

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        features = np.broadcast_to(np.arange(3, dtype=np.float16).reshape(1, 1, 3, 1), (batch_size, length, 3, 2)).copy()
        return {"image": np.zeros((batch_size, length, 1, 1, 3), np.uint8), "teacher_feat": features, "teacher_post": features + 10}


def test_train_student_records_weights_per_teacher_name_and_their_last_quarter_mean() -> None:
    student = ScriptedStudent()
    history = train_student(student, ColumnSource(), ProbeSchedule(8, 2, 4, 3), np.random.default_rng(0), torch.device("cpu"),
                            teacher_columns=[2, 0], teacher_names=["b", "a"])
    assert all(seen.shape == (2, 4, 2, 2) and seen[..., 0, 0].eq(2).all() and seen[..., 1, 0].eq(0).all() for seen in student.seen)
    assert all(seen[..., 0, 0].eq(12).all() and seen[..., 1, 0].eq(10).all() for seen in student.seen_posteriors)
    assert history.weights[0] == pytest.approx([1 / 8, 7 / 8])
    assert history.final_weights() == pytest.approx({"b": 7.5 / 8, "a": 0.5 / 8})  # updates 7 and 8
    updates, curve = history.weight_curve(3)
    assert updates == [3, 6, 8]
    assert curve[2]["b"] == pytest.approx(7.5 / 8)
    assert history.log_updates == [3, 6, 8]
    assert [row["image_loss"] for row in history.log_losses] == pytest.approx([2.0, 5.0, 7.5])


def test_train_student_without_teachers_hides_the_stored_features() -> None:
    student = ScriptedStudent()
    history = train_student(student, ColumnSource(), ProbeSchedule(2, 1, 4, 1), np.random.default_rng(0), torch.device("cpu"),
                            teacher_columns=None, teacher_names=["a", "b", "c"])
    assert student.seen == [None, None] and student.seen_posteriors == [None, None]
    assert history.final_weights() == {} and history.weights == []


def test_history_final_weights_of_a_short_run_use_at_least_one_update() -> None:
    history = ProbeHistory(teacher_names=["a", "b"], weights=[[0.2, 0.8], [0.4, 0.6]])
    assert history.final_weights() == pytest.approx({"a": 0.4, "b": 0.6})
