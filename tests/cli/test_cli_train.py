"""`vid2act train` and `vid2act evaluate` as a user runs them: real processes, real simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vid2act_core.runtime.checkpoint import load_checkpoint

TRAIN = [sys.executable, "-m", "vid2act_cli.app", "train", "--task", "cartpole_swingup", "--preset", "tiny",
         "--device", "cpu", "--no-progress"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _metric_steps(run_dir: Path) -> list[int]:
    steps = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        try:
            steps.append(json.loads(line)["step"])
        except json.JSONDecodeError:
            continue
    return steps


def test_a_killed_run_resumes_where_its_checkpoint_left_off(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = TRAIN + ["--steps", "400", "--logdir", str(run_dir), "--set", "train.checkpoint_every=80",
                       "--set", "train.eval_every=10000"]
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    deadline = time.time() + 240
    killed_state = None
    while time.time() < deadline and process.poll() is None:
        if checkpoint.exists():
            payload = load_checkpoint(checkpoint)
            if payload["loop"]["updates"] > 0:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                killed_state = load_checkpoint(checkpoint)["loop"]
                break
        time.sleep(0.2)
    assert killed_state is not None, process.communicate()[0].decode()[-2000:]
    assert not (run_dir / "DONE").exists()
    episodes_at_kill = sorted(p.name for p in (run_dir / "episodes").glob("ep-*.npz"))
    assert len(episodes_at_kill) >= killed_state["episodes"]

    resumed = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming {run_dir} at {killed_state['env_steps']} env steps" in resumed.stderr
    final = load_checkpoint(checkpoint)["loop"]
    assert final["env_steps"] >= 400 and final["updates"] > killed_state["updates"]
    assert final["episodes"] > killed_state["episodes"]
    episodes_after = sorted(p.name for p in (run_dir / "episodes").glob("ep-*.npz"))
    assert set(episodes_at_kill) <= set(episodes_after)
    with np.load(run_dir / "episodes" / episodes_at_kill[0]) as first_episode:
        assert first_episode["image"].shape[1:] == (64, 64, 3) and first_episode["is_first"][0]
    steps = _metric_steps(run_dir)
    assert max(steps) > killed_state["env_steps"] + 100 and (run_dir / "DONE").exists()

    evaluated = subprocess.run(
        [sys.executable, "-m", "vid2act_cli.app", "evaluate", str(run_dir), "--episodes", "2", "--video", "--device", "cpu"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads((run_dir / "evaluation_deterministic.json").read_text())
    assert result["episodes"] == 2 and np.isfinite(result["return_mean"]) and result["env_steps_trained"] == final["env_steps"]
    assert Path(result["video"]).stat().st_size > 0


def test_runs_leave_the_documented_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    completed = subprocess.run(TRAIN + ["--steps", "200", "--logdir", str(run_dir)], env=_env(), capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/latest.pt", "DONE"):
        assert (run_dir / name).exists(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert list((run_dir / "videos").glob("eval_policy_*.gif")) and list((run_dir / "videos").glob("eval_open_loop_*.gif"))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*records)
    for key in ("losses/model_loss", "losses/kl", "losses/actor_entropy", "eval/return_deterministic",
                "eval/return_stochastic", "charts/env_steps_per_second", "charts/updates_per_second"):
        assert key in keys, key
    assert all(np.isfinite(r["losses/model_loss"]) for r in records if "losses/model_loss" in r)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_fails_with_one_line(tmp_path: Path) -> None:
    completed = subprocess.run(TRAIN + ["--steps", "10", "--logdir", str(tmp_path / "r"), "--device", "cuda"],
                               env=_env(), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1].startswith("error: --device cuda: CUDA is not available")


def test_bad_task_and_setting_fail_with_one_line(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "vid2act_cli.app", "train", "--task", "walker_wlak", "--preset", "tiny", "--device", "cpu"],
        env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert "walker_walk" in completed.stderr and "error:" in completed.stderr
    completed = subprocess.run(TRAIN + ["--steps", "10", "--set", "world_model.detr=3"], env=_env(), capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 2 and "did you mean world_model.deter" in completed.stderr
