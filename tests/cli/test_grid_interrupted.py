"""`vid2act experiment grid --launcher local --jobs 2`, interrupted with Ctrl-C while both runs are
mid-way and launched again with the same command: the same two runs finish, each resumed from its
checkpoint rather than started again, and no other run directory appears.

Cost: about 40 s on the 2-core development machine (two 400-step runs of preset `tiny`, one thread
each, side by side; each `vid2act` call is its own process).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SEEDS = ("0", "1")


def _grid_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "vid2act_cli.app", "experiment", "grid", "--root", str(root),
            "--targets", "cartpole_balance", "--methods", "dreamer", "--seeds", str(len(SEEDS)), "--steps", "400",
            "--preset", "tiny", "--device", "cpu", "--jobs", "2",
            "--set", "train.eval_every=60", "--set", "train.checkpoint_every=40"]


def _wait(what: str, check, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.mark.slow
def test_an_interrupted_grid_relaunched_finishes_the_same_runs_from_their_checkpoints(tmp_path: Path) -> None:
    env = dict(os.environ, VID2ACT_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    root = tmp_path / "experiment"
    runs = [root / "runs" / f"cartpole_balance-dreamer-{seed}" for seed in SEEDS]

    # A terminal's Ctrl-C reaches the whole foreground process group: the launcher and its runs.
    first = subprocess.Popen(_grid_command(root), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    try:
        _wait("a checkpoint in both runs",
              lambda: all((run / "checkpoints" / "latest.pt").exists() for run in runs) or first.poll() is not None, 240)
        assert first.poll() is None, "the grid finished before it could be interrupted:\n" + first.stdout.read()
        assert not any((run / "DONE").exists() for run in runs), "a run finished before the interrupt"
        os.killpg(first.pid, signal.SIGINT)
        interrupted_output, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode != 0, interrupted_output
    assert not any((run / "DONE").exists() for run in runs), interrupted_output

    second = subprocess.run(_grid_command(root), env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert sorted(path.name for path in (root / "runs").iterdir()) == sorted(run.name for run in runs)
    for seed, run in zip(SEEDS, runs):
        done = json.loads((run / "DONE").read_text())
        assert done["env_steps"] >= 400, done
        log = (root / "logs" / f"transfer_cartpole_balance_dreamer_seed_{seed}.log").read_text()
        resumed = re.search(r"resuming \S+ at (\d+) env steps", log)
        assert resumed and int(resumed.group(1)) >= 40, log
        # One metrics file across both attempts, continuing past the resumed step.
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert max(steps) > int(resumed.group(1)), steps
