"""`vid2act transfer` end to end on a real task with registered teachers, and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from pretrained_teachers import TeacherStore
from vid2act_cli.report.runs import SWITCH_RATE_SERIES

TRANSFER = [sys.executable, "-m", "vid2act_cli.app", "transfer", "--target", "cartpole_balance", "--preset", "tiny",
            "--device", "cpu", "--no-progress", "--steps", "160", "--set", "train.eval_every=100000"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=400)


def test_transfer_trains_a_student_with_two_teachers_and_refuses_bad_ones(pretrained_teachers: TeacherStore, tmp_path: Path) -> None:
    home = Path(os.environ["VID2ACT_HOME"])
    # Teachers pretrained for 60 steps (tests/pretrained_teachers.py); the walker takes 6 actions against the target's 1.
    pretrained_teachers.install(home, {"cartpole_src": "cartpole_swingup", "walker_src": "walker_walk"})
    run_dir = tmp_path / "vid2act"
    completed = _run(TRANSFER + ["--teachers", "cartpole_src,walker_src", "--logdir", str(run_dir)])
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "dominant teacher" in completed.stdout
    summary = json.loads((run_dir / "transfer_summary.json").read_text())
    assert set(summary["final_mean_weight"]) == {"cartpole_src", "walker_src"}
    assert abs(sum(summary["final_mean_weight"].values()) - 1) < 1e-4
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*records)
    for key in ("losses/distill_loss", "losses/vae_loss", "losses/weight/walker_src", "charts/selected/cartpole_src",
                SWITCH_RATE_SERIES):
        assert key in keys, key
    assert all(0 <= record[SWITCH_RATE_SERIES] <= 1 for record in records if SWITCH_RATE_SERIES in record)
    episode_file = sorted((run_dir / "episodes").glob("ep-*.npz"))[0]
    with np.load(episode_file) as episode:
        assert episode["teacher_feat"].shape[1] == 2 and episode["teacher_feat"].dtype == np.float16

    baseline = _run(TRANSFER + ["--no-distill", "--logdir", str(tmp_path / "dreamer")])
    assert baseline.returncode == 0, baseline.stderr[-3000:]
    baseline_keys = set().union(*[json.loads(line) for line in (tmp_path / "dreamer" / "metrics.jsonl").read_text().splitlines()])
    assert "losses/distill_loss" not in baseline_keys and "losses/model_loss" in baseline_keys

    # Refusals happen before any training starts: no run directory is created.
    missing = _run(TRANSFER + ["--teachers", "cartpole_src,walkr_src", "--logdir", str(tmp_path / "missing")])
    assert missing.returncode == 2 and "walkr_src" in missing.stderr and "walker_src" in missing.stderr
    assert not (tmp_path / "missing").exists()
    no_data = _run(TRANSFER + ["--teachers", "cartpole_src", "--source-data", f"cartpole_src={tmp_path / 'nope.h5'}",
                               "--logdir", str(tmp_path / "nodata")])
    assert no_data.returncode == 2 and "nope.h5" in no_data.stderr and "--no-guidance" in no_data.stderr
    (home / "teachers" / "walker_src" / "model.safetensors").write_bytes(b"not a safetensors file")
    corrupt = _run(TRANSFER + ["--teachers", "walker_src", "--logdir", str(tmp_path / "corrupt")])
    assert corrupt.returncode == 2 and "walker_src" in corrupt.stderr
    assert not (tmp_path / "corrupt").exists()
    changed = _run(TRANSFER + ["--teachers", "cartpole_src", "--logdir", str(run_dir)])
    assert changed.returncode == 2 and "started with teachers" in changed.stderr
