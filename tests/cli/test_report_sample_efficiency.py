"""`vid2act report`'s sample-efficiency summary and diagnostics figure, on hand-written run folders.

Every expected number below is worked out by hand from the curves in `CURVES` (evaluations at env
steps 0, 500, 1000 on dmc:cartpole_swingup):

    dreamer s0: 0, 10, 20  AUC = (500*(0+10)/2 + 500*(10+20)/2) / 1000 = 10
    dreamer s1: 0, 20, 40  AUC = (5000 + 15000) / 1000 = 20
    vid2act s0: 10, 40, 40 AUC = (12500 + 20000) / 1000 = 32.5
    vid2act s1: 0, 0, 10   AUC = (0 + 2500) / 1000 = 2.5
"""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from typer.testing import CliRunner

from vid2act_cli.app import app
from vid2act_cli.compose.runs import save_run_config
from vid2act_cli.report import build_report
from vid2act_cli.report.efficiency import normalised_auc
from vid2act_cli.report.runs import DIAG_PREFIX, RETURN_KEY
from vid2act_core.config import preset

STEPS = (0, 500, 1000)
CURVES = {("dreamer", 0): (0, 10, 20), ("dreamer", 1): (0, 20, 40), ("vid2act", 0): (10, 40, 40), ("vid2act", 1): (0, 0, 10)}
DIAG_KEYS = ("student_deter_std", "student_stoch_std", "grad_ratio", "target_std", "guidance_mean_gap")


