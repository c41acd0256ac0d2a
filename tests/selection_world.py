"""The discriminating selection setup: three tiny teachers, exactly one trained on the target's dynamics.

Colour world: every 64x64 frame is one colour whose (red, green) is a 2-d state in [0, 1] (blue
fixed). Dynamics, one per teacher:
- `drive`: the state moves by 0.25 x the 2-d action (the target's dynamics);
- `drift`: it moves with its own constant velocity, bouncing at the edges, whatever the action;
- `jitter`: it moves by Gaussian noise, whatever the action.
Each teacher (preset `tiny` world model, no reward head) is pretrained on its own dynamics; the
target's episodes are other `drive` episodes. A student (`TransferAgent`, guidance off) then runs
its world-model updates on target windows with the teachers' stored priors and posteriors, exactly
as transfer reads them from its replay; the test reads W from the update's `weight/<teacher>`
metrics. A colour (rather than a moving object) keeps the state easy to see for a tiny encoder, so
the teachers learn their dynamics in 150 updates.
"""

from __future__ import annotations

import numpy as np
import torch

from vid2act_core.config import preset
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.transfer import TransferAgent
from vid2act_core.world_model import WorldModel

DYNAMICS = ("drive", "drift", "jitter")
RELATED = "drive"
"""The teacher trained on the target's dynamics."""
WINDOW = 10
BATCH = 8


def colour_episodes(kind: str, count: int, length: int, seed: int) -> dict[str, torch.Tensor]:
    """`count` episodes of `kind` dynamics: image (count, length, 64, 64, 3) uint8, action (count, length, 2), is_first."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, length, 64, 64, 3), np.uint8)
    actions = np.zeros((count, length, 2), np.float32)
    for episode in range(count):
        state = rng.uniform(0.2, 0.8, 2)
        velocity = rng.normal(0, 1, 2)
        velocity = 0.15 * velocity / np.linalg.norm(velocity)
        for t in range(length):
            if t > 0:
                action = rng.uniform(-1, 1, 2).astype(np.float32)
                actions[episode, t] = action
                if kind == "drive":
                    state = state + 0.25 * action
                elif kind == "drift":
                    state = state + velocity
                    velocity = np.where((state < 0) | (state > 1), -velocity, velocity)
                elif kind == "jitter":
                    state = state + rng.normal(0, 0.15, 2)
                else:
                    raise ValueError(f"unknown dynamics {kind!r}")
                state = np.clip(state, 0, 1)
            images[episode, t, :, :, :2] = (state * 255).astype(np.uint8)
            images[episode, t, :, :, 2] = 128
    is_first = np.zeros((count, length), bool)
    is_first[:, 0] = True
    return {"image": torch.from_numpy(images), "action": torch.from_numpy(actions), "is_first": torch.from_numpy(is_first)}


def windows(data: dict[str, torch.Tensor], rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BATCH random (episode, start) pairs of WINDOW steps: (episode indices, start steps)."""
    count, length = data["action"].shape[:2]
    return torch.from_numpy(rng.integers(count, size=BATCH)), torch.from_numpy(rng.integers(0, length - WINDOW + 1, size=BATCH))


def cut(tensor: torch.Tensor, episodes: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    return torch.stack([tensor[e, s : s + WINDOW] for e, s in zip(episodes.tolist(), starts.tolist())])


def pretrain_teacher(kind: str, steps: int, seed: int) -> WorldModel:
    """A tiny teacher trained `steps` updates (Adam, lr 1e-3) on 20 episodes of `kind`."""
    torch.manual_seed(seed)
    config = preset("tiny").world_model
    config.use_reward_head = False
    model = WorldModel(config, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = colour_episodes(kind, 20, 30, seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        episodes, starts = windows(data, rng)
        batch = {key: cut(value, episodes, starts) for key, value in data.items()}
        batch["is_first"] = batch["is_first"] | (torch.arange(WINDOW) == 0)
        loss, _, _ = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def pretrain_teachers(steps: int = 150) -> dict[str, WorldModel]:
    return {kind: pretrain_teacher(kind, steps, index) for index, kind in enumerate(DYNAMICS)}


def student_weights(
    teachers: dict[str, WorldModel], order: list[str], scorer: str, heads: str, seed: int, updates: int, average: int = 10
) -> dict[str, float]:
    """Train a student on `drive` target windows for `updates` world-model updates with the teachers in `order`;
    the mean W per teacher over the last `average` updates."""
    ensemble = TeacherEnsemble([teachers[name] for name in order], order)
    target = colour_episodes(RELATED, 10, 40, 100)
    posts, priors = ensemble.observe(target["image"], target["action"], target["is_first"])
    torch.manual_seed(seed)
    config = preset("tiny")
    config.seed = seed
    config.transfer.guidance = False
    config.transfer.scorer = scorer  # type: ignore[assignment]
    config.transfer.distill_heads = heads  # type: ignore[assignment]
    config.transfer.distill_burn_in = 3
    agent = TransferAgent(config, 2, "cpu", ensemble, None)
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(updates):
        episodes, starts = windows(target, rng)
        batch = {key: cut(value, episodes, starts) for key, value in target.items()}
        batch["teacher_feat"] = cut(priors, episodes, starts)
        batch["teacher_post"] = cut(posts, episodes, starts)
        batch["reward"] = torch.zeros(BATCH, WINDOW)
        batch["is_terminal"] = torch.zeros(BATCH, WINDOW, dtype=torch.bool)
        _, metrics = agent.train_world_model(batch)
        history.append([float(metrics[f"weight/{name}"]) for name in order])
    mean = np.asarray(history[-average:]).mean(0)
    return dict(zip(order, mean.tolist()))


def rotations() -> list[list[str]]:
    """The teacher orders that put the related teacher at each position."""
    return [list(DYNAMICS[shift:] + DYNAMICS[:shift]) for shift in range(len(DYNAMICS))]
