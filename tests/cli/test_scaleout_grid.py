"""A 2x2 tiny grid (vid2act, dreamer x 2 seeds) launched through submitit's local executor, two
runs side by side: one run fails, `experiment status` says so with its error, re-running the same
command submits only that run, and the report aggregates all four."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pretrained_teachers import TeacherStore


def _vid2act(args: list[str], home: Path) -> subprocess.CompletedProcess:
    """The CLI in its own process, as a user runs it (the launcher's jobs outlive no test stream)."""
    env = dict(os.environ, VID2ACT_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "vid2act_cli.app", *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_grid_fails_one_run_reports_it_resubmits_only_it_and_reports_all(pretrained_teachers: TeacherStore, tmp_path: Path) -> None:
    home, root = tmp_path / "home", tmp_path / "experiment"
    pretrained_teachers.install(home, {"swingup_src": "cartpole_swingup", "balance_src": "cartpole_balance"})
    command = ["experiment", "grid", "--root", str(root), "--targets", "cartpole_balance", "--methods", "vid2act,dreamer",
               "--teachers", "swingup_src,balance_src", "--seeds", "2", "--steps", "60", "--preset", "tiny", "--device", "cpu",
               "--launcher", "local", "--jobs", "2", "--set", "train.eval_every=30"]
    broken = root / "runs" / "cartpole_balance-vid2act-1"
    broken.parent.mkdir(parents=True)
    broken.write_text("a file where the run directory should be")

    first = _vid2act(command, home)
    assert first.returncode == 1, first.stderr[-3000:]
    assert "grid: 1 failed, 0 not started" in first.stderr

    status = _vid2act(["experiment", "status", str(root)], home)
    assert status.returncode == 0, status.stderr
    lines = {line.split()[0] + " " + " ".join(line.split()[1:6]): line for line in status.stdout.splitlines()[:-1]}
    assert set(lines) == {f"{state} transfer cartpole_balance {method} seed {seed}"
                          for method, seed, state in (("vid2act", 0, "done"), ("dreamer", 0, "done"),
                                                      ("vid2act", 1, "failed"), ("dreamer", 1, "done"))}
    failed = lines["failed transfer cartpole_balance vid2act seed 1"]
    assert "(local)" in failed and "exit code 1" in failed and str(broken) in failed  # the run's own last error line
    assert status.stdout.splitlines()[-1].endswith("4 jobs: 3 done, 0 running, 1 failed, 0 missing")
    submissions = {key: record["submissions"] for key, record in json.loads((root / "jobs.json").read_text())["jobs"].items()}
    assert submissions == dict.fromkeys(submissions, 1) and len(submissions) == 4

    broken.unlink()
    second = _vid2act(command, home)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "4 jobs, 3 done, 0 running, 1 to submit" in second.stderr
    assert second.stderr.count("started ") == 1 and "started transfer cartpole_balance vid2act seed 1" in second.stderr
    records = json.loads((root / "jobs.json").read_text())["jobs"]
    assert records["transfer_cartpole_balance_vid2act_seed_1"]["submissions"] == 2
    assert sum(record["submissions"] for record in records.values()) == 5

    status = _vid2act(["experiment", "status", str(root)], home)
    assert status.stdout.splitlines()[-1].endswith("4 jobs: 4 done, 0 running, 0 failed, 0 missing")
    report = _vid2act(["report", str(root), "--out", str(tmp_path / "report")], home)
    assert report.returncode == 0, report.stderr[-3000:]
    rows = {row["method"]: row for row in json.loads((tmp_path / "report" / "summary.json").read_text())["rows"]}
    assert set(rows) == {"vid2act", "dreamer"}
    for row in rows.values():
        assert row["task"].endswith("cartpole_balance") and row["seeds"] == 2 and row["done"] == 2
        assert len(row["last_eval_return"]) == 2 and row["env_steps"] >= 60
    assert (tmp_path / "report" / "eval_return.png").stat().st_size > 5_000
    assert "cartpole_balance vid2act: 2 seed(s)" in report.stdout and "cartpole_balance dreamer: 2 seed(s)" in report.stdout
