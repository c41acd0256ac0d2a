"""Turning `--device` into a torch device, and the thread count a config asks for."""

from __future__ import annotations

import torch

from vid2act_core.config import Config
from vid2act_core.runtime.host_memory import keep_freed_host_memory
from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512
from vid2act_core.runtime.threads import choose_threads

from vid2act_cli.compose.reporter import Reporter, plain_if_none


def resolve_device(name: str | torch.device, reporter: Reporter | None = None) -> torch.device:
    """`cpu`, `cuda`, `cuda:N`, `mps` or `auto`; a device that is not available is a clear error.

    A torch.device passes through unchanged.
    """
    if isinstance(name, torch.device):
        return name
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        plain_if_none(reporter).say("note: --device auto: no CUDA device available, using the CPU")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine (torch {torch.__version__}); use --device cpu or auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    if name == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("--device mps: MPS is not available on this machine")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"--device {name!r}: expected cpu, cuda, cuda:N, mps or auto")


def configure_threads(config: Config, reporter: Reporter | None = None, stage: str = "train") -> int:
    """torch's intra-op threads as `<stage>.threads` says (`train` or `pretrain`; 0: the free cores,
    `vid2act_core.runtime.threads`), said through `reporter` where one is given; the host allocator
    tuned for repeated training updates (`vid2act_core.runtime.host_memory`) and MKL's AVX-512 kernels on
    AMD CPUs (`vid2act_core.runtime.mkl_dispatch`; the `vid2act` entry point already asked, before any matmul).
    Returns the thread count."""
    requested = config.pretrain.threads if stage == "pretrain" else config.train.threads
    choice = choose_threads(requested, f"{stage}.threads")
    torch.set_num_threads(choice.threads)
    if reporter is not None:
        reporter.say(choice.describe({"pretrain": "pretraining", "train": "training"}.get(stage, stage)))
    keep_freed_host_memory()
    enable_mkl_avx512()
    return choice.threads


AUTO_PRESET = "auto"
"""`--preset auto`: the paper's sizes on CUDA, `small` on the CPU (see `resolve_preset`)."""


def explicit_preset(spec: str) -> str | None:
    """`spec` where it names a preset, None where it is `auto` (which resolves per machine, so a run
    resumed on another device keeps its own preset)."""
    return None if spec.split(",")[0].strip() == AUTO_PRESET else spec


def resolve_preset(spec: str, device: str | torch.device, task: str, reporter: Reporter | None = None) -> str:
    """A preset stack whose first name is `auto` -> the stack with that name resolved, said once.

    On CUDA (`--device cuda[:N]`, or `auto` with CUDA present) `auto` is the paper preset of the
    task's suite (`paper-metaworld` for metaworld:* tasks, else `paper-dmc`), on the CPU `small`:
    the paper sizes take ~4 s per update on a 2-core CPU (benchmarks/README.md). Later names of the
    stack (override blocks) are kept. Any other stack is returned unchanged.
    """
    names = [name.strip() for name in spec.split(",")]
    if names[0] != AUTO_PRESET:
        return spec
    name = str(device).strip().lower()
    on_cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    if on_cuda:
        chosen = "paper-metaworld" if task.startswith("metaworld:") else "paper-dmc"
    else:
        chosen = "small"
    resolved = ",".join([chosen, *names[1:]])
    where = "CUDA" if on_cuda else "the CPU"
    plain_if_none(reporter).say(f"preset: auto -> {resolved} (on {where}; choose another with --preset)")
    return resolved
