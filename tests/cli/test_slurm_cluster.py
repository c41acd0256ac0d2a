"""`vid2act experiment grid --launcher slurm` on a real single-node Slurm cluster (slurm-wlm + munge,
started by examples/slurm-single-node/cluster.sh; .ci/run installs them): two tiny DreamerV2 runs are
submitted, run and reported done; one is requeued mid-run (`scontrol requeue`, as a preemption does),
is reported pending and requeued while it waits, is left alone by a re-launch, then resumes from its
checkpoint and finishes. Skipped where the Slurm and munge binaries are absent or not root.

Cost: about 2 min on the 2-core development machine (two 120-step runs of preset `tiny`, one
CPU each, side by side; the requeued run's restart; each `vid2act` call is its own process).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "examples" / "slurm-single-node" / "cluster.sh"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol")


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running single-node cluster (controller and node on this host, 2 CPUs); yields its slurm.conf."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        pytest.skip(f"needs slurm-wlm and munge ({', '.join(missing)} not found; apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        pytest.skip("needs root to start slurmd")
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(CLUSTER), "start", str(folder), "2"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield folder / "slurm.conf"
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(folder)], capture_output=True, timeout=120)


def _env(conf: Path, home: Path) -> dict[str, str]:
    return dict(os.environ, SLURM_CONF=str(conf), VID2ACT_HOME=str(home), OMP_NUM_THREADS="1")


def _vid2act(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vid2act_cli.app", *args], env=env, capture_output=True, text=True, timeout=300)


def _status(root: Path, env: dict[str, str]) -> dict[str, str]:
    """`experiment status` as {seed: its line}, plus "summary"."""
    completed = _vid2act(["experiment", "status", str(root)], env)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    return {**{line.split(" seed ")[1].split()[0]: line for line in lines[:-1]}, "summary": lines[-1]}


def _wait(what: str, check, timeout_s: float, every_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@pytest.mark.slow
def test_grid_on_slurm_runs_requeues_and_resumes(slurm_cluster: Path, tmp_path: Path) -> None:
    env = _env(slurm_cluster, tmp_path / "home")
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {text}", flush=True)
    root = tmp_path / "experiment"
    command = ["experiment", "grid", "--root", str(root), "--targets", "cartpole_balance", "--methods", "dreamer",
               "--seeds", "2", "--steps", "120", "--preset", "tiny", "--device", "cpu", "--launcher", "slurm",
               "--cpus-per-run", "1", "--time", "00:15:00", "--set", "train.eval_every=60", "--set", "train.checkpoint_every=40"]
    launched = _vid2act(command, env)
    assert launched.returncode == 0, launched.stderr[-3000:]
    job_ids = dict(re.findall(r"submitted transfer cartpole_balance dreamer seed (\d): slurm job (\d+)", launched.stderr))
    assert set(job_ids) == {"0", "1"}, launched.stderr
    say("launched:\n" + launched.stderr.strip())

    run = root / "runs" / "cartpole_balance-dreamer-1"
    _wait("seed 1's first checkpoint", (run / "checkpoints" / "latest.pt").exists, 240, every_s=0.5)
    assert not (run / "DONE").exists(), "seed 1 finished before it could be requeued mid-run"
    requeued = subprocess.run(["scontrol", "requeue", job_ids["1"]], env=env, capture_output=True, text=True, timeout=60)
    assert requeued.returncode == 0, requeued.stderr
    say(f"scontrol requeue {job_ids['1']} (seed 1 has a checkpoint, no DONE)")

    # Slurm holds a requeued job back (BeginTime) before it may start again: it waits in the queue.
    waiting = _wait("seed 1 pending after the requeue", lambda: (lines := _status(root, env))["1"].find("PENDING") > 0 and lines, 90)
    say("experiment status while the requeued job waits:\n" + "\n".join(waiting.values()))
    assert waiting["1"].startswith(f"running  transfer cartpole_balance dreamer seed 1 job {job_ids['1']} (slurm): PENDING")
    assert "requeued 1x" in waiting["1"] and "last attempt:" in waiting["1"] and "killed by SIGTERM" in waiting["1"]
    relaunched = _vid2act(command, env)  # what a user re-running the command gets: nothing submitted twice
    assert relaunched.returncode == 0, relaunched.stderr[-3000:]
    assert "0 to submit" in relaunched.stderr and "submitted transfer" not in relaunched.stderr
    say("re-launched: " + relaunched.stderr.strip().splitlines()[0])
    # Skip the rest of the hold so the test does not sit out Slurm's requeue delay.
    subprocess.run(["scontrol", "update", f"JobId={job_ids['1']}", "StartTime=now"], env=env, check=True, timeout=60)

    def queue_empty() -> bool:
        queue = subprocess.run(["squeue", "-h", "-o", "%i %T"], env=env, capture_output=True, text=True, timeout=60)
        return queue.returncode == 0 and not queue.stdout.strip()

    _wait("both jobs to leave the queue", queue_empty, 300, every_s=2)
    final = _status(root, env)
    say("experiment status at the end:\n" + "\n".join(final.values()))
    assert final["summary"].endswith("2 jobs: 2 done, 0 running, 0 failed, 0 missing"), final
    log = (root / "logs" / "transfer_cartpole_balance_dreamer_seed_1.log").read_text()
    assert log.count("=== ") == 2, log  # two attempts of the same command
    resumed = re.search(r"resuming \S+ at (\d+) env steps", log)
    assert resumed and int(resumed.group(1)) >= 40, log
    say("seed 1's second attempt: " + resumed.group(0))
    assert "done: 120 env steps" in log and "done: 120 env steps" in (root / "logs" / "transfer_cartpole_balance_dreamer_seed_0.log").read_text()
