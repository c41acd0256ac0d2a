"""Thread counts for long jobs: an explicit count wins, then a launcher's OMP_NUM_THREADS, else the
cores this process may use that the load does not already fill; pretraining says what it chose."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vid2act_core.runtime import threads as thread_choice
from vid2act_core.runtime.threads import AUTO, choose_threads


def test_explicit_count_wins_over_everything() -> None:
    choice = choose_threads(3, "pretrain.threads", environ={"OMP_NUM_THREADS": "1"})
    assert choice.threads == 3 and choice.reason == "pretrain.threads=3"


def test_auto_takes_the_launchers_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thread_choice, "usable_cores", lambda: 16)
    assert choose_threads(AUTO, "x", environ={"OMP_NUM_THREADS": "4"}).threads == 4


@pytest.mark.parametrize(("cores", "busy", "expected"), [(2, 0, 2), (2, 1, 1), (2, 2, 1), (2, 5, 1), (8, 3, 5)])
def test_auto_counts_the_free_cores_and_never_goes_below_one(monkeypatch: pytest.MonkeyPatch, cores: int, busy: int,
                                                             expected: int) -> None:
    monkeypatch.setattr(thread_choice, "usable_cores", lambda: cores)
    monkeypatch.setattr(thread_choice, "busy_cores", lambda: busy)
    choice = choose_threads(AUTO, "pretrain.threads", environ={})
    assert choice.threads == expected
    assert choice.describe("pretraining").startswith(f"pretraining on {expected} torch thread")
    assert "--set pretrain.threads=N" in choice.reason
    if cores > busy:
        assert f"{expected} of {cores} cores free, {busy} busy with other work" in choice.reason
    else:
        assert f"no core of {cores} free, {busy} busy with other work: one thread" in choice.reason


def test_a_negative_count_is_a_one_line_error_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"^train.threads: expected a thread count >= 1 or 0 \(auto\), got -2$"):
        choose_threads(-2, "train.threads", environ={})


def test_pretraining_sets_and_says_its_thread_count(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from vid2act_core.config import load_config

    from vid2act_cli.compose.devices import configure_threads
    from vid2act_cli.compose.reporter import PlainReporter

    said: list[str] = []

    class Recorder(PlainReporter):
        def say(self, message: str) -> None:
            said.append(message)

    monkeypatch.setattr(thread_choice, "usable_cores", lambda: 2)
    monkeypatch.setattr(thread_choice, "busy_cores", lambda: 1)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    config = load_config("tiny", None, ["train.threads=2"])
    before = torch.get_num_threads()
    try:
        # The pretraining stage reads pretrain.threads (auto here), not train.threads.
        assert configure_threads(config, Recorder(), stage="pretrain") == 1
        assert torch.get_num_threads() == 1
        assert said == ["pretraining on 1 torch thread (1 of 2 cores free, 1 busy with other work; --set pretrain.threads=N to choose)"]
        assert configure_threads(config, stage="train") == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(("own_after", "expected"), [(10.5, 1), (11.0, 0)], ids=["another-process-busy", "only-this-one"])
def test_busy_cores_counts_other_processes_and_not_this_one(monkeypatch: pytest.MonkeyPatch, own_after: float,
                                                             expected: int) -> None:
    # Over a 0.5 s sample the system spends 1.0 busy CPU-second (two cores full); what this process
    # itself used of it (an earlier stage's work) is not another process's core.
    system = iter([100.0, 101.0])
    own = iter([10.0, own_after])
    monkeypatch.setattr(thread_choice, "system_busy_seconds", lambda: next(system))
    monkeypatch.setattr(thread_choice, "own_busy_seconds", lambda: next(own))
    monkeypatch.setattr(thread_choice.time, "sleep", lambda seconds: None)
    assert thread_choice.busy_cores(0.5) == expected


def test_system_busy_seconds_reads_the_aggregate_cpu_line_without_idle_and_iowait(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    ticks = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text(f"cpu  {3 * ticks} {ticks} {2 * ticks} {50 * ticks} {7 * ticks} 0 0 0 0 0\ncpu0 1 2 3 4\n")
    assert thread_choice.system_busy_seconds(str(stat)) == pytest.approx(6.0)
    assert thread_choice.system_busy_seconds(str(tmp_path / "missing")) is None
