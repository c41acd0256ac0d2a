"""What the dynamics-transfer probe measures on held-out target episodes.

Open-loop prediction: the student filters the first `context` frames of a window, then predicts
the rest from the actions alone (its priors, means, no samples). Over the first h predicted steps:

- image error: mean over windows, steps, pixels and channels of (prediction - truth)^2, images in
  [0, 1] (the decoder's output clamped to [0, 1], not rounded to 8 bits);
- reward error: mean over windows and steps of (predicted reward - reward)^2, the reward head read
  on the predicted (prior) state of step t against `reward[t]`, the reward of the transition into t
  (absent for a predictor without rewards, e.g. a teacher: teachers are trained without rewards).

The windows are fixed (`fixed_windows`), the same for every configuration and seed, so that the
configurations are compared on the same frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from vid2act_core.world_model import Batch, WorldModel

WINDOW_KEYS = ("image", "action", "reward", "is_first")
"""The episode arrays an evaluation window carries."""


@dataclass
class OpenLoopPrediction:
    """Predictions for the steps after the context: images (B, P, H, W, 3) float in [0, 1], rewards (B, P)
    (None: the predictor predicts no rewards)."""

    images: torch.Tensor
    rewards: torch.Tensor | None


class OpenLoopPredictor(Protocol):
    """A model that predicts a window's frames and rewards after its first `context` steps from actions alone."""

    def predict(self, batch: Batch, context: int) -> OpenLoopPrediction: ...


class WorldModelPredictor:
    """`OpenLoopPredictor` of a `WorldModel`: the rollout of `WorldModel.open_loop`, with rewards and unrounded images.

    actions: what the model is given for the window's actions (default: them unchanged; a teacher of
    another action size gets them as transfer maps them). rewards: False for a model without a reward head.
    """

    def __init__(self, world_model: WorldModel, actions: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 rewards: bool = True) -> None:
        self.world_model = world_model
        self.actions = actions
        self.rewards = rewards

    @torch.no_grad()
    def predict(self, batch: Batch, context: int) -> OpenLoopPrediction:
        model = self.world_model
        actions = batch["action"] if self.actions is None else self.actions(batch["action"])
        observed = {"image": batch["image"][:, :context], "action": actions[:, :context], "is_first": batch["is_first"][:, :context]}
        output = model.observe(observed, sample=False)
        state = {key: value[:, -1] for key, value in output.posts.items()}
        features = []
        for t in range(context, actions.shape[1]):
            state, action = model.rssm.reset_where_first(state, actions[:, t], batch["is_first"][:, t])
            state = model.rssm.img_step(state, action, sample=False)
            features.append(model.rssm.feature(state))
        stacked = torch.stack(features, 1)
        images = (model.decoder(stacked).float() + 0.5).clamp(0, 1).permute(0, 1, 3, 4, 2)
        return OpenLoopPrediction(images=images, rewards=model.reward(stacked) if self.rewards else None)


def fixed_windows(episodes: Sequence[Mapping[str, np.ndarray]], length: int, per_episode: int) -> dict[str, np.ndarray]:
    """`per_episode` windows of `length` steps from each episode, evenly spaced from its start to its end.

    Deterministic (no random draw). Returns arrays (W, length, ...) for `WINDOW_KEYS`; the first step of
    each window is marked `is_first` only where it is an episode start. Raises a one-line ValueError
    for an episode shorter than a window.
    """
    if per_episode < 1:
        raise ValueError(f"windows per episode must be >= 1, got {per_episode}")
    windows: dict[str, list[np.ndarray]] = {key: [] for key in WINDOW_KEYS}
    for index, episode in enumerate(episodes):
        steps = len(episode["action"])
        if steps < length:
            raise ValueError(f"held-out episode {index} has {steps} steps, fewer than one evaluation window of {length}")
        for start in np.linspace(0, steps - length, per_episode).round().astype(int):
            for key in WINDOW_KEYS:
                windows[key].append(np.asarray(episode[key][start : start + length]))
    return {key: np.stack(values) for key, values in windows.items()}


def _check_horizons(horizons: Sequence[int], predicted: int) -> None:
    for horizon in horizons:
        if not 1 <= horizon <= predicted:
            raise ValueError(f"horizon {horizon}: must be between 1 and the {predicted} predicted steps of a window")


def open_loop_errors(
    predictor: OpenLoopPredictor,
    windows: Mapping[str, np.ndarray],
    context: int,
    horizons: Sequence[int],
    device: torch.device | str = "cpu",
    windows_per_call: int = 16,
) -> dict[str, float]:
    """`image_mse_<h>` and `reward_mse_<h>` for every horizon h (module docstring), over all `windows`
    (no `reward_mse_<h>` when the predictor predicts no rewards).

    windows: arrays (W, L, ...) as `fixed_windows` returns; evaluated `windows_per_call` at a time.
    """
    total = int(windows["action"].shape[0])
    predicted = int(windows["action"].shape[1]) - context
    if context < 1:
        raise ValueError(f"context must be >= 1 observed frame, got {context}")
    _check_horizons(horizons, predicted)
    image_sums = {h: 0.0 for h in horizons}
    reward_sums: dict[int, float] | None = {h: 0.0 for h in horizons}
    for begin in range(0, total, windows_per_call):
        chunk = {key: torch.as_tensor(np.ascontiguousarray(windows[key][begin : begin + windows_per_call])).to(device)
                 for key in WINDOW_KEYS}
        chunk["action"] = chunk["action"].float()
        prediction = predictor.predict(chunk, context)
        truth_images = chunk["image"][:, context:].float() / 255.0
        truth_rewards = chunk["reward"][:, context:].float()
        image_errors = (prediction.images.float() - truth_images).square().mean((2, 3, 4))  # (B, P)
        for h in horizons:
            image_sums[h] += float(image_errors[:, :h].mean(1).sum())
        if prediction.rewards is None:
            reward_sums = None
        elif reward_sums is not None:
            reward_errors = (prediction.rewards.float() - truth_rewards).square()
            for h in horizons:
                reward_sums[h] += float(reward_errors[:, :h].mean(1).sum())
    metrics = {f"image_mse_{h}": image_sums[h] / total for h in horizons}
    if reward_sums is not None:
        metrics.update({f"reward_mse_{h}": reward_sums[h] / total for h in horizons})
    return metrics
