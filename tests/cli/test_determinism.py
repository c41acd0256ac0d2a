"""Determinism across processes: `vid2act train` with one seed logs the same numbers in two processes; another seed differs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TRAIN = [sys.executable, "-m", "vid2act_cli.app", "train", "--task", "cartpole_swingup", "--preset", "tiny",
         "--device", "cpu", "--no-progress", "--steps", "80", "--set", "train.prefill=40", "--set", "train.train_every=2",
         "--set", "train.log_every=8", "--set", "train.eval_every=100000", "--set", "train.threads=1"]
TIMING_KEYS = ("time", "charts/env_steps_per_second", "charts/updates_per_second")


def _metrics(run_dir: Path) -> list[dict]:
    """Every record of metrics.jsonl without wall-clock fields."""
    records = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        records.append({key: value for key, value in record.items() if key not in TIMING_KEYS})
    return records


@pytest.mark.slow
def test_same_seed_same_metrics_in_two_processes_other_seed_differs(tmp_path: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    runs = {"a": ("0", tmp_path / "a"), "b": ("0", tmp_path / "b"), "c": ("1", tmp_path / "c")}
    processes = {
        name: subprocess.Popen(TRAIN + ["--seed", seed, "--logdir", str(run_dir)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        for name, (seed, run_dir) in runs.items()
    }
    for name, process in processes.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"run {name}: {output[-3000:]}"
    first, second, other = (_metrics(runs[name][1]) for name in ("a", "b", "c"))
    losses = [record for record in first if "losses/model_loss" in record]
    # (80 - 40) / 2 agent steps of updates plus the burst, logged every 8 env steps: several loss records.
    assert len(losses) >= 4 and all("losses/actor_loss" in record for record in losses)
    assert first == second  # every logged number, exactly: losses, returns, replay sizes
    other_losses = [record["losses/model_loss"] for record in other if "losses/model_loss" in record]
    assert other_losses[0] != losses[0]["losses/model_loss"]
    assert [r["charts/episode_return"] for r in other if "charts/episode_return" in r] != [
        r["charts/episode_return"] for r in first if "charts/episode_return" in r
    ]
