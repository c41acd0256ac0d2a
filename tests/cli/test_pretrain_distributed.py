"""Data-parallel teacher pretraining: two CPU processes launched with torchrun (gloo)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from pretrain_helpers import read_metrics, write_synthetic_dataset
from vid2act_core.runtime.checkpoint import load_checkpoint
from vid2act_core.pretrain import CHECKPOINT_NAME
from vid2act_teachers.registry import TeacherRegistry


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_process_torchrun_pretraining_registers_one_teacher(tmp_path: Path) -> None:
    data = write_synthetic_dataset(tmp_path / "squares.h5", episodes=2, steps=24)
    run_dir = tmp_path / "run"
    environment = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="120")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), "-m", "vid2act_cli.app", "pretrain", "--data", str(data),
         "--name", "squares_ddp", "--preset", "tiny", "--steps", "6", "--device", "cpu", "--no-progress",
         "--logdir", str(run_dir)],
        capture_output=True, text=True, env=environment, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Only rank 0 registers and reports.
    assert result.stdout.count("registered teacher squares_ddp") == 1, result.stdout
    assert "2 process(es) on cpu" in result.stderr
    assert "squares_ddp" in TeacherRegistry().names()
    assert TeacherRegistry().info("squares_ddp").train_steps == 6
    metrics = read_metrics(run_dir)
    world = [record for record in metrics if "dist/world_size" in record]
    assert len(world) == 1 and world[0]["dist/world_size"] == 2.0 and world[0]["dist/global_batch_size"] == 8.0
    assert [record["step"] for record in metrics if "losses/model_loss" in record] == [6]
    payload = load_checkpoint(run_dir / CHECKPOINT_NAME, required_key="world_model")
    assert payload["step"] == 6 and payload["world_size"] == 2
    # Each rank drew its own batches: the gathered RNG states differ.
    first, second = payload["rng"]
    assert first["numpy"]["state"] != second["numpy"]["state"]
