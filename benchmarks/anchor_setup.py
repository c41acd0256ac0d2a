"""This project's training update at the anchors' settings (see ../shared/anchors/README.md).

Batch 16 sequences x length 50, 64x64x3 uint8 images, action size 6, the published DreamerV2 DMC
sizes (`paper-dmc`: Gaussian latents stoch 50 / deter 200 / hidden 200, CNN depth 32, MLP units
400) with the published code's imagination horizon 15 (`paper-dmc,published-horizon`), fp32,
synthetic replay-shaped batches. With teachers, the batch carries the teachers' stored priors and
posteriors (`teacher_feat`, `teacher_post`) and task selection runs at every imagined step.

`build_ours(teachers)` returns `(update, info)` in the shape the anchor harness expects: `update()`
runs one full training update and returns its world-model / actor-critic split in seconds.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

BATCH, LENGTH, ACTIONS = 16, 50, 6
PRESET = "paper-dmc,published-horizon"


def synthetic_batch(teachers: int, feature_size: int, device: torch.device | str = "cpu", seed: int = 0) -> dict[str, torch.Tensor]:
    """A replay-shaped batch (B16 x T50), teacher features included when `teachers` > 0."""
    from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY

    generator = torch.Generator().manual_seed(seed)
    batch = {
        "image": torch.randint(0, 255, (BATCH, LENGTH, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(BATCH, LENGTH, ACTIONS, generator=generator) * 2 - 1,
        "reward": torch.rand(BATCH, LENGTH, generator=generator),
        "is_first": torch.zeros(BATCH, LENGTH, dtype=torch.bool),
        "is_terminal": torch.zeros(BATCH, LENGTH, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    if teachers:
        for key in (TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY):
            batch[key] = torch.randn(BATCH, LENGTH, teachers, feature_size, generator=generator)
    return {key: value.to(device) for key, value in batch.items()}


def build_agent(teachers: int = 0, device: torch.device | str = "cpu", selection: str = "per_step"):
    """The agent (TransferAgent; DreamerV2 when `teachers` is 0) and a synthetic batch."""
    from vid2act_core.config import preset
    from vid2act_core.host_memory import keep_freed_host_memory
    from vid2act_core.mkl_dispatch import enable_mkl_avx512
    from vid2act_core.teachers import TeacherEnsemble
    from vid2act_core.transfer import SourcePairs, TransferAgent
    from vid2act_core.world_model import WorldModel

    keep_freed_host_memory()  # as the vid2act commands do (configure_threads)
    enable_mkl_avx512()
    torch.manual_seed(0)
    config = preset(PRESET)
    config.train.batch_size, config.train.batch_length = BATCH, LENGTH
    config.transfer.imagination_selection = selection
    wm = config.world_model
    assert (wm.latent, wm.stoch, wm.deter, wm.hidden, wm.cnn_depth, wm.mlp_units) == ("gaussian", 50, 200, 200, 32, 400)
    assert config.actor_critic.horizon == 15 and config.actor_critic.units == 400
    ensemble, sources, feature_size = None, None, 0
    if teachers:
        teacher_config = preset(PRESET).world_model
        teacher_config.use_reward_head = False
        models = [WorldModel(teacher_config, ACTIONS) for _ in range(teachers)]
        ensemble = TeacherEnsemble(models, [f"teacher{i}" for i in range(teachers)])
        feature_size = ensemble.feature_size
        sources = [
            SourcePairs(f"teacher{i}", torch.randn(5000, feature_size), torch.rand(5000, ACTIONS) * 2 - 1)
            for i in range(teachers)
        ]
    else:
        config.transfer.distill = False
    agent = TransferAgent(config, ACTIONS, device, ensemble, sources)
    return agent, synthetic_batch(teachers, feature_size, device)


def build_ours(teachers: int = 0) -> tuple[Callable[[], dict[str, float]], dict]:
    """One full update of this project (world model incl. distillation, behaviour, action VAE)."""
    agent, batch = build_agent(teachers)

    def update() -> dict[str, float]:
        started = time.perf_counter()
        output, _ = agent.train_world_model(batch)
        middle = time.perf_counter()
        agent.train_behaviour(batch, output)
        agent.after_update(batch)
        return {"wm": middle - started, "ac": time.perf_counter() - middle}

    return update, {"params": sum(p.numel() for p in agent.parameters()), "agent": agent, "batch": batch}


OUR_BUILDERS: dict[str, tuple[Callable[[], tuple[Callable[[], dict[str, float]], dict]], str]] = {
    "ours": (lambda: build_ours(0), "this project, no teachers (DreamerV2)"),
    "ours-t4": (lambda: build_ours(4), "this project, 4 teachers, per-step selection"),
    "ours-t6": (lambda: build_ours(6), "this project, 6 teachers, per-step selection"),
}
"""Rows of the side-by-side table built here: name -> (builder, label)."""


def register_builders(impls) -> None:
    """Put this project's builders and labels into the anchor harness's `impls` module."""
    for name, (builder, label) in OUR_BUILDERS.items():
        impls.BUILDERS[name] = builder
        impls.LABELS[name] = label
