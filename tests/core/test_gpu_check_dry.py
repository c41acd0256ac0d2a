"""benchmarks/gpu_check.sh --dry: every stage of the GPU day runs on the CPU at tiny sizes and lands in
summary.json with a status, its wall seconds and its figures; the CUDA-only stages say why they are skipped.

The script is what a lent GPU machine runs in its one call (docs/gpu.md), so a broken stage found here
costs seconds instead of the machine's minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STAGES = ["device", "gpu-tests", "train-fp32-b16", "train-bf16-b16", "train-fp32-b50", "train-bf16-b50", "anchors",
          "train-compile-b16", "train-cudagraphs-b16", "train-compile-b50", "train-cudagraphs-b50"]
CUDA_ONLY = {"train-compile-b16", "train-cudagraphs-b16", "train-compile-b50", "train-cudagraphs-b50"}


def _anchor_harness() -> bool:
    if os.environ.get("VID2ACT_ANCHORS"):
        return True
    return any((folder / "anchors" / "speed.py").is_file() for folder in (ROOT / "shared", ROOT.parent / "shared"))


def _dry(out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    # The dry mode's own budget (110 s) would skip the last stages on a loaded machine; its duration is
    # a benchmark figure (docs/gpu.md), what is tested here is that every stage runs and passes.
    environment = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_BUDGET_S": "600"}
    environment.pop("OUT", None)
    completed = subprocess.run(["bash", str(SCRIPT), "--dry", *extra, str(out)], capture_output=True, text=True,
                               env=environment, timeout=700)
    summary_path = out / "summary.json"
    assert summary_path.is_file(), completed.stdout + completed.stderr
    return completed, json.loads(summary_path.read_text())


def _check_stage(stage: dict, out: Path) -> None:
    assert stage["status"] in ("ok", "failed", "skipped"), stage
    assert isinstance(stage["wall_s"], float) and stage["wall_s"] >= 0, stage
    if stage["status"] != "skipped":
        assert (out / stage["log"]).is_file(), stage


@pytest.mark.slow
def test_dry_run_lists_every_stage_and_the_cpu_stages_pass(tmp_path: Path) -> None:
    completed, summary = _dry(tmp_path)
    by_name = {stage["name"]: stage for stage in summary["stages"]}
    assert [stage["name"] for stage in summary["stages"]] == STAGES, completed.stdout

    for stage in summary["stages"]:
        _check_stage(stage, tmp_path)
    for name in STAGES:
        stage = by_name[name]
        if name in CUDA_ONLY or (name == "anchors" and not _anchor_harness()):
            assert stage["status"] == "skipped" and stage["reason"].strip(), stage
        else:
            assert stage["status"] == "ok", f"{name}: {stage['reason']}\n{(tmp_path / name).with_suffix('.log').read_text()}"
    assert completed.returncode == 0, completed.stdout + completed.stderr
    # The wall time is recorded, not bounded: the dry mode's two minutes are a benchmark figure (docs/gpu.md).
    assert isinstance(summary["wall_s"], float) and summary["wall_s"] > 0, summary["wall_s"]
    assert summary["stages_ok"] + summary["stages_skipped"] == len(STAGES) and summary["stages_failed"] == 0

    for name in ("train-fp32-b16", "train-bf16-b16", "train-fp32-b50", "train-bf16-b50"):
        rows = by_name[name]["figures"]["rows"]
        assert rows and all(row["updates_per_s"] > 0 and row["peak_mb"] > 0 for row in rows), (name, rows)
    assert by_name["train-fp32-b16"]["figures"]["rows"][0]["batch"] != by_name["train-fp32-b50"]["figures"]["rows"][0]["batch"]
    assert "torch" in by_name["device"]["figures"]["versions"]
    assert by_name["gpu-tests"]["figures"]["tests"].get("failed", 0) == 0
    if by_name["anchors"]["status"] == "ok":
        assert by_name["anchors"]["figures"]["rows"]["ours"]["median_s"] > 0
    markdown = (tmp_path / "summary.md").read_text()
    assert all(f"| {name} |" in markdown for name in STAGES)


def test_a_failing_stage_is_recorded_and_the_exit_status_says_so(tmp_path: Path) -> None:
    # A Python that exits 1 for every stage: each stage is failed with its exit status, the summary is
    # still written (gpu_check_summary.py runs with the real interpreter), and the script exits 1.
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\ncase "$1" in *gpu_check_summary.py) exec "{sys.executable}" "$@";; esac\n'
                    "echo broken on purpose; exit 1\n")
    fake.chmod(0o755)
    environment = {**os.environ, "PYTHON": str(fake)}
    environment.pop("OUT", None)
    out = tmp_path / "out"
    completed = subprocess.run(["bash", str(SCRIPT), "--dry", "--only", "device,train-fp32-b16", str(out)],
                               capture_output=True, text=True, env=environment, timeout=60)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [(stage["name"], stage["status"], stage["exit_status"]) for stage in summary["stages"]] == [
        ("device", "failed", 1), ("train-fp32-b16", "failed", 1)]
    assert "broken on purpose" in summary["stages"][0]["reason"]
    for stage in summary["stages"]:
        _check_stage(stage, out)


def test_bad_arguments_exit_2_and_name_the_stages(tmp_path: Path) -> None:
    completed = subprocess.run(["bash", str(SCRIPT), "--only", "train-fp64", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2
    assert "unknown stage 'train-fp64'" in completed.stderr and "train-cudagraphs-b50" in completed.stderr
