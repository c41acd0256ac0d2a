"""A tiny transfer student with random teachers and a replay-shaped batch, for the method tests."""

from __future__ import annotations

import numpy as np
import torch

from vid2act_core.config import Config, preset
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.transfer import SourcePairs, TransferAgent
from vid2act_core.world_model import WorldModel


def tiny_transfer_with_teachers(
    action_sizes: tuple[int, ...] = (2, 4),
    target_action: int = 3,
    configure=None,
    batch_size: int = 3,
    length: int = 8,
    seed: int = 0,
) -> tuple[TransferAgent, list[WorldModel], TeacherEnsemble, dict[str, torch.Tensor], Config]:
    """(agent, teacher world models, their ensemble, batch with the teachers' stored priors and posteriors, config)."""
    torch.manual_seed(seed)
    config = preset("tiny")
    config.seed = seed
    if configure is not None:
        configure(config)
    teacher_config = preset("tiny").world_model
    teacher_config.use_reward_head = False
    teachers = [WorldModel(teacher_config, size) for size in action_sizes]
    ensemble = TeacherEnsemble(teachers, [f"t{i}" for i in range(len(teachers))])
    rng = np.random.default_rng(seed)
    sources = []
    for index, (teacher, size) in enumerate(zip(teachers, action_sizes)):
        episode = {
            "image": rng.integers(0, 255, (12, 64, 64, 3), dtype=np.uint8),
            "action": rng.uniform(-1, 1, (12, size)).astype(np.float32),
        }
        sources.append(SourcePairs.from_episodes(f"t{index}", teacher, [episode], "cpu"))
    agent = TransferAgent(config, target_action, "cpu", ensemble, sources if config.transfer.guidance else None)
    batch = {
        "image": torch.randint(0, 255, (batch_size, length, 64, 64, 3), dtype=torch.uint8),
        "action": torch.rand(batch_size, length, target_action) * 2 - 1,
        "reward": torch.rand(batch_size, length),
        "is_first": torch.zeros(batch_size, length, dtype=torch.bool),
        "is_terminal": torch.zeros(batch_size, length, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    posts, priors = ensemble.observe(batch["image"], batch["action"], batch["is_first"])
    batch["teacher_feat"] = priors
    batch["teacher_post"] = posts
    return agent, teachers, ensemble, batch, config


def tiny_transfer(
    action_sizes: tuple[int, ...] = (2, 4),
    target_action: int = 3,
    configure=None,
    batch_size: int = 3,
    length: int = 8,
    seed: int = 0,
) -> tuple[TransferAgent, TeacherEnsemble, dict[str, torch.Tensor], Config]:
    """(agent, teachers, batch with the teachers' stored priors and posteriors, config); `configure(config)` edits the config."""
    agent, _, ensemble, batch, config = tiny_transfer_with_teachers(action_sizes, target_action, configure, batch_size, length, seed)
    return agent, ensemble, batch, config


def prefer_teacher(agent: TransferAgent, index: int) -> None:
    """W favours teacher `index` from now on: its prediction-error EMA is half the others' (W = (1/3, 2/3) for two teachers)."""
    scorer = agent.distillation.f_weight
    errors = torch.ones_like(scorer.error_ema)
    errors[index] = 0.5
    scorer.error_ema.copy_(errors)
    scorer.updates.fill_(1)
