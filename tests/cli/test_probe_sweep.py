"""The probe's budget sweep and controls: the cells planned, resuming a sweep, adding budgets, the init
control's starting weights, alpha 0, and the command line's new options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from probe_fakes import register_teachers, tiny_request, write_target
from vid2act_core.probe import WorldModelPredictor, open_loop_errors
from vid2act_teachers.registry import TeacherRegistry

from vid2act_cli.app import app
from vid2act_cli.compose.probe import SPEC_FILE, build_cell_student, cell_path, plan_cells, run_probe
from vid2act_cli.compose.probe.run import _load, _prepare
from vid2act_cli.compose.reporter import PlainReporter


@pytest.fixture()
def target(tmp_path: Path) -> Path:
    register_teachers(("alpha", "beta", "gamma", "oracle"))
    path = tmp_path / "target.h5"
    write_target(path, episodes=4)
    return path


def keys(request) -> list[str]:
    return [cell.id for cell in plan_cells(request)]


def test_every_budget_plans_every_configuration_and_predictor_controls_run_one_seed(tmp_path: Path) -> None:
    request = tiny_request(tmp_path, tmp_path / "unused.h5", configs=["none", "related"], updates=[3, 5], train_episodes=[1, 2],
                           controls=None, oracle="oracle")
    planned = keys(request)
    budgets = ["u3-e1", "u3-e2", "u5-e1", "u5-e2"]
    per_budget = ["none__seed0__given", "none__seed1__given", "mean-image__seed0__given", "last-frame__seed0__given",
                  "teacher__seed0__given", "init__seed0__given", "init__seed1__given",
                  "oracle-teacher__seed0__given", "oracle-init__seed0__given", "oracle-init__seed1__given",
                  "related__seed0__given", "related__seed1__given"]
    assert planned == [f"{budget}/{cell}" for budget in budgets for cell in per_budget]
    assert "oracle-init__seed0__given" not in [c.key for c in plan_cells(tiny_request(tmp_path, tmp_path / "x.h5", controls=None))]
    assert [c.key for c in plan_cells(tiny_request(tmp_path, tmp_path / "x.h5", configs=["none"], seeds=1))] == ["none__seed0__given"]


def test_forms_scorers_and_alphas_name_their_configurations(tmp_path: Path) -> None:
    request = tiny_request(tmp_path, tmp_path / "unused.h5", configs=["all", "related", "uniform"], scorers=["prediction_error", "paper"],
                           forms=["student_head", "paper"], alphas=[1.0, 0.0], orders=["given"], seeds=1)
    cells = {cell.variant.name: cell.variant for cell in plan_cells(request)}
    assert list(cells) == ["all-prediction_error-student_head", "all-paper-student_head", "all-prediction_error-paper", "all-paper-paper",
                           "related", "uniform", "all-prediction_error-student_head-alpha0", "all-paper-student_head-alpha0",
                           "all-prediction_error-paper-alpha0", "all-paper-paper-alpha0", "related-alpha0", "uniform-alpha0"]
    assert cells["all-paper-paper"].form == "paper" and cells["related"].form == "student_head"  # the first form for the others
    assert cells["related"].scorer == "prediction_error" and cells["related"].alpha is None and cells["uniform-alpha0"].alpha == 0.0
    one_form = tiny_request(tmp_path, tmp_path / "unused.h5", configs=["all"], scorers=["paper"], forms=["published"], orders=["given"], seeds=1)
    assert [cell.variant.name for cell in plan_cells(one_form)] == ["all-paper"]


@pytest.mark.parametrize("changes, message", [
    ({"forms": ["student_head", "bogus"]}, "--forms bogus: transfer.distill_form: 'bogus' is not one of student_head, paper, published"),
    ({"scorers": ["best"]}, "--scorers best: transfer.scorer: 'best'"),
    ({"controls": ["oracle"]}, "--controls oracle: needs --oracle NAME"),
    ({"controls": ["mean-image", "median"]}, "--controls median: not one of mean-image, last-frame, teacher, init, oracle (or none)"),
    ({"alphas": [1.0, -1.0]}, "--alphas 1,-1: every value must be a number >= 0"),
    ({"updates": [3, 3]}, "--updates 3,3: a value is named twice"),
    ({"train_episodes": [0, 2]}, "--train-episodes 0,2: every value must be >= 1"),
])
def test_bad_choices_are_refused_in_one_line_naming_the_option(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        plan_cells(tiny_request(tmp_path, tmp_path / "unused.h5", **changes))


SWEEP = dict(configs=["none"], controls=["mean-image", "last-frame", "init"], updates=[2, 3], train_episodes=[1, 2], seeds=1)
"""4 budgets x (none, mean-image, last-frame, init) x 1 seed: 16 cells."""


def cell_bytes(out: Path) -> dict[str, bytes]:
    return {f"{path.parent.name}/{path.stem}": path.read_bytes() for path in sorted((out / "cells").glob("*/*.json"))}


def test_an_interrupted_sweep_runs_only_its_missing_cells_and_a_new_budget_keeps_the_old_ones(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "sweep"
    first = run_probe(tiny_request(out, target, max_cells=6, **SWEEP))
    assert len(first.ran) == 6 and len(first.remaining) == 10
    kept = cell_bytes(out)
    second = run_probe(tiny_request(out, target, **SWEEP))
    assert sorted(second.skipped) == sorted(first.ran) and sorted(second.ran) == sorted(first.remaining)
    assert all(cell_bytes(out)[key] == value for key, value in kept.items())
    assert len(cell_bytes(out)) == 16

    kept = cell_bytes(out)
    wider = dict(SWEEP, updates=[2, 3, 4])
    third = run_probe(tiny_request(out, target, **wider))
    assert sorted(third.ran) == [f"u4-e{e}/{c}__seed0__given" for e in (1, 2) for c in ("init", "last-frame", "mean-image", "none")]
    assert {key: value for key, value in cell_bytes(out).items() if key in kept} == kept
    assert json.loads((out / SPEC_FILE).read_text())["budgets"] == ["u2-e1", "u2-e2", "u3-e1", "u3-e2", "u4-e1", "u4-e2"]
    # A run naming fewer budgets is accepted, keeps the spec's union and summarises only its own budgets.
    fewer = run_probe(tiny_request(out, target, **dict(SWEEP, updates=[3], train_episodes=[2])))
    assert fewer.ran == [] and len(fewer.skipped) == 4
    assert json.loads((out / SPEC_FILE).read_text())["budgets"] == ["u2-e1", "u2-e2", "u3-e1", "u3-e2", "u4-e1", "u4-e2"]
    assert [budget["budget"] for budget in json.loads((out / "results.json").read_text())["budgets"]] == ["u3-e2"]

    results = {path.stem: json.loads(path.read_text()) for path in (out / "cells" / "u2-e1").glob("*.json")}
    assert results["none__seed0__given"]["budget"] == {"key": "u2-e1", "updates": 2, "train_episodes": 1}
    assert results["init__seed0__given"]["source_teacher"] == "alpha" and results["init__seed0__given"]["initialised_tensors"] > 0
    assert results["mean-image__seed0__given"]["predictor"] == "mean-image" and results["mean-image__seed0__given"]["control"]
    # The held-out windows are the same for every budget: a control that trains nothing and ignores the
    # training episodes (last-frame) measures the same everywhere.
    metrics = {f"{path.parent.name}/{path.stem}": json.loads(path.read_text())["metrics"] for path in (out / "cells").glob("*/*.json")}
    # Each budget trains on its own first episodes: more episodes change the mean image and the student.
    assert metrics["u2-e1/mean-image__seed0__given"] != metrics["u2-e2/mean-image__seed0__given"]
    assert metrics["u2-e1/mean-image__seed0__given"] == metrics["u3-e1/mean-image__seed0__given"]
    assert metrics["u2-e1/none__seed0__given"] != metrics["u2-e2/none__seed0__given"]
    last = [json.loads(path.read_text())["metrics"] for path in sorted((out / "cells").glob("*/last-frame__seed0__given.json"))]
    assert len(last) == 6 and all(metrics == last[0] for metrics in last)
    table = (out / "table.md").read_text()
    assert "### 3 updates x 2 train episodes (`u3-e2`)" in table and "Cost: 4 cells;" in table and "per predictor cell" in table


def test_a_probe_folder_refuses_a_changed_schedule_an_old_format_and_another_oracle(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "probe"
    run_probe(tiny_request(out, target, configs=["none"], controls=["oracle"], oracle="oracle", seeds=1))
    with pytest.raises(ValueError, match="other 'schedule'"):
        run_probe(tiny_request(out, target, configs=["none"], seeds=1, log_every=1))
    with pytest.raises(ValueError, match="another --oracle"):
        run_probe(tiny_request(out, target, configs=["none"], seeds=1, oracle="gamma"))
    spec = json.loads((out / SPEC_FILE).read_text())
    spec.pop("format")
    (out / SPEC_FILE).write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="earlier format"):
        run_probe(tiny_request(out, target, configs=["none"], seeds=1))


def test_the_teacher_control_reports_the_teachers_image_error_and_no_reward(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "probe"
    run_probe(tiny_request(out, target, configs=["none"], controls=["teacher"], seeds=1))
    result = json.loads((out / "cells" / "u3-e2" / "teacher__seed0__given.json").read_text())
    teacher, _, _ = TeacherRegistry().load("alpha", device="cpu", frozen=True)
    request = tiny_request(out, target)
    split, teachers, oracle, _ = _load(request)
    inputs = _prepare(request, split, teachers, oracle, torch.device("cpu"), PlainReporter())
    expected = open_loop_errors(WorldModelPredictor(teacher, rewards=False), inputs.windows, request.context, request.horizons)
    assert result["metrics"] == pytest.approx(expected) and set(result["metrics"]) == {"image_mse_3", "image_mse_6"}
    row = next(line for line in (out / "table.md").read_text().splitlines() if line.startswith("| teacher |")).split(" | ")
    assert row[3].startswith("0.") and row[5:7] == ["", ""]  # image errors, blank reward errors


def test_the_init_control_starts_from_the_related_teachers_weights(tmp_path: Path, target: Path) -> None:
    request = tiny_request(tmp_path / "probe", target, configs=["none"], controls=["init", "oracle"], oracle="oracle", seeds=1)
    cells = {cell.variant.name: cell for cell in plan_cells(request)}
    split, teachers, oracle, _ = _load(request)
    inputs = _prepare(request, split, teachers, oracle, torch.device("cpu"), PlainReporter())
    for name, source in (("init", "alpha"), ("oracle-init", "oracle")):
        student, copied = build_cell_student(cells[name], request, inputs, torch.device("cpu"))
        teacher = TeacherRegistry().load(source, device="cpu", frozen=True)[0].state_dict()
        state = student.world_model.state_dict()
        assert "encoder" in " ".join(copied) and "decoder" in " ".join(copied) and "rssm" in " ".join(copied)
        for key in copied:
            assert torch.equal(state[key], teacher[key]), key
        assert not any(key.startswith("reward_head") for key in copied)  # the teachers have none: it stays fresh
    plain, copied = build_cell_student(cells["none"], request, inputs, torch.device("cpu"))
    assert plain.world_model.state_dict().keys() == student.world_model.state_dict().keys()
    assert copied == [] and not torch.equal(plain.world_model.state_dict()["rssm.img_in_action.weight"][:, :3],
                                            TeacherRegistry().load("alpha", device="cpu", frozen=True)[0].state_dict()["rssm.img_in_action.weight"])


def test_an_alpha_zero_cell_trains_a_student_with_alpha_zero(tmp_path: Path, target: Path) -> None:
    request = tiny_request(tmp_path / "probe", target, configs=["related"], alphas=[1.0, 0.0], seeds=1)
    cells = {cell.variant.name: cell for cell in plan_cells(request)}
    split, teachers, oracle, _ = _load(request)
    inputs = _prepare(request, split, teachers, oracle, torch.device("cpu"), PlainReporter())
    zero, _ = build_cell_student(cells["related-alpha0"], request, inputs, torch.device("cpu"))
    one, _ = build_cell_student(cells["related"], request, inputs, torch.device("cpu"))
    assert zero.config.transfer.alpha == 0.0 and zero.teachers_enabled and one.config.transfer.alpha == 1.0
    assert request.config.transfer.alpha == 1.0  # the request's config is left as it was


# An alpha-0 cell starts from the weights of `none`, sees its batches and must predict exactly as it does.
def test_alpha_zero_distillation_predicts_exactly_as_none(tmp_path: Path, target: Path) -> None:
    out = tmp_path / "probe"
    run_probe(tiny_request(out, target, configs=["none", "related"], alphas=[1.0, 0.0], seeds=1))
    cells = {path.stem: json.loads(path.read_text()) for path in (out / "cells" / "u3-e2").glob("*.json")}
    assert cells["related-alpha0__seed0__given"]["alpha"] == 0.0 and cells["related__seed0__given"]["alpha"] == 1.0
    assert cells["related__seed0__given"]["metrics"] != cells["none__seed0__given"]["metrics"]
    assert cells["related-alpha0__seed0__given"]["metrics"] == cells["none__seed0__given"]["metrics"]


def invoke(*args: str):
    return CliRunner().invoke(app, ["probe", *args], env={"COLUMNS": "250"})


def test_the_command_sweeps_budgets_and_refuses_bad_lists_in_one_line(tmp_path: Path, target: Path) -> None:
    common = ["--target-data", str(target), "--teachers", "alpha,beta", "--related", "alpha", "--preset", "tiny", "--forms", "student_head",
              "--batch-size", "2", "--batch-length", "8", "--eval-episodes", "2", "--context", "2", "--horizons", "3,6",
              "--windows-per-episode", "1", "--seeds", "1", "--configs", "none", "--no-progress"]
    result = invoke(*common, "--updates", "1,2", "--train-episodes", "1,2", "--controls", "mean-image", "--out", str(tmp_path / "ok"))
    assert result.exit_code == 0, result.output
    assert "8 cells run now" in result.output and "### 2 updates x 1 train episodes (`u2-e1`)" in result.output
    assert sorted(path.name for path in (tmp_path / "ok" / "cells").iterdir()) == ["u1-e1", "u1-e2", "u2-e1", "u2-e2"]
    for option, value, message in (("--updates", "1,x", "--updates '1,x': expected comma-separated integers"),
                                   ("--alphas", "0,a", "--alphas '0,a': expected comma-separated numbers"),
                                   ("--train-episodes", "2,3", "fewer than --train-episodes 3 + --eval-episodes 2"),
                                   ("--forms", "sideways", "--forms sideways: transfer.distill_form")):
        bad = invoke(*common, option, value, "--out", str(tmp_path / "bad"))
        assert bad.exit_code == 2 and message in bad.output, bad.output
        errors = [line for line in bad.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in bad.output, bad.output
