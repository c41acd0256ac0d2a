"""`vid2act probe --jobs N`: the unfinished cells dealt into N subprocesses, the same results as one process."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from probe_fakes import register_teachers, tiny_request, write_target

from vid2act_cli.app import app
from vid2act_cli.compose.probe import plan_cells
from vid2act_cli.compose.probe import deal_cells, plan_cell_jobs


def test_cells_are_dealt_by_updates_and_keep_their_grid_order(tmp_path: Path) -> None:
    request = tiny_request(tmp_path, tmp_path / "unused.h5", configs=["none", "all"], scorers=["prediction_error"],
                           controls=["mean-image", "last-frame"])
    cells = plan_cells(request)
    shards = deal_cells(cells, 2)
    assert sorted(cell.id for shard in shards for cell in shard) == sorted(cell.id for cell in cells)
    trained = [sum(cell.variant.trained for cell in shard) for shard in shards]
    assert abs(trained[0] - trained[1]) <= 1
    order = [cell.id for cell in cells]
    assert all([order.index(cell.id) for cell in shard] == sorted(order.index(cell.id) for cell in shard) for shard in shards)
    assert len(deal_cells(cells[:1], 4)) == 1
    jobs = plan_cell_jobs(tmp_path, cells, 2, ("--seeds", "2"))
    assert [job.argv[:3] for job in jobs] == [("probe", "--seeds", "2")] * 2
    assert jobs[0].done_file.name == f"{shards[0][-1].key}.json"


def test_cells_side_by_side_give_the_results_of_one_process(tmp_path: Path) -> None:
    register_teachers()
    target = tmp_path / "target.h5"
    write_target(target)
    common = ["probe", "--target-data", str(target), "--teachers", "alpha,beta", "--related", "alpha", "--preset", "tiny",
              "--updates", "2", "--forms", "student_head", "--scorers", "prediction_error", "--configs", "none,all",
              "--orders", "given", "--controls", "none", "--batch-size", "2", "--batch-length", "8", "--train-episodes", "2",
              "--eval-episodes", "2", "--context", "2", "--horizons", "3,6", "--windows-per-episode", "1", "--seeds", "2",
              "--no-progress"]
    results = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        outcome = CliRunner().invoke(app, [*common, "--out", str(out), "--jobs", str(jobs)])
        assert outcome.exit_code == 0, outcome.output
        cells = {}
        for path in sorted((out / "cells").glob("*/*.json")):
            cell = json.loads(path.read_text())
            cell.pop("seconds"), cell.pop("cpu_seconds")
            cells[path.stem] = cell
        results[jobs] = cells
        assert (out / "table.md").exists()
    assert len(results[1]) == 4 and results[1] == results[2]
    assert len(list((tmp_path / "jobs2" / "logs").glob("probe_cells_*.log"))) == 2