def _run(directory: Path, method: str, seed: int, returns: tuple[float, ...], steps: tuple[int, ...] = STEPS,
         diagnostics: bool = False) -> Path:
    """A finished run folder as train/transfer leave it: config.yaml, metrics.jsonl (training records
    between evaluations, evaluation records at `steps`), DONE."""
    config = preset("tiny")
    config.seed = seed
    save_run_config(directory, config, {"task": "dmc:cartpole_swingup", "method": method})
    records = []
    for index, (step, value) in enumerate(zip(steps, returns)):
        training = {"step": step + 50, "time": 1.0, "losses/image_loss": 300.0 - index, "losses/reward_loss": 1.0 / (index + 1),
                    "charts/updates": float(index)}
        if diagnostics:
            training.update({f"{DIAG_PREFIX}{key}": 0.1 * (index + 1) + seed for key in DIAG_KEYS})
        records.append({"step": step, "time": 1.0, RETURN_KEY: value, "eval/return_stochastic": value - 1})
        records.append(training)
    (directory / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (directory / "DONE").write_text(json.dumps({"env_steps": steps[-1]}) + "\n")
    return directory


def _runs(root: Path, diagnostics: bool = False) -> list[Path]:
    return [_run(root / f"{method}_{seed}", method, seed, curve, diagnostics=diagnostics and method == "vid2act")
            for (method, seed), curve in CURVES.items()]


def _methods(task: dict) -> dict[str, dict]:
    return {method["method"]: method for method in task["methods"]}


def _invoke(args: list[str]):
    return CliRunner().invoke(app, ["report", *args], env={"COLUMNS": "200"})


def test_auc_fixed_step_returns_threshold_and_paired_differences_match_hand_computation(tmp_path: Path) -> None:
    report = build_report(_runs(tmp_path / "runs"), tmp_path / "out")
    [task] = json.loads((tmp_path / "out" / "sample_efficiency.json").read_text())["tasks"]
    assert task == report.efficiency[0]
    assert task["at_steps"] == [0, 500, 1000] and task["auc_range"] == [0, 1000]
    assert task["threshold"] == pytest.approx(40 / 3)  # a third of the best final return (dreamer s1: 40)
    assert task["baseline"] == "dreamer"
    methods = _methods(task)
    dreamer, vid2act = methods["dreamer"], methods["vid2act"]
    assert [seed["auc"] for seed in dreamer["per_seed"]] == pytest.approx([10, 20])
    assert [seed["auc"] for seed in vid2act["per_seed"]] == pytest.approx([32.5, 2.5])
    assert dreamer["auc"] == pytest.approx({"mean": 15, "std": 5, "n": 2})
    assert vid2act["auc"] == pytest.approx({"mean": 17.5, "std": 15, "n": 2})
    assert dreamer["at"][1] == pytest.approx({"step": 500, "mean": 15, "std": 5, "n": 2})
    assert vid2act["at"][2] == pytest.approx({"step": 1000, "mean": 25, "std": 15, "n": 2})
    # 40/3 = 13.3: dreamer s0 first reaches it at 1000 (20), s1 at 500 (20); vid2act s0 at 500 (40), s1 never (max 10).
    assert [seed["steps_to_threshold"] for seed in dreamer["per_seed"]] == [1000, 500]
    assert [seed["steps_to_threshold"] for seed in vid2act["per_seed"]] == [500, None]
    assert vid2act["steps_to_threshold"] == pytest.approx({"mean": 500, "std": 0, "n": 1, "reached": 1, "runs": 2})
    # Paired against DreamerV2 per seed: s0 32.5 - 10 = 22.5, s1 2.5 - 20 = -17.5 -> mean 2.5, std 20, 1 win of 2.
    versus = vid2act["vs_baseline"]
    assert [(entry["seed"], entry["auc_difference"]) for entry in versus["per_seed"]] == [(0, pytest.approx(22.5)), (1, pytest.approx(-17.5))]
    assert (versus["mean"], versus["std"], versus["wins"], versus["n"]) == (pytest.approx(2.5), pytest.approx(20), 1, 2)
    assert "vs_baseline" not in dreamer
    page = report.html.read_text()
    assert "Sample efficiency" in page and "not reached" in page and "wins 1/2" in page


def test_at_steps_interpolate_and_the_auc_range_is_the_one_every_run_covers(tmp_path: Path) -> None:
    runs = _runs(tmp_path / "runs") + [_run(tmp_path / "runs" / "dreamer_2", "dreamer", 2, (0, 30), steps=(0, 500))]
    report = build_report(runs, tmp_path / "out", at=[250, 750])
    [task] = report.efficiency
    assert task["auc_range"] == [0, 500]  # dreamer s2 stops at 500
    dreamer, vid2act = _methods(task)["dreamer"], _methods(task)["vid2act"]
    # Over [0, 500]: dreamer s0 (0+10)/2 = 5, s1 10, s2 15; vid2act s0 25, s1 0.
    assert [seed["auc"] for seed in dreamer["per_seed"]] == pytest.approx([5, 10, 15])
    assert [seed["auc"] for seed in vid2act["per_seed"]] == pytest.approx([25, 0])
    # At 250: dreamer 5, 10, 15 -> 10 ± sqrt(50/3); at 750 s2 has stopped, so 2 seeds: 15, 30 -> 22.5 ± 7.5.
    assert dreamer["at"][0] == pytest.approx({"step": 250, "mean": 10, "std": np.sqrt(50 / 3), "n": 3})
    assert dreamer["at"][1] == pytest.approx({"step": 750, "mean": 22.5, "std": 7.5, "n": 2})
    assert dreamer["per_seed"][2]["at"] == [pytest.approx(15), None]
    # Pairs only on shared seeds 0 and 1: 25 - 5 = 20, 0 - 10 = -10.
    assert [entry["auc_difference"] for entry in vid2act["vs_baseline"]["per_seed"]] == pytest.approx([20, -10])
    assert normalised_auc(np.array([0.0, 500, 1000]), np.array([0.0, 10, 20]), 250, 750) == pytest.approx(10)
    assert normalised_auc(np.array([0.0, 500]), np.array([0.0, 10]), 0, 1000) is None


def test_threshold_option_counts_runs_that_never_reach_it_and_bad_values_are_one_line_errors(tmp_path: Path) -> None:
    runs = [str(path) for path in _runs(tmp_path / "runs")]
    result = _invoke([*runs, "--out", str(tmp_path / "out"), "--threshold", "30", "--at", "1000,500"])
    assert result.exit_code == 0, result.output
    [task] = json.loads((tmp_path / "out" / "sample_efficiency.json").read_text())["tasks"]
    assert task["threshold"] == 30 and task["threshold_source"].startswith("given") and task["at_steps"] == [500, 1000]
    methods = _methods(task)
    assert [seed["steps_to_threshold"] for seed in methods["dreamer"]["per_seed"]] == [None, 1000]
    assert [seed["steps_to_threshold"] for seed in methods["vid2act"]["per_seed"]] == [500, None]
    assert "vid2act: AUC 17.5 ± 15.0, reached 30.0 in 1/2 seed(s), AUC vs dreamer +2.5 ± 20.0, wins 1/2" in result.stdout
    for option, value in (("--threshold", "lots"), ("--threshold", "nan"), ("--at", "500,x"), ("--at", "-5")):
        result = _invoke([*runs, "--out", str(tmp_path / "bad"), option, value])
        assert result.exit_code == 2, result.output
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"error: {option}:") and "Traceback" not in result.output
    assert not (tmp_path / "bad").exists()


def test_no_dreamer_runs_gives_no_paired_comparison_and_says_so(tmp_path: Path) -> None:
    runs = [path for path in _runs(tmp_path / "runs") if path.name.startswith("vid2act")]
    [task] = build_report(runs, tmp_path / "out").efficiency
    assert task["baseline"] is None and "vs_baseline" not in task["methods"][0]
    assert any("no paired comparison" in note for note in task["notes"])


def test_diagnostics_png_is_drawn_when_runs_log_diag_metrics_and_absent_when_not(tmp_path: Path) -> None:
    with_diag = build_report(_runs(tmp_path / "with", diagnostics=True), tmp_path / "out_with")
    path = tmp_path / "out_with" / "diagnostics.png"
    assert with_diag.figures["diagnostics"] == path and path.exists()
    image = np.asarray(iio.imread(path))
    # One panel per statistic plus the two losses (3 columns): 7 panels in 3 rows, so the image is taller than wide / 2.
    assert image.shape[0] > image.shape[1] / 2 and image[..., :3].std() > 1
    assert "feature" in with_diag.html.read_text() and 'href="diagnostics.png"' in with_diag.html.read_text()
    without = build_report(_runs(tmp_path / "without"), tmp_path / "out_without")
    assert "diagnostics" not in without.figures and not (tmp_path / "out_without" / "diagnostics.png").exists()
    assert "model_loss" in without.figures  # the losses alone still draw their own figure
