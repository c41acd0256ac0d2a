"""The probe's controls that train nothing: their errors equal their definitions on hand-made windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vid2act_core.config import preset
from vid2act_core.probe import (
    LastFramePredictor,
    MeanImagePredictor,
    ProbeHistory,
    ProbeSchedule,
    WorldModelPredictor,
    open_loop_errors,
    teacher_predictor,
    train_student,
)
from vid2act_core.world_model import Batch, WorldModel

CONTEXT, HORIZONS = 2, [1, 3]


def hand_windows() -> dict[str, np.ndarray]:
    """Two windows of 5 steps of 1x2 images: frame t of window w is (10 w + 20 t) in every channel; reward w + t."""
    steps = np.arange(5)
    image = np.zeros((2, 5, 1, 2, 3), np.uint8)
    for w in range(2):
        image[w] = (10 * w + 20 * steps).reshape(5, 1, 1, 1)
    image[:, :, 0, 1] += 5  # the second pixel is 5 brighter
    reward = np.stack([w + steps for w in range(2)]).astype(np.float32)
    return {"image": image, "action": np.zeros((2, 5, 3), np.float32), "reward": reward, "is_first": np.zeros((2, 5), bool)}


def test_last_frame_predicts_the_last_context_frame_and_reward() -> None:
    data = hand_windows()
    metrics = open_loop_errors(LastFramePredictor(), data, CONTEXT, HORIZONS)
    # Last context frame is t = 1; predicted steps t = 2, 3, 4 differ by 20 (k = 1, 2, 3) grey levels in every pixel.
    assert metrics["image_mse_1"] == pytest.approx((20 / 255) ** 2, rel=1e-5)
    assert metrics["image_mse_3"] == pytest.approx(np.mean([(20 * k / 255) ** 2 for k in (1, 2, 3)]), rel=1e-5)
    # Rewards w + 1 against w + t: errors 1, 2, 3.
    assert metrics["reward_mse_1"] == pytest.approx(1.0)
    assert metrics["reward_mse_3"] == pytest.approx((1 + 4 + 9) / 3)


def test_mean_image_predicts_the_per_pixel_training_mean_and_the_mean_reward() -> None:
    data = hand_windows()
    train = [{"image": np.full((3, 1, 2, 3), 51, np.uint8), "reward": np.array([0.0, 1.0, 2.0], np.float32)},
             {"image": np.full((1, 1, 2, 3), 255, np.uint8), "reward": np.array([5.0], np.float32)}]
    train[1]["image"][0, 0, 1] = 0  # pixel 1 of the last frame is black
    predictor = MeanImagePredictor.from_episodes(train)
    expected = np.array([(3 * 51 + 255) / 4, (3 * 51 + 0) / 4]) / 255  # per pixel, every frame weighted equally
    np.testing.assert_allclose(predictor.mean_image[0, :, 0].numpy(), expected, rtol=1e-6)
    assert predictor.mean_reward == pytest.approx(2.0)  # (0 + 1 + 2 + 5) / 4
    metrics = open_loop_errors(predictor, data, CONTEXT, HORIZONS)
    truth = data["image"][:, CONTEXT:].astype(np.float64) / 255
    for h in HORIZONS:
        assert metrics[f"image_mse_{h}"] == pytest.approx(((truth[:, :h] - expected.reshape(1, 1, 2, 1)) ** 2).mean(), rel=1e-5)
        assert metrics[f"reward_mse_{h}"] == pytest.approx(((data["reward"][:, CONTEXT:CONTEXT + h] - 2.0) ** 2).mean(), rel=1e-5)


def test_a_teacher_predicts_images_only_with_the_actions_mapped_to_its_size() -> None:
    config = preset("tiny")
    config.world_model.use_reward_head = False
    torch.manual_seed(0)
    teacher = WorldModel(config.world_model, 2, 64).eval()  # a 2-dim teacher under a 3-dim target
    rng = np.random.default_rng(0)
    data = {"image": rng.integers(0, 255, (2, 6, 64, 64, 3), dtype=np.uint8), "action": rng.uniform(-1, 1, (2, 6, 3)).astype(np.float32),
            "reward": rng.normal(size=(2, 6)).astype(np.float32), "is_first": np.zeros((2, 6), bool)}
    metrics = open_loop_errors(teacher_predictor(teacher, "pad_truncate"), data, CONTEXT, [4])
    assert set(metrics) == {"image_mse_4"}  # no reward head, no reward error
    truncated = {**data, "action": data["action"][..., :2]}
    assert metrics == pytest.approx(open_loop_errors(WorldModelPredictor(teacher, rewards=False), truncated, CONTEXT, [4]))
    zero = {**data, "action": np.zeros_like(data["action"][..., :2])}
    assert open_loop_errors(teacher_predictor(teacher, "zero"), data, CONTEXT, [4]) == pytest.approx(
        open_loop_errors(WorldModelPredictor(teacher, rewards=False), zero, CONTEXT, [4]))


class DiagnosingStudent:
    """Reports `diag/x` = the update count at every third update and `diag/y` = 1 at update 2 only."""

    world_model = None

    def __init__(self) -> None:
        self.calls = 0

    def train_world_model(self, batch: Batch) -> tuple[None, dict[str, torch.Tensor]]:
        self.calls += 1
        metrics = {"image_loss": torch.tensor(1.0)}
        if self.calls % 3 == 0:
            metrics["diag/x"] = torch.tensor(float(self.calls))
        if self.calls == 2:
            metrics["diag/y"] = torch.tensor(1.0)
        return None, metrics


class Source:
    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"image": np.zeros((batch_size, length, 1, 1, 3), np.uint8)}


def test_train_student_records_diagnostics_where_reported_and_their_last_quarter_mean() -> None:
    history = train_student(DiagnosingStudent(), Source(), ProbeSchedule(12, 1, 2, 4), np.random.default_rng(0), torch.device("cpu"),
                            teacher_columns=None, teacher_names=[])
    assert history.updates == 12
    assert history.diagnostic_updates == [2, 3, 6, 9, 12]
    assert history.diagnostics[0] == {"diag/y": 1.0} and history.diagnostics[1] == {"diag/x": 3.0}
    # Last quarter: updates 10-12, where diag/x was reported at 12; diag/y never there, so its last value.
    assert history.final_diagnostics() == pytest.approx({"diag/x": 12.0, "diag/y": 1.0})
    assert history.final_diagnostics(0.5) == pytest.approx({"diag/x": 10.5, "diag/y": 1.0})  # updates 7-12: 9 and 12
    assert ProbeHistory(teacher_names=[]).final_diagnostics() == {}
