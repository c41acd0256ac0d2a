"""The probe's summary: the top teacher is named only when its W clearly beats the runner-up."""

from __future__ import annotations

from typing import Any

import pytest

from vid2act_cli.compose.probe_report import TIE_MARGIN, markdown_table, summarise

TEACHERS = ["walker_walk", "cheetah_run", "hopper_stand"]


def _cell(config: str, seed: int, weights: dict[str, float], image_mse_45: float) -> dict[str, Any]:
    return {"config": config, "order": "given", "seed": seed, "teacher_order": list(weights) or TEACHERS,
            "metrics": {"image_mse_45": image_mse_45}, "final_weights": weights, "uniform": False}


def _rows(weights: dict[str, float]) -> list[dict[str, Any]]:
    cells = [_cell("none", seed, {}, 0.0060 + seed * 1e-4) for seed in range(2)]
    cells += [_cell("all", seed, weights, 0.0070 + seed * 1e-4) for seed in range(2)]
    return summarise(cells, TEACHERS, "walker_walk", [45])


def test_a_clear_top_teacher_is_named_and_marked_related() -> None:
    row = _rows({"walker_walk": 0.51, "cheetah_run": 0.22, "hopper_stand": 0.27})[1]
    assert (row["top_teacher"], row["tie"]) == ("walker_walk", False)
    assert row["delta_vs_none"] == pytest.approx((0.0010, 0.0))
    assert markdown_table([row], TEACHERS, "walker_walk", [45]).rstrip().endswith("| walker_walk (related) |")


def test_weights_within_the_margin_name_no_top_teacher() -> None:
    # W stayed at 1/3 (the similarity scorer on the DMC pair): the largest of three near-equal means is not a choice.
    weights = {"walker_walk": 1 / 3 + TIE_MARGIN / 3, "cheetah_run": 1 / 3, "hopper_stand": 1 / 3 - TIE_MARGIN / 3}
    row = _rows(weights)[1]
    assert (row["top_teacher"], row["tie"]) == (None, True)
    last_column = markdown_table([row], TEACHERS, "walker_walk", [45]).rstrip().rsplit("|", 2)[-2].strip()
    assert last_column == f"none (within {TIE_MARGIN})"
