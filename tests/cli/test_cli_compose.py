"""The composition layer's reporting: plain reporter, progress formatting, the commands' rich bars, devices."""

from __future__ import annotations

import pytest
import torch

from vid2act_core.config import load_config
from vid2act_core.loop import LoopState
from vid2act_cli.commands.console import RichBar, RichReporter, add_bar, new_progress
from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.pretraining import pretrain_progress, pretraining_config
from vid2act_cli.compose.reporter import NoBar, PlainReporter, plain_if_none
from vid2act_cli.compose.training import loop_progress


class RecordingBar:
    def __init__(self) -> None:
        self.updates: list[tuple[int, str]] = []
        self.advanced = 0

    def update(self, completed: int, info: str = "") -> None:
        self.updates.append((completed, info))

    def advance(self, amount: int = 1) -> None:
        self.advanced += amount


def test_plain_reporter_writes_output_to_stdout_notes_to_stderr_and_shows_no_bar(capsys: pytest.CaptureFixture) -> None:
    reporter = plain_if_none(None)
    assert isinstance(reporter, PlainReporter)
    reporter.echo("result line")
    reporter.say("a note")
    with reporter.progress("work", 10) as bar:
        assert isinstance(bar, NoBar)
        bar.update(5, "half")
        bar.advance()
    captured = capsys.readouterr()
    assert captured.out == "result line\n"
    assert captured.err == "a note\n"


def test_loop_progress_puts_env_steps_on_the_bar_and_the_latest_numbers_beside_it() -> None:
    bar = RecordingBar()
    callback = loop_progress(bar, total_steps=100)
    state = LoopState(env_steps=120, updates=7)
    callback(state, {"charts/episode_return": 3.14159, "eval/return_deterministic": 10.0, "charts/updates_per_second": 1.5})
    callback(LoopState(env_steps=40, updates=2), {})
    assert bar.updates == [(100, "return 3.1 | eval 10.0 | 1.50 upd/s | 7 updates"), (40, "2 updates")]


def test_pretrain_progress_shows_losses_and_open_loop_error() -> None:
    bar = RecordingBar()
    callback = pretrain_progress(bar, total_steps=50)
    callback(60, {"losses/image_loss": 1234.56, "losses/kl": 0.5, "eval/open_loop_error": 0.01234, "charts/updates_per_second": 3.0})
    assert bar.updates == [(50, "image 1234.6 | kl 0.50 | open-loop 0.0123 | 3.0 upd/s")]


def test_pretraining_config_takes_seed_steps_and_overrides_and_refuses_bad_steps() -> None:
    config = pretraining_config("tiny", None, ["pretrain.log_every=3"], seed=5, steps=7)
    assert (config.seed, config.pretrain.steps, config.pretrain.log_every) == (5, 7, 3)
    preset_steps = pretraining_config("tiny", None, [], seed=0, steps=None).pretrain.steps
    assert preset_steps == load_config("tiny").pretrain.steps
    with pytest.raises(ValueError, match=r"^--steps must be an integer >= 1, got 0$"):
        pretraining_config("tiny", None, [], seed=0, steps=0)


def test_rich_bar_throttles_status_updates_but_never_drops_the_last_one() -> None:
    progress = new_progress()
    task_id = add_bar(progress, "train", 10)
    bar = RichBar(progress, task_id, 10)
    bar.update(1, "first")
    bar.update(2, "too soon")
    assert progress.tasks[0].completed == 1 and progress.tasks[0].fields["info"] == "first"
    bar.update(10, "done")
    assert progress.tasks[0].completed == 10 and progress.tasks[0].fields["info"] == "done"
    bar.advance(3)
    assert progress.tasks[0].completed == 13


def test_rich_reporter_without_progress_yields_a_bar_that_shows_nothing() -> None:
    with RichReporter(show_progress=False).progress("train", 5) as bar:
        assert isinstance(bar, NoBar)


def test_resolve_device_passes_devices_through_and_names_a_bad_option() -> None:
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"^--device 'tpu': expected cpu, cuda, cuda:N, mps or auto$"):
        resolve_device("tpu")
