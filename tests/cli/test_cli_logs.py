"""Output read as a log (a file, a pipe: Slurm, nohup, `| tee`): lines arrive while the command runs."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from vid2act_cli.compose.reporter import LineBar, format_duration, progress_line_seconds
from vid2act_cli.compose.teacher_add import train_domain_expert

TRAIN = [sys.executable, "-m", "vid2act_cli.app", "train", "--task", "cartpole_swingup", "--preset", "tiny", "--device", "cpu"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("PYTHONUNBUFFERED", None)  # a batch job's Python buffers its output unless the command says otherwise
    env.update(extra)
    return env


def _lines_of(stream: Any) -> "queue.Queue[str | None]":
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for raw in iter(stream.readline, b""):
            lines.put(raw.decode().rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: "queue.Queue[str | None]", wanted: str, seen: list[str], timeout: float) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.time()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if wanted in line:
            return line
    raise AssertionError(f"no line with {wanted!r} within {timeout}s; got: {seen[-20:]}")


def test_train_into_a_pipe_shows_its_stage_and_progress_lines_while_it_runs(tmp_path: Path) -> None:
    # Far more steps than the test waits for: every line below is read while the run is still going.
    command = TRAIN + ["--steps", "1000000", "--logdir", str(tmp_path / "run")]
    process = subprocess.Popen(command, env=_env(VID2ACT_PROGRESS_SECONDS="0.5"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        lines, seen = _lines_of(process.stdout), []
        assert _wait_for(lines, "new run:", seen, 120).startswith("new run: ")
        started = _wait_for(lines, "dreamer dmc:cartpole_swingup: started", seen, 120)
        assert started.endswith("1000000 steps")
        progress = _wait_for(lines, "steps/s", seen, 180)
        assert progress.startswith("dreamer dmc:cartpole_swingup: ") and "/1000000 (" in progress and " left" in progress
        assert process.poll() is None, "the run ended: the lines were not read while it ran"
        assert not any("\x1b[" in line or "\r" in line for line in seen), "terminal control codes in a log"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 130


def test_a_bad_progress_interval_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vid2act_cli.commands.app import app

    result = CliRunner().invoke(app, TRAIN[3:] + ["--logdir", str(tmp_path / "run")], env={"VID2ACT_PROGRESS_SECONDS": "soon"})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: VID2ACT_PROGRESS_SECONDS='soon': expected a number of seconds > 0, e.g. 30"
    ]
    assert not (tmp_path / "run").exists()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_bar_reports_done_rate_and_time_left_from_its_first_update() -> None:
    clock, written = FakeClock(), []
    bar = LineBar("pretrain walker", 1000, written.append, interval=3600, clock=clock)
    with bar:
        clock.now += 5
        bar.update(200, "loss 1.5")  # a resumed stage starts at 200: its rate counts from here
        clock.now += 10
        bar.update(300)
        assert bar.line() == "pretrain walker: 300/1000 (30%), 10 steps/s, 1m10s left, 15s elapsed | loss 1.5"
        clock.now += 1
        bar.advance(10)
    assert written == ["pretrain walker: started, 1000 steps", "pretrain walker: done at 310/1000 after 16s"]


def test_a_line_bar_writes_lines_at_its_interval_even_when_nothing_updates() -> None:
    written: list[str] = []
    with LineBar("collect", None, written.append, interval=0.05) as bar:
        bar.advance(3)
        time.sleep(0.5)
    beats = [line for line in written if line.startswith("collect: 3,")]
    assert len(beats) >= 3, written
    assert written[0] == "collect: started" and written[-1].startswith("collect: done at 3 after")


def test_progress_interval_and_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VID2ACT_PROGRESS_SECONDS", raising=False)
    assert progress_line_seconds() == 30.0
    monkeypatch.setenv("VID2ACT_PROGRESS_SECONDS", "2.5")
    assert progress_line_seconds() == 2.5
    for bad in ("0", "-1", "nan", "inf"):
        monkeypatch.setenv("VID2ACT_PROGRESS_SECONDS", bad)
        with pytest.raises(ValueError, match="VID2ACT_PROGRESS_SECONDS"):
            progress_line_seconds()
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]


class Recorder:
    def __init__(self) -> None:
        self.said: list[str] = []

    def echo(self, message: str) -> None:
        self.said.append(message)

    def say(self, message: str) -> None:
        self.said.append(message)

    def progress(self, description: str, total: int | None) -> Any:
        return LineBar(description, total, self.said.append, interval=3600)


def test_the_state_expert_stage_says_what_it_trains_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vid2act_teachers.experts.rollout as rollout
    from vid2act_teachers.plugins import domain_registry

    reporter, seen_at_start = Recorder(), []

    def train_expert(task: str, home: Path, steps: int, on_progress: Any) -> Any:
        seen_at_start.extend(reporter.said)
        raise KeyboardInterrupt

    monkeypatch.setattr(rollout, "train_expert", train_expert)
    registry = domain_registry()
    with pytest.raises(KeyboardInterrupt):
        train_domain_expert(registry.domain("dmc"), registry.resolve("walker_walk"), 5000, tmp_path, reporter)
    assert seen_at_start[0] == (f"[1/4] expert: training SAC from state on walker_walk for 5000 agent steps on 1 torch "
                                f"thread, whatever the cores (a second makes its small MLPs about 1.2x faster); kept in "
                                f"{tmp_path / 'experts' / 'walker_walk'} for reuse, re-running resumes it")
    assert seen_at_start[1] == "expert walker_walk: started, 5000 steps"


def test_the_entry_point_line_buffers_stdout_into_a_pipe() -> None:
    # A plain print() without flush, as plugin commands and libraries write: it must reach the pipe at once.
    code = ("import time; from vid2act_cli import app; app.line_buffered_output(); "
            "print('stage one: started'); time.sleep(120)")
    process = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE)
    try:
        assert _wait_for(_lines_of(process.stdout), "stage one", [], 60) == "stage one: started"
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
