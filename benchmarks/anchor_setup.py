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

import os
import time
from typing import Any, Callable

import torch

BATCH, LENGTH, ACTIONS = 16, 50, 6
PRESET = "paper-dmc,published-horizon"
DEVICE_VARIABLE = "VID2ACT_BENCH_DEVICE"
"""Environment variable naming the device of every row (compare_anchors.py --device); default cpu."""
ANCHOR_ROWS = ("dreamer-torch", "vid2act-t4")
"""The harness's rows built from the vendored anchors (their builders place the models on the CPU)."""


def bench_device() -> str:
    return os.environ.get(DEVICE_VARIABLE, "cpu")


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued kernels (CUDA), so that a time taken next is the device's, not the launches'."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


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


def build_agent(teachers: int = 0, device: torch.device | str = "cpu", selection: str = "per_step", scorer: str | None = None):
    """The agent (TransferAgent; DreamerV2 when `teachers` is 0) and a synthetic batch.

    scorer: `transfer.scorer` (default: the preset's, prediction_error, whose W does not read states;
    paper, mlp and similarity read the teachers' states, so per-step selection runs the teachers'
    prior steps beside the student's imagination).
    """
    from vid2act_core.config import preset
    from vid2act_core.runtime.host_memory import keep_freed_host_memory
    from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512
    from vid2act_core.teachers import TeacherEnsemble
    from vid2act_core.transfer import SourcePairs, TransferAgent
    from vid2act_core.world_model import WorldModel

    keep_freed_host_memory()  # as the vid2act commands do (configure_threads)
    enable_mkl_avx512()
    torch.manual_seed(0)
    config = preset(PRESET)
    config.train.batch_size, config.train.batch_length = BATCH, LENGTH
    config.transfer.imagination_selection = selection
    if scorer is not None:
        config.transfer.scorer = scorer
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


def build_ours(teachers: int = 0, scorer: str | None = None, device: str | None = None) -> tuple[Callable[[], dict[str, float]], dict]:
    """One full update of this project (world model incl. distillation, behaviour, action VAE) on
    `device` (default: $VID2ACT_BENCH_DEVICE, else cpu)."""
    device = device or bench_device()
    agent, batch = build_agent(teachers, device=device, scorer=scorer)

    def update() -> dict[str, float]:
        started = time.perf_counter()
        output, _ = agent.train_world_model(batch)
        synchronize(device)
        middle = time.perf_counter()
        agent.train_behaviour(batch, output)
        agent.after_update(batch)
        synchronize(device)
        return {"wm": middle - started, "ac": time.perf_counter() - middle}

    return update, {"params": sum(p.numel() for p in agent.parameters()), "agent": agent, "batch": batch}


OUR_BUILDERS: dict[str, tuple[Callable[[], tuple[Callable[[], dict[str, float]], dict]], str]] = {
    "ours": (lambda: build_ours(0), "this project, no teachers (DreamerV2)"),
    "ours-t4": (lambda: build_ours(4), "this project, 4 teachers, per-step selection"),
    "ours-t6": (lambda: build_ours(6), "this project, 6 teachers, per-step selection"),
    # Not in the default set: scorers whose W reads the teachers' states (the teachers imagine too).
    "ours-t4-paper": (lambda: build_ours(4, "paper"), "this project, 4 teachers, scorer paper"),
    "ours-t6-paper": (lambda: build_ours(6, "paper"), "this project, 6 teachers, scorer paper"),
    "ours-t6-mlp": (lambda: build_ours(6, "mlp"), "this project, 6 teachers, scorer mlp"),
    "ours-t6-similarity": (lambda: build_ours(6, "similarity"), "this project, 6 teachers, scorer similarity"),
}
"""Rows of the side-by-side table built here: name -> (builder, label)."""


def register_builders(impls) -> None:
    """Put this project's builders and labels into the anchor harness's `impls` module."""
    for name, (builder, label) in OUR_BUILDERS.items():
        impls.BUILDERS[name] = builder
        impls.LABELS[name] = label


Builder = Callable[[], tuple[Callable[[], Any], dict]]


def built_on_device(builder: Builder, device: str) -> Builder:
    """`builder` with `device` as torch's default device while it builds (so the anchors' modules are
    created there), and an update that ends with `synchronize(device)`.

    The anchors' own world-model step reads its metrics back to numpy, which waits for the device,
    so their world-model / actor-critic split stays meaningful on CUDA too.
    """

    def build() -> tuple[Callable[[], Any], dict]:
        previous = torch.get_default_device()
        torch.set_default_device(device)
        try:
            update, info = builder()
        finally:
            torch.set_default_device(previous)

        def update_on_device() -> Any:
            parts = update()
            synchronize(device)
            return parts

        return update_on_device, info

    return build


def matmul_probe(device: str, size: int) -> tuple[Callable[[], None], dict]:
    """The harness's ceiling probe (one size^2 float32 matmul per update) on `device`."""
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, generator=generator, device=device)
    b = torch.randn(size, size, generator=generator, device=device)
    out = torch.empty(size, size, device=device)

    def update() -> None:
        torch.mm(a, b, out=out)
        synchronize(device)

    return update, {"params": 0}


def place_on_device(impls: Any, worker: Any, device: str) -> None:
    """Every row of the harness's worker process on `device` (e.g. cuda) instead of the CPU.

    The anchor builders (`impls.build_dreamer_torch`, `impls.build_vid2act`) run unchanged: their
    config gets `device` (it is where their RSSM puts its initial states and their batches), and
    `built_on_device` creates their modules there. This project's rows read the device from
    $VID2ACT_BENCH_DEVICE. The ceiling probe runs its matmul on `device`, and the peak-memory reply
    becomes the device's (torch.cuda.max_memory_allocated) on CUDA.
    """
    set_up_config = impls._anchor_common

    def anchor_common_on_device(config: Any, tools: Any) -> None:
        set_up_config(config, tools)
        config.device = device

    impls._anchor_common = anchor_common_on_device
    for name in ANCHOR_ROWS:
        impls.BUILDERS[name] = built_on_device(impls.BUILDERS[name], device)
    build_row = worker.build

    def build(name: str):
        return matmul_probe(device, worker.MATMUL_N) if name == "matmul" else build_row(name)

    worker.build = build
    if torch.device(device).type == "cuda":
        worker.peak_rss_mib = lambda: torch.cuda.max_memory_allocated(device) / 2**20
