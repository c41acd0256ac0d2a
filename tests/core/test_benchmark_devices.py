"""compare_anchors.py --device: the anchor rows are built on the chosen device, every timed update
waits for it, and a device that cannot be used is refused in one line.

The anchors themselves (../shared/anchors) are not needed: the harness's `impls` and `worker`
modules are stood in for by namespaces with the same attributes, and the device is torch's `meta`
device (which any machine has), so "built on the device" is observable without a GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import anchor_setup  # noqa: E402
import compare_anchors  # noqa: E402


def _harness(seen: dict) -> tuple[SimpleNamespace, SimpleNamespace]:
    def anchor_common(config: SimpleNamespace, tools: object) -> None:
        config.device = "cpu"  # what the harness's impls._anchor_common does

    def build_anchor():
        config = SimpleNamespace()
        impls._anchor_common(config, None)
        seen["config_device"] = config.device
        seen["parameter_device"] = torch.nn.Linear(2, 2).weight.device.type

        def update() -> dict[str, float]:
            return {"wm": 1.0, "ac": 2.0}

        return update, {"params": 6}

    def build_ours():
        return (lambda: {"wm": 0.5}), {"params": 1}

    impls = SimpleNamespace(
        _anchor_common=anchor_common,
        BUILDERS={"dreamer-torch": build_anchor, "vid2act-t4": build_anchor, "ours": build_ours},
    )
    worker = SimpleNamespace(build=lambda name: impls.BUILDERS[name](), MATMUL_N=16, peak_rss_mib=lambda: 123.0)
    return impls, worker


def test_anchor_rows_are_built_on_the_device_and_synchronised(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}
    synchronised: list[str] = []
    monkeypatch.setattr(anchor_setup, "synchronize", lambda device: synchronised.append(str(device)))
    impls, worker = _harness(seen)
    ours_builder = impls.BUILDERS["ours"]

    anchor_setup.place_on_device(impls, worker, "meta")

    for name in anchor_setup.ANCHOR_ROWS:
        seen.clear()
        update, info = worker.build(name)
        assert seen == {"config_device": "meta", "parameter_device": "meta"}, name
        assert torch.get_default_device().type == "cpu", "the default device must be restored after building"
        assert info == {"params": 6}
        synchronised.clear()
        assert update() == {"wm": 1.0, "ac": 2.0}
        assert synchronised == ["meta"], "every timed update must wait for the device"
    assert impls.BUILDERS["ours"] is ours_builder, "this project's rows read the device themselves"
    assert worker.peak_rss_mib() == 123.0, "peak memory stays the resident set off CUDA"


def test_default_device_is_restored_when_an_anchor_fails_to_build() -> None:
    def broken():
        raise RuntimeError("anchor failed")

    build = anchor_setup.built_on_device(broken, "meta")
    with pytest.raises(RuntimeError, match="anchor failed"):
        build()
    assert torch.get_default_device().type == "cpu"


def test_matmul_probe_runs_on_the_device() -> None:
    update, info = anchor_setup.matmul_probe("cpu", 8)
    assert info == {"params": 0}
    update()  # one 8 x 8 matmul, synchronised (a no-op on the CPU)


def test_our_rows_follow_the_bench_device_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(anchor_setup.DEVICE_VARIABLE, raising=False)
    assert anchor_setup.bench_device() == "cpu"
    monkeypatch.setenv(anchor_setup.DEVICE_VARIABLE, "cuda:1")
    assert anchor_setup.bench_device() == "cuda:1"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_is_refused_in_one_line() -> None:
    with pytest.raises(SystemExit, match=r"--device cuda: CUDA is not available .* use --device cpu"):
        compare_anchors.check_device("cuda")


@pytest.mark.parametrize(("device", "message"), [("tpu", "not a torch device"), ("meta", "only cpu and cuda")])
def test_unusable_devices_are_named(device: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        compare_anchors.check_device(device)
    assert compare_anchors.check_device("cpu").startswith("cpu")
