"""The probe grid: its cells, resuming after an interruption, refusing changed settings, the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from probe_fakes import register_teachers, tiny_request, write_target

from vid2act_cli.app import app
from vid2act_cli.compose.probe import ProbeOutcome, cell_path, plan_cells, run_probe
from vid2act_cli.compose.reporter import PlainReporter

GRID = dict(configs=["none", "all"], scorers=["prediction_error"])
"""none x 2 seeds, all-prediction_error x 2 orders x 2 seeds: 6 cells (reads the teachers' priors and posteriors)."""


@pytest.fixture()
def target(tmp_path: Path) -> Path:
    register_teachers()
    path = tmp_path / "target.h5"
    write_target(path)
    return path


def results(out: Path) -> dict[str, dict]:
    """<budget>/<cell> -> its result without the timings."""
    found = {}
    for path in sorted((out / "cells").glob("*/*.json")):
        result = json.loads(path.read_text())
        result.pop("seconds"), result.pop("cpu_seconds")
        found[f"{path.parent.name}/{path.stem}"] = result
    return found


def without_costs(table: Path) -> list[str]:
    """The table's lines without the timings (the cost line and the last two columns)."""
    return [line.rsplit("|", 3)[0] if line.startswith("|") else line for line in table.read_text().splitlines() if not line.startswith("Cost:")]


def test_cells_cover_configurations_orders_and_seeds(tmp_path: Path) -> None:
    request = tiny_request(tmp_path, tmp_path / "unused.h5", configs=["none", "all", "related", "unrelated", "uniform"])
    cells = {cell.key: cell.columns for cell in plan_cells(request)}
    assert {cell.budget.key for cell in plan_cells(request)} == {"u3-e2"}
    assert cells["none__seed1__given"] == ()
    assert cells["all-paper__seed0__given"] == (0, 1, 2) and cells["all-prediction_error__seed0__rotated"] == (1, 2, 0)
    assert cells["related__seed0__given"] == (0,) and "related__seed0__rotated" not in cells
    assert cells["unrelated-prediction_error__seed0__given"] == (1, 2) and cells["unrelated-prediction_error__seed0__rotated"] == (2, 1)
    assert cells["uniform__seed1__rotated"] == (1, 2, 0)
    assert "all-paper__seed1__rotated" in cells and "unrelated-paper__seed0__given" not in cells
    assert len(cells) == 2 * (1 + 2 * 2 + 1 + 2 + 2)


def test_probe_resumes_after_interruption_and_matches_an_uninterrupted_run(tmp_path: Path, target: Path) -> None:
    whole = run_probe(tiny_request(tmp_path / "whole", target, **GRID))
    assert len(whole.ran) == 6 and not whole.remaining

    first = run_probe(tiny_request(tmp_path / "parts", target, max_cells=3, **GRID))
    assert len(first.ran) == 3 and len(first.remaining) == 3
    done = {key: cell_path(tmp_path / "parts", cell).read_bytes()
            for cell in plan_cells(tiny_request(tmp_path / "parts", target, **GRID)) for key in [cell.id] if key in first.ran}
    second = run_probe(tiny_request(tmp_path / "parts", target, **GRID))
    assert sorted(second.skipped) == sorted(first.ran)
    assert sorted(second.ran) == sorted(first.remaining) and not second.remaining
    for cell in plan_cells(tiny_request(tmp_path / "parts", target, **GRID)):
        if cell.id in done:
            assert cell_path(tmp_path / "parts", cell).read_bytes() == done[cell.id]  # not run again
    assert results(tmp_path / "parts") == results(tmp_path / "whole")
    assert without_costs(tmp_path / "parts" / "table.md") == without_costs(tmp_path / "whole" / "table.md")
    third = run_probe(tiny_request(tmp_path / "parts", target, **GRID))
    assert third.ran == [] and len(third.skipped) == 6


class InterruptingReporter(PlainReporter):
    """Raises KeyboardInterrupt at the `stop_at`-th update (as Ctrl-C would)."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at, self.count = stop_at, 0

    def progress(self, description: str, total: int | None):  # type: ignore[override]
        reporter = self

        class Bar:
            def update(self, completed: int, info: str = "") -> None:
                pass

            def advance(self, amount: int = 1) -> None:
                reporter.count += amount
                if reporter.count == reporter.stop_at:
                    raise KeyboardInterrupt

        from contextlib import nullcontext

        return nullcontext(Bar())


def test_an_interrupted_cell_leaves_no_file_and_runs_again(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "probe"
    with pytest.raises(KeyboardInterrupt):
        run_probe(tiny_request(out, target, **GRID), InterruptingReporter(stop_at=5))  # in the second cell (3 updates each)
    assert [path.name for path in (out / "cells" / "u3-e2").iterdir()] == ["none__seed0__given.json"]
    outcome: ProbeOutcome = run_probe(tiny_request(out, target, **GRID))
    assert outcome.skipped == ["u3-e2/none__seed0__given"] and len(outcome.ran) == 5


def test_a_probe_folder_refuses_other_settings_but_accepts_more_seeds(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "probe"
    run_probe(tiny_request(out, target, configs=["none"]))
    with pytest.raises(ValueError, match="other 'schedule'"):
        run_probe(tiny_request(out, target, configs=["none"], batch_length=7))
    more = run_probe(tiny_request(out, target, configs=["none"], seeds=3))
    assert more.ran == ["u3-e2/none__seed2__given"]


def test_summary_files_and_weights_per_teacher(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "probe"
    outcome = run_probe(tiny_request(out, target, configs=["none", "uniform"]))
    assert [path.name for path in outcome.plots] == ["errors.png", "weights.png", "diagnostics.png"]  # the students log diag/ statistics
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in outcome.plots)
    (budget,) = json.loads((out / "results.json").read_text())["budgets"]
    rows = {(row["config"], row["order"]): row for row in budget["rows"]}
    assert rows[("uniform", "rotated")]["weights"]["gamma"][0] == pytest.approx(1 / 3)
    assert rows[("none", "given")]["weights"] == {} and rows[("none", "given")]["delta_vs_none"] is None
    assert "| uniform | rotated | 2 |" in outcome.table_text and "W alpha*" in outcome.table_text


def invoke(*args: str):
    return CliRunner().invoke(app, ["probe", *args], env={"COLUMNS": "250"})


def test_probe_command_runs_and_rejects_bad_input_in_one_line(tmp_path: Path, target: Path) -> None:
    common = ["--target-data", str(target), "--teachers", "alpha,beta", "--preset", "tiny", "--updates", "2", "--forms", "student_head",
              "--controls", "none",
              "--batch-size", "2", "--batch-length", "8", "--train-episodes", "2", "--eval-episodes", "2", "--context", "2",
              "--horizons", "3,6", "--windows-per-episode", "1", "--seeds", "1", "--no-progress"]
    result = invoke(*common, "--related", "alpha", "--configs", "none,related", "--out", str(tmp_path / "ok"))
    assert result.exit_code == 0, result.output
    assert "2 cells run now" in result.output and "| related | given | 1 |" in result.output
    bad = invoke(*common, "--related", "delta", "--out", str(tmp_path / "bad"))
    assert bad.exit_code == 2 and "--related 'delta': not one of the teachers (alpha, beta)" in bad.output
    assert invoke("--pair", "nope").output.strip().endswith("dmc-walker, dmc-hopper, metaworld-button, metaworld-door")
    missing = invoke("--pair", "dmc-walker")
    assert missing.exit_code == 2 and "vid2act experts collect walker_run --episodes 10 --out" in missing.output
    scorer = invoke(*common, "--related", "alpha", "--configs", "all", "--scorers", "best", "--out", str(tmp_path / "s"))
    assert scorer.exit_code == 2 and "transfer.scorer: 'best'" in scorer.output
