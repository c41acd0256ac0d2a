"""The probe's controls that train nothing: what a distilled student has to beat to have learned anything.

- `MeanImagePredictor`: every predicted frame is the per-pixel mean of the training images, every
  predicted reward the mean training reward (what a model that ignores the context and the actions
  can do at best in squared error, for a fixed image).
- `LastFramePredictor`: every predicted frame is the last context frame and every predicted reward
  the last context reward (a still scene).
- `teacher_predictor`: a frozen teacher's own open-loop prediction of the target (zero-shot: it never
  saw the target), with the target's actions mapped as transfer maps them; images only (teachers have
  no reward head).

All are deterministic: one seed is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from vid2act_core.probe.metrics import OpenLoopPrediction, WorldModelPredictor
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.world_model import Batch, WorldModel

TRIVIAL_PREDICTORS = ("mean-image", "last-frame")
"""Predictors that use no source: they bound what a still or average scene gives."""
PREDICTORS = (*TRIVIAL_PREDICTORS, "teacher")
"""Controls that are predictors, not trained students."""


class MeanImagePredictor:
    """Predicts the mean training image (per pixel, in [0, 1]) and the mean training reward at every step."""

    def __init__(self, mean_image: np.ndarray, mean_reward: float) -> None:
        self.mean_image = torch.as_tensor(np.asarray(mean_image, dtype=np.float32))
        self.mean_reward = float(mean_reward)

    @classmethod
    def from_episodes(cls, episodes: Sequence[Mapping[str, np.ndarray]]) -> MeanImagePredictor:
        """The mean over every frame (and every reward) of `episodes`, each frame weighted equally."""
        if not episodes:
            raise ValueError("the mean-image control needs at least one training episode")
        total = sum(np.asarray(episode["image"], dtype=np.float64).sum(0) for episode in episodes)
        frames = sum(len(episode["image"]) for episode in episodes)
        rewards = np.concatenate([np.asarray(episode["reward"], dtype=np.float64) for episode in episodes])
        return cls(total / frames / 255.0, float(rewards.mean()))

    def predict(self, batch: Batch, context: int) -> OpenLoopPrediction:
        count, steps = batch["action"].shape[0], batch["action"].shape[1] - context
        device = batch["action"].device
        images = self.mean_image.to(device).expand(count, steps, *self.mean_image.shape)
        return OpenLoopPrediction(images=images, rewards=torch.full((count, steps), self.mean_reward, device=device))


class LastFramePredictor:
    """Predicts the last context frame and the last context reward at every later step."""

    def predict(self, batch: Batch, context: int) -> OpenLoopPrediction:
        steps = batch["action"].shape[1] - context
        last = batch["image"][:, context - 1].float() / 255.0
        images = last.unsqueeze(1).expand(last.shape[0], steps, *last.shape[1:])
        rewards = batch["reward"][:, context - 1].float().unsqueeze(1).expand(-1, steps)
        return OpenLoopPrediction(images=images, rewards=rewards)


def teacher_predictor(teacher: WorldModel, action_mapping: str) -> WorldModelPredictor:
    """A frozen teacher's open-loop prediction: target actions mapped by `action_mapping` (transfer.action_mapping)
    to the teacher's action size, as the teacher ensemble maps them in transfer; no rewards."""
    mapping = TeacherEnsemble([teacher], ["teacher"], action_mapping)

    def actions(target: torch.Tensor) -> torch.Tensor:
        return mapping.teacher_actions(target)[0][..., : teacher.action_dim]

    return WorldModelPredictor(teacher, actions=actions, rewards=False)
