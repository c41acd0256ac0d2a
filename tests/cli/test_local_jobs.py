"""`run_jobs`, the launcher's local path the demo and `vid2act probe --jobs` run through: independent jobs side
by side, a job after the jobs it needs, a failure named in one line while the others finish, a log per job,
and the cores split between the slots. The jobs are small Python scripts (`program=(python,)`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from vid2act_cli.compose.launch import JobFailedError, run_jobs
from vid2act_cli.compose.launch.executors import cpu_count
from vid2act_cli.compose.launch.local import default_slots, independent_jobs
from vid2act_cli.experiments import Job

PYTHON = (sys.executable,)
# Records its start and end time, its thread variable and its argv, sleeps, then writes its done file.
SCRIPT = """
import json, os, sys, time
started = time.time()
time.sleep({sleep})
if {fail}:
    sys.exit("boom: this job fails")
open({done!r}, "w").write(json.dumps({{"started": started, "ended": time.time(),
    "omp": os.environ.get("OMP_NUM_THREADS"), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "argv": sys.argv[1:]}}))
"""


def fake_job(tmp_path: Path, name: str, sleep: float = 0.0, needs: tuple[str, ...] = (), fail: bool = False) -> Job:
    done = tmp_path / f"{name}.json"
    return Job("transfer", name, ("-c", SCRIPT.format(sleep=sleep, fail=fail, done=str(done))), done, needs=needs)


def record(job: Job) -> dict:
    return json.loads(job.done_file.read_text())


def overlap(first: dict, second: dict) -> bool:
    return first["started"] < second["ended"] and second["started"] < first["ended"]


@pytest.mark.parametrize("slots", [1, 2])
def test_independent_jobs_overlap_only_with_two_slots(tmp_path: Path, slots: int, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = [fake_job(tmp_path, "one", 1.5), fake_job(tmp_path, "two", 1.5)]
    assert run_jobs(jobs, tmp_path / "exp", "t", slots, program=PYTHON) == 2
    assert overlap(record(jobs[0]), record(jobs[1])) == (slots == 2)
    err = capsys.readouterr().err
    for job in jobs:
        assert f"started {job.label}" in err
        assert f"finished {job.label} in " in err
        assert (tmp_path / "exp" / "logs" / f"{job.key}.log").exists()


def test_each_job_gets_the_cores_split_between_the_slots(tmp_path: Path) -> None:
    jobs = [fake_job(tmp_path, "one"), fake_job(tmp_path, "two")]
    run_jobs(jobs, tmp_path / "exp", "t", 2, program=PYTHON)
    threads = max(1, cpu_count() // 2)
    for job in jobs:
        assert record(job)["omp"] == str(threads)
        assert record(job)["argv"][-2:] == ["--set", f"train.threads={threads}"]


def test_jobs_of_a_gpu_caller_share_its_gpus_and_cpu_jobs_see_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    on_gpu, on_cpu = fake_job(tmp_path, "gpu"), fake_job(tmp_path, "cpu")
    run_jobs([on_gpu], tmp_path / "a", "t", 1, program=PYTHON, device="cuda")
    run_jobs([on_cpu], tmp_path / "b", "t", 1, program=PYTHON)
    assert record(on_gpu)["cuda"] == "0" and record(on_cpu)["cuda"] == ""


def test_a_job_waits_for_the_job_it_needs(tmp_path: Path) -> None:
    first = fake_job(tmp_path, "first", 1.0)
    second = fake_job(tmp_path, "second", needs=("first",))
    run_jobs([first, second], tmp_path / "exp", "t", 2, program=PYTHON)
    assert record(second)["started"] >= record(first)["ended"]


# Writes its output file first and keeps working on it, as `vid2act collect` appends episodes to its dataset.
EARLY_OUTPUT_SCRIPT = """
import json, time
open({done!r}, "w").write("partial")
time.sleep(1.5)
open({done!r}, "w").write(json.dumps({{"ended": time.time()}}))
"""


def test_a_job_whose_output_exists_while_it_runs_is_not_done_for_the_jobs_that_need_it(tmp_path: Path) -> None:
    done = tmp_path / "data.json"
    writer = Job("transfer", "writer", ("-c", EARLY_OUTPUT_SCRIPT.format(done=str(done))), done)
    reader = fake_job(tmp_path, "reader", needs=("writer",))
    run_jobs([writer, reader], tmp_path / "exp", "t", 2, program=PYTHON)
    assert record(reader)["started"] >= json.loads(done.read_text())["ended"]


def test_a_failing_job_is_named_in_one_line_and_the_others_finish(tmp_path: Path) -> None:
    bad = fake_job(tmp_path, "bad", fail=True)
    good = fake_job(tmp_path, "good", 0.5)
    after = fake_job(tmp_path, "after bad", needs=("bad",))
    with pytest.raises(JobFailedError) as raised:
        run_jobs([bad, good, after], tmp_path / "exp", "t", 2, program=PYTHON)
    message = str(raised.value)
    assert "\n" not in message and "bad (" in message and "boom: this job fails" in message
    assert "not started (a job they need failed): after bad" in message
    assert good.is_done() and not after.is_done()
    assert "boom" in (tmp_path / "exp" / "logs" / f"{bad.key}.log").read_text()
    # A re-run skips what finished and tries the rest again.
    with pytest.raises(JobFailedError, match="1 job"):
        run_jobs([bad, good, after], tmp_path / "exp", "t", 2, program=PYTHON)


def test_default_slots_are_the_cores_capped_at_what_can_run_at_once(tmp_path: Path) -> None:
    chain = [fake_job(tmp_path, "a"), fake_job(tmp_path, "b", needs=("a",)), fake_job(tmp_path, "c", needs=("b",))]
    assert independent_jobs(chain) == 1 and default_slots(chain) == 1
    wide = [fake_job(tmp_path, name) for name in "abcdefgh"]
    assert default_slots(wide) == min(cpu_count(), 8)


# Started by the test in its own session: runs one job that, on Ctrl-C, takes a second to write its checkpoint.
LAUNCHER = """
import sys
from pathlib import Path
from vid2act_cli.compose.launch import run_jobs
from vid2act_cli.experiments import Job

folder = Path(sys.argv[1])
script = '''
import pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
def stop(*_):
    time.sleep(1.0)
    (folder / "checkpoint").write_text("kept")
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
(folder / "running").write_text("")
time.sleep(60)
'''
job = Job("expert", "slow", ("-c", script, str(folder)), folder / "never")
try:
    run_jobs([job], folder / "exp", "t", 1, program=(sys.executable,))
except KeyboardInterrupt:
    print("launcher stopped; checkpoint " + ("kept" if (folder / "checkpoint").exists() else "missing"), flush=True)
"""


@pytest.mark.parametrize("to_group", [True, False], ids=["terminal", "launcher-only"])
def test_ctrl_c_stops_the_running_jobs_waits_for_their_checkpoints_and_prints_no_traceback(tmp_path: Path, to_group: bool) -> None:
    import os
    import signal
    import subprocess
    import time

    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "running").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if to_group:
        os.killpg(launcher.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    else:
        os.kill(launcher.pid, signal.SIGINT)  # `kill -INT`: the launcher stops the commands itself
    out, err = launcher.communicate(timeout=90)
    assert "launcher stopped; checkpoint kept" in out
    assert "Traceback" not in err and "stopping 1 running job(s)" in err  # the console stays readable
