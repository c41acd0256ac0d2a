"""Offline teacher pretraining (paper 4.2, Eq. 2): one action-conditioned world model per source task.

A teacher is a `WorldModel` trained on reward-free image-action sequences with image
reconstruction plus the balanced KL term only: `teacher_config` forces the reward and
continuation heads off. The trainer is written against small protocols, so it knows nothing of
HDF5 files or TensorBoard: batches come from anything with
`sample(batch_size, length, rng) -> dict[str, np.ndarray]` (e.g. `vid2act_envs.sampler.SequenceSampler`),
metrics go to anything with `scalars(values, step)` and `video(name, frames, step)`.

Data-parallel training uses the standard launcher: under `torchrun` (the RANK / WORLD_SIZE
environment variables are set) `vid2act_core.runtime.distributed.setup_distributed` initialises a process group (gloo on the CPU,
nccl on CUDA, one GPU per process chosen by LOCAL_RANK) and the trainer wraps the loss in
`DistributedDataParallel`. Every rank samples its own batches (its own seed), gradients are
averaged by DDP, and rank 0 alone logs, evaluates and writes checkpoints. Every collective call
(gradient all-reduce, the finite-loss flag, metric means, RNG gathering at checkpoints) happens
at the same step on every rank, so the ranks stay in lockstep.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from vid2act_core.agent import NonFiniteLossError
from vid2act_core.runtime.checkpoint import load_checkpoint, save_atomic
from vid2act_core.config import Config
from vid2act_core.runtime.distributed import DistributedContext
from vid2act_core.trainer_core import (
    MetricsAccumulator,
    SequenceSource,
    autocast,
    capture_rng_state,
    open_loop_strip,
    restore_rng_state,
    sample_batch,
    to_torch,
)
from vid2act_core.world_model import Batch, WorldModel

CHECKPOINT_NAME = "checkpoints/latest.pt"
"""Where a pretraining run keeps its checkpoint, relative to the run directory."""

class PretrainLogger(Protocol):
    """Where metrics and videos go (`vid2act_cli.compose.logger.RunLogger` fits)."""

    def scalars(self, values: dict[str, float], step: int) -> None: ...

    def video(self, name: str, frames: np.ndarray, step: int) -> None: ...


PretrainProgress = Callable[[int, dict[str, float]], None]
"""progress(step, latest metrics): called on rank 0 after every gradient step."""


def teacher_config(config: Config) -> Config:
    """A copy of `config` for a teacher: Eq. 2 only, so no reward and no continuation head."""
    teacher = copy.deepcopy(config)
    teacher.world_model.use_reward_head = False
    teacher.world_model.use_cont_head = False
    teacher.world_model.auto_cont_head = False
    return teacher


# ----- the trainer ----------------------------------------------------------------------------


class WorldModelLoss(nn.Module):
    """The Eq. 2 loss as a module whose `forward` DistributedDataParallel can wrap."""

    def __init__(self, world_model: WorldModel) -> None:
        super().__init__()
        self.world_model = world_model

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, _, metrics = self.world_model.loss(batch)
        return loss, metrics


@dataclass
class PretrainSummary:
    """What a pretraining call did."""

    step: int
    """Gradient steps completed (the checkpoint's step counter)."""
    resumed_from: int
    """Step the call started at (0 for a fresh run)."""
    initial_open_loop_error: float | None
    """Open-loop error of the untrained model (only on rank 0 of a run that started here)."""
    final_open_loop_error: float | None
    """Open-loop error at the last evaluation of this call (rank 0; None if none ran)."""


class TeacherPretrainer:
    """Trains one teacher world model (Eq. 2) from an offline sequence source; resumable, DDP-ready.

    config: the full config; `teacher_config` is applied (no reward or continuation head).
    Batches are `config.train.batch_size` x `config.train.batch_length`; the schedule is
    `config.pretrain`; the optimiser is Adam with the world model's lr / eps / grad clip.
    eval_source: where the fixed evaluation batch comes from (held-out episodes); default `source`.
    """

    def __init__(
        self,
        config: Config,
        action_dim: int,
        source: SequenceSource,
        run_dir: str | Path,
        distributed: DistributedContext | None = None,
        eval_source: SequenceSource | None = None,
        logger: PretrainLogger | None = None,
        progress: PretrainProgress | None = None,
    ) -> None:
        self.config = teacher_config(config)
        self.distributed = distributed or DistributedContext(0, 1, torch.device("cpu"), False, False)
        self.device = self.distributed.device
        self.source = source
        self.eval_source = eval_source if eval_source is not None else source
        self.run_dir = Path(run_dir)
        self.checkpoint_path = self.run_dir / CHECKPOINT_NAME
        self.logger = logger
        self.progress = progress
        self.step = 0
        wm = self.config.world_model
        # Same initial weights on every rank (DDP also broadcasts rank 0's at construction).
        torch.manual_seed(self.config.seed)
        self.world_model = WorldModel(wm, action_dim, self.config.env.image_size).to(self.device)
        self.optimizer = torch.optim.Adam(self.world_model.parameters(), lr=wm.lr, eps=wm.eps)
        self.loss_module = WorldModelLoss(self.world_model)
        self.trainable: nn.Module = self.loss_module
        if self.distributed.active:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.trainable = DistributedDataParallel(self.loss_module, device_ids=device_ids)
        # Each rank draws its own batches and latent samples.
        rank = self.distributed.rank
        self.rng = np.random.default_rng([self.config.seed, rank])
        torch.manual_seed(self.config.seed * 1_000_003 + rank)
        self._eval_batch: Batch | None = None

    # ----- checkpoints ------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint (rank 0); every rank must call this at the same step (RNGs are gathered)."""
        rng_states: list[Any] = [capture_rng_state(self.rng, self.device)]
        if self.distributed.active:
            rng_states = [None] * self.distributed.world_size
            dist.all_gather_object(rng_states, capture_rng_state(self.rng, self.device))
        if not self.distributed.is_main:
            return
        payload = {
            "world_model": self.world_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "world_size": self.distributed.world_size,
            "rng": rng_states,
            "config": self.config.to_dict(),
        }
        save_atomic(payload, self.checkpoint_path)

    def try_resume(self) -> bool:
        """Restore weights, optimiser, step and RNGs from the run's checkpoint, if there is one.

        Rank 0 reads the file and broadcasts it, so other machines need no shared filesystem.
        A run resumed with a different number of processes reseeds the ranks it has no RNG for.
        """
        payload: dict[str, Any] | None = None
        if self.distributed.is_main and self.checkpoint_path.exists():
            payload = load_checkpoint(self.checkpoint_path, "cpu", required_key="world_model")
        if self.distributed.active:
            holder = [payload]
            dist.broadcast_object_list(holder, src=0)
            payload = holder[0]
        if payload is None:
            return False
        self.world_model.load_state_dict(payload["world_model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.step = int(payload["step"])
        rank = self.distributed.rank
        rng_states = payload.get("rng", [])
        if int(payload.get("world_size", 1)) == self.distributed.world_size and rank < len(rng_states):
            restore_rng_state(self.rng, rng_states[rank], self.device)
        else:
            self.rng = np.random.default_rng([self.config.seed, rank, self.step])
            torch.manual_seed(self.config.seed * 1_000_003 + rank + 7919 * self.step)
        return True

    # ----- evaluation -------------------------------------------------------------------------
    def eval_batch(self) -> Batch:
        """The fixed evaluation batch: the same sequences at every evaluation and after a resume."""
        if self._eval_batch is None:
            train = self.config.train
            fixed_rng = np.random.default_rng([self.config.seed, 2_147_483_647])
            arrays = self.eval_source.sample(train.batch_size, train.batch_length, fixed_rng)
            self._eval_batch = to_torch(arrays, self.device)
        return self._eval_batch

    def open_loop_error(self) -> float:
        """Mean squared pixel error ([0, 1] images) of open-loop predictions on the evaluation batch."""
        context = self._context()
        return float(self.world_model.open_loop_error(self.eval_batch(), context))

    def _context(self) -> int:
        length = self.config.train.batch_length
        return max(1, min(self.config.pretrain.open_loop_context, length - 1))

    def evaluate(self) -> dict[str, float]:
        """Log the open-loop error and the prediction video at the current step (rank 0 only)."""
        values = {"eval/open_loop_error": self.open_loop_error()}
        if self.logger is not None:
            self.logger.scalars(values, self.step)
            self.logger.video("eval/open_loop", open_loop_strip(self.world_model, self.eval_batch(), self._context()), self.step)
        return values

    # ----- training ---------------------------------------------------------------------------
    def _all_finite(self, loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).to(torch.float32).reshape(1)
        if self.distributed.active:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite.item() > 0)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One gradient step on a freshly sampled batch; raises NonFiniteLossError before a bad update."""
        train = self.config.train
        batch = sample_batch(self.source, train.batch_size, train.batch_length, self.rng, self.device)
        with autocast(train.precision, self.device):
            loss, metrics = self.trainable(batch)
        if not self._all_finite(loss):
            raise NonFiniteLossError(
                f"world model loss is {float(loss.detach())} at pretraining step {self.step} "
                "(on this or another rank): stopping before the update is applied"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.world_model.parameters(), self.config.world_model.grad_clip)
        if not torch.isfinite(grad_norm):
            raise NonFiniteLossError(
                f"gradient norm is {float(grad_norm)} at pretraining step {self.step}: stopping before the update is applied"
            )
        self.optimizer.step()
        self.step += 1
        metrics = dict(metrics)
        metrics["model_grad_norm"] = grad_norm.detach()
        return metrics

    def _rank_mean(self, values: torch.Tensor) -> torch.Tensor:
        """`values` averaged over the data-parallel ranks (a collective call)."""
        if not self.distributed.active:
            return values
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values / self.distributed.world_size

    def run(self) -> PretrainSummary:
        """Train until `config.pretrain.steps`, resuming from the run's checkpoint if there is one."""
        schedule = self.config.pretrain
        main = self.distributed.is_main
        self.try_resume()
        resumed_from = self.step
        initial_error: float | None = None
        final_error: float | None = None
        if main and self.logger is not None and self.step == 0:
            self.logger.scalars(
                {"dist/world_size": float(self.distributed.world_size), "dist/global_batch_size":
                 float(self.config.train.batch_size * self.distributed.world_size)}, 0
            )
        if main and self.step == 0:
            initial_error = final_error = self.evaluate()["eval/open_loop_error"]
        metrics = MetricsAccumulator()
        summary: dict[str, float] = {}
        last_time, last_step = time.time(), self.step
        while self.step < schedule.steps:
            metrics.add(self.train_step())
            step = self.step
            finished = step >= schedule.steps
            if step % schedule.log_every == 0 or finished:
                values = metrics.flush(self._rank_mean)
                now = time.time()
                values["charts/updates_per_second"] = (step - last_step) / max(now - last_time, 1e-9)
                last_time, last_step = now, step
                if main and self.logger is not None:
                    self.logger.scalars(values, step)
                summary.update(values)
            if main and (step % schedule.eval_every == 0 or finished):
                final_error = self.evaluate()["eval/open_loop_error"]
                summary["eval/open_loop_error"] = final_error
            if step % schedule.checkpoint_every == 0 or finished:
                self.save()
            if main and self.progress is not None:
                self.progress(step, summary)
        return PretrainSummary(self.step, resumed_from, initial_error, final_error)
