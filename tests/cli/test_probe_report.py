"""The probe's summary on hand-made cells: the top teacher only when its W clearly beats the runner-up, the
controls and where each distilled configuration stands between `none` and the best control, per budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vid2act_cli.compose.probe.report import TIE_MARGIN, markdown_table, summarise, write_summary

TEACHERS = ["walker_walk", "cheetah_run", "hopper_stand"]


def _cell(config: str, seed: int, image_mse_45: float, weights: dict[str, float] | None = None, budget: tuple[int, int] = (160, 5),
          predictor: str | None = None, control: bool = False, diagnostics: dict[str, float] | None = None) -> dict[str, Any]:
    weights = weights or {}
    return {"config": config, "order": "given", "seed": seed, "teacher_order": list(weights),
            "budget": {"key": f"u{budget[0]}-e{budget[1]}", "updates": budget[0], "train_episodes": budget[1]},
            "metrics": {"image_mse_45": image_mse_45}, "final_weights": weights, "uniform": False,
            "control": control or predictor is not None, "predictor": predictor, "final_diagnostics": diagnostics or {},
            "diagnostics": {"updates": [10, 20], "values": [diagnostics, diagnostics]} if diagnostics else {"updates": [], "values": []},
            "weight_curve": {"updates": [], "weights": []},
            "seconds": {"train": 0.0 if predictor else 2.0, "evaluate": 1.0},
            "cpu_seconds": {"train": 0.0 if predictor else 1.5, "evaluate": 0.5}}


def _budgets(weights: dict[str, float]) -> list[dict[str, Any]]:
    cells = [_cell("none", seed, 0.0060 + seed * 1e-4) for seed in range(2)]
    cells += [_cell("all", seed, 0.0070 + seed * 1e-4, weights) for seed in range(2)]
    return summarise(cells, TEACHERS, "walker_walk", [45])


def _column(table: str, row: str, column: str) -> str:
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| config |")).split(" | ")
    return next(line for line in lines if line.startswith(f"| {row} |")).split(" | ")[header.index(column)]


def test_a_clear_top_teacher_is_named_and_marked_related() -> None:
    budgets = _budgets({"walker_walk": 0.51, "cheetah_run": 0.22, "hopper_stand": 0.27})
    row = budgets[0]["rows"][1]
    assert (row["top_teacher"], row["tie"]) == ("walker_walk", False)
    assert row["delta_vs_none"] == pytest.approx((0.0010, 0.0))
    assert _column(markdown_table(budgets, TEACHERS, "walker_walk", [45]), "all", "top W") == "walker_walk (related)"


def test_weights_within_the_margin_name_no_top_teacher() -> None:
    # W stayed at 1/3 (the similarity scorer on the DMC pair): the largest of three near-equal means is not a choice.
    weights = {"walker_walk": 1 / 3 + TIE_MARGIN / 3, "cheetah_run": 1 / 3, "hopper_stand": 1 / 3 - TIE_MARGIN / 3}
    budgets = _budgets(weights)
    row = budgets[0]["rows"][1]
    assert (row["top_teacher"], row["tie"]) == (None, True)
    assert _column(markdown_table(budgets, TEACHERS, "walker_walk", [45]), "all", "top W") == f"none (within {TIE_MARGIN})"


W = {"walker_walk": 0.6, "cheetah_run": 0.2, "hopper_stand": 0.2}


def _sweep() -> list[dict[str, Any]]:
    """Two budgets. In u160-e5: none 0.011 (mean of 0.010, 0.012), best control init 0.007 (last-frame's 0.005 is
    lower, but a trivial predictor is the bar only where no source control ran), so the gap is 0.004;
    all-a 0.010 (gain 0.001, a quarter of the way), all-b 0.012 (gain -0.001). In u640-e1 no control beats none."""
    cells = [_cell("none", 0, 0.010), _cell("none", 1, 0.012),
             _cell("mean-image", 0, 0.020, predictor="mean-image"), _cell("last-frame", 0, 0.005, predictor="last-frame"),
             _cell("teacher", 0, 0.009, predictor="teacher"),
             _cell("init", 0, 0.006, control=True), _cell("init", 1, 0.008, control=True),
             _cell("all-a", 0, 0.010, W, diagnostics={"diag/student_deter_std": 0.5}),
             _cell("all-a", 1, 0.010, W, diagnostics={"diag/student_deter_std": 0.7}),
             _cell("all-b", 0, 0.012, W), _cell("all-b", 1, 0.012, W)]
    cells += [_cell("none", 0, 0.004, budget=(640, 1)), _cell("mean-image", 0, 0.020, predictor="mean-image", budget=(640, 1)),
              _cell("all-a", 0, 0.003, W, budget=(640, 1))]
    return cells


def test_each_distilled_configuration_is_placed_between_none_and_the_best_control_of_its_budget() -> None:
    first, second = summarise(_sweep(), TEACHERS, "walker_walk", [45])
    rows = {row["config"]: row for row in first["rows"]}
    assert first["budget"] == "u160-e5" and first["best_control"] == "init" and first["best_control_gain"] == pytest.approx(0.004)
    assert rows["all-a"]["gain_vs_none"] == pytest.approx(0.001) and rows["all-a"]["to_best_control"] == pytest.approx(0.25)
    assert rows["all-b"]["to_best_control"] == pytest.approx(-0.25)
    assert rows["none"]["to_best_control"] is None and rows["init"]["to_best_control"] is None
    assert rows["init"]["delta_vs_none"] is None  # a control is not a distilled configuration
    assert rows["all-a"]["diagnostics"]["diag/student_deter_std"] == pytest.approx((0.6, 0.1414213), rel=1e-5)
    assert first["cost_per_trained_cell"] == pytest.approx({"wall": 3.0, "cpu": 2.0})
    assert first["cost_per_predictor_cell"] == pytest.approx({"wall": 1.0, "cpu": 0.5})
    assert first["cost_total"] == pytest.approx({"wall": 3 * 1.0 + 8 * 3.0, "cpu": 3 * 0.5 + 8 * 2.0})
    assert second["best_control"] == "mean-image" and second["best_control_gain"] == pytest.approx(-0.016)
    assert second["rows"][-1]["gain_vs_none"] == pytest.approx(0.001) and second["rows"][-1]["to_best_control"] is None

    table = markdown_table([first, second], TEACHERS, "walker_walk", [45])
    assert "### 160 updates x 5 train episodes (`u160-e5`)" in table and "### 640 updates x 1 train episodes (`u640-e1`)" in table
    assert "Best control: `init`, its img MSE@45 0.00400 lower than none's." in table
    assert "Best control: `mean-image`, its img MSE@45 0.01600 higher than none's." in table
    assert "Cost: 11 cells; 27 s wall, 18 s CPU in all; per trained cell 3.0 s wall, 2.0 s CPU; per predictor cell 1.0 s wall, 0.5 s CPU." in table
    assert _column(table, "all-a", "to best control") == "0.25" and _column(table, "all-a", "gain img@45 vs none") == "+0.00100"
    assert _column(table, "all-b", "to best control") == "-0.25" and _column(table, "init", "to best control") == ""
    assert _column(table, "all-a", "diag/student_deter_std") == "0.6000 ± 0.1414"
    for control in ("mean-image", "last-frame", "teacher", "init"):
        assert f"| {control} | given |" in table


def test_results_json_groups_by_budget_and_the_diagnostics_are_plotted(tmp_path: Path) -> None:
    table, plots, _ = write_summary(tmp_path, _sweep(), TEACHERS, "walker_walk", [45])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [budget["budget"] for budget in saved["budgets"]] == ["u160-e5", "u640-e1"]
    assert [row["config"] for row in saved["budgets"][1]["rows"]] == ["none", "mean-image", "all-a"]
    assert [path.name for path in plots] == ["errors.png", "diagnostics.png"]  # no weight curves in these cells
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in plots)
    no_diagnostics = [{**cell, "final_diagnostics": {}, "diagnostics": {"updates": [], "values": []}} for cell in _sweep()]
    _, plots, text = write_summary(tmp_path / "plain", no_diagnostics, TEACHERS, "walker_walk", [45])
    assert [path.name for path in plots] == ["errors.png"] and "diag/" not in text
