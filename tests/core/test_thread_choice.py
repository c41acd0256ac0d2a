"""Thread counts for long jobs: an explicit count wins, then a launcher's OMP_NUM_THREADS, else the
cores this process may use that the load does not already fill; pretraining says what it chose."""

from __future__ import annotations

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
        assert f"{expected} of {cores} cores free, load {busy}" in choice.reason
    else:
        assert f"no core of {cores} free, load {busy}: one thread" in choice.reason


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
        assert said == ["pretraining on 1 torch thread (1 of 2 cores free, load 1; --set pretrain.threads=N to choose)"]
        assert configure_threads(config, stage="train") == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
