"""`--preset auto`: the paper preset of the task's suite on CUDA, small on the CPU, said once at start."""

from __future__ import annotations

import pytest
import torch

from vid2act_cli.compose.devices import resolve_preset


class Collect:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def echo(self, message: str) -> None:
        self.lines.append(message)

    def say(self, message: str) -> None:
        self.lines.append(message)

    def progress(self, description, total):  # pragma: no cover - not used here
        raise AssertionError("no progress bars expected")


@pytest.mark.parametrize(
    ("spec", "device", "task", "expected"),
    [
        ("auto", "cpu", "walker_walk", "small"),
        ("auto", "cuda", "walker_walk", "paper-dmc"),
        ("auto", "cuda:1", "metaworld:door-open", "paper-metaworld"),
        ("auto,cpu-demo", "cpu", "cartpole_swingup", "small,cpu-demo"),
        ("auto, published-horizon", "cuda", "cheetah_run", "paper-dmc,published-horizon"),
    ],
)
def test_auto_resolves_by_device_and_suite_and_says_so(spec: str, device: str, task: str, expected: str) -> None:
    reporter = Collect()
    assert resolve_preset(spec, device, task, reporter) == expected
    assert len(reporter.lines) == 1 and f"auto -> {expected}" in reporter.lines[0]
    assert ("CUDA" in reporter.lines[0]) == device.startswith("cuda")


def test_auto_device_follows_cuda_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    for available, expected in ((False, "small"), (True, "paper-dmc")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda available=available: available)
        assert resolve_preset("auto", "auto", "walker_walk", Collect()) == expected


def test_explicit_presets_pass_through_silently() -> None:
    reporter = Collect()
    assert resolve_preset("tiny", "cuda", "walker_walk", reporter) == "tiny"
    assert resolve_preset("small,cpu-demo", "cpu", "walker_walk", reporter) == "small,cpu-demo"
    assert reporter.lines == []
