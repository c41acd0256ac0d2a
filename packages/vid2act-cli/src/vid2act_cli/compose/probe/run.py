"""Running the probe's cells (`run_probe`), one process or side by side (`--jobs N`).

See the package docstring (`vid2act_cli.compose.probe`) for the grid, its cells and their results.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.probe import (
    LastFramePredictor, MeanImagePredictor, WorldModelPredictor, build_student, fixed_windows, open_loop_errors,
    student_config, teacher_predictor, train_student,
)
from vid2act_core.runtime.fileio import atomic_write_text
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY, initialise_from_teacher
from vid2act_envs.sampler import SequenceSampler

from vid2act_cli.compose.devices import configure_threads, resolve_device
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.transfer import apply_init_architecture
from vid2act_cli.experiments import Job

from vid2act_cli.compose.probe.data import attach_teacher_features, ensemble, load_target_split, load_teachers
from vid2act_cli.compose.probe.plan import ProbeCell, ProbeOutcome, ProbeRequest, cell_path, check_spec, plan_cells, result_spec
from vid2act_cli.compose.probe.report import write_summary


@dataclass
class _Inputs:
    split: Any
    teachers: Any
    """LoadedTeachers of the request's teachers."""
    oracle: Any
    """LoadedTeachers of the oracle (None without one)."""
    train_episodes: list[dict[str, np.ndarray]]
    """The first max(train episodes) target episodes, with every teacher's features."""
    train_keys: list[str]
    windows: dict[str, np.ndarray]


def _source_teacher(cell: ProbeCell, request: ProbeRequest, inputs: _Inputs) -> tuple[str, Any]:
    """(name, frozen WorldModel) of the teacher a control starts from or predicts with."""
    if cell.variant.source == "oracle":
        return inputs.oracle.names[0], inputs.oracle.models[0]
    index = inputs.teachers.names.index(request.related)
    return inputs.teachers.names[index], inputs.teachers.models[index]


def build_cell_student(cell: ProbeCell, request: ProbeRequest, inputs: _Inputs, device: torch.device) -> tuple[Any, list[str]]:
    """The student of a trained cell before its first update, and the tensors copied into it from a teacher
    (`init` controls; empty otherwise)."""
    config = student_config(request.config, cell.variant)
    teachers = ensemble(inputs.teachers, list(cell.columns), config.transfer.action_mapping, device) if cell.columns else None
    if cell.variant.source is None:
        return build_student(config, inputs.split.action_dim, teachers, cell.seed, device), []
    name, teacher = _source_teacher(cell, request, inputs)
    # As `vid2act transfer --init-from`: the student takes the teacher's architecture, then its matching tensors.
    apply_init_architecture(config, name)
    student = build_student(config, inputs.split.action_dim, None, cell.seed, device)
    return student, initialise_from_teacher(student.world_model, teacher)


def cell_predictor(cell: ProbeCell, request: ProbeRequest, inputs: _Inputs, device: torch.device) -> Any:
    """The OpenLoopPredictor of a predictor control."""
    predictor = cell.variant.predictor
    if predictor == "mean-image":
        return MeanImagePredictor.from_episodes(inputs.train_episodes[: cell.budget.train_episodes])
    if predictor == "last-frame":
        return LastFramePredictor()
    _, teacher = _source_teacher(cell, request, inputs)
    return teacher_predictor(copy.deepcopy(teacher).to(device).eval(), request.config.transfer.action_mapping)


def _describe(cell: ProbeCell, request: ProbeRequest, inputs: _Inputs) -> dict[str, Any]:
    """The JSON fields that name a cell's configuration."""
    variant, distils = cell.variant, bool(cell.columns)
    config = request.config.transfer
    return {
        "cell": cell.key, "budget": {"key": cell.budget.key, "updates": cell.budget.updates, "train_episodes": cell.budget.train_episodes},
        "config": variant.name, "teacher_set": variant.teachers,
        "scorer": variant.scorer if distils and not variant.uniform and len(cell.columns) > 1 else None,
        "distill_heads": variant.heads if distils else None, "uniform": variant.uniform,
        "distill_form": (variant.form or config.distill_form) if distils else None,
        "alpha": (config.alpha if variant.alpha is None else variant.alpha) if distils else None,
        "control": variant.control, "predictor": variant.predictor,
        "source_teacher": _source_teacher(cell, request, inputs)[0] if variant.source is not None else None,
        "seed": cell.seed, "order": cell.order, "teacher_order": [inputs.teachers.names[i] for i in cell.columns],
    }


def run_cell(cell: ProbeCell, request: ProbeRequest, inputs: _Inputs, device: torch.device, bar: Any) -> dict[str, Any]:
    """Train (unless a predictor control) and measure one cell; the JSON-ready result."""
    result = _describe(cell, request, inputs)
    started, cpu_started = time.time(), time.process_time()
    if cell.variant.trained:
        student, copied = build_cell_student(cell, request, inputs, device)
        sampler = SequenceSampler(inputs.train_episodes[: cell.budget.train_episodes], keys=inputs.train_keys)
        schedule = request.schedule(cell.budget)
        history = train_student(student, sampler, schedule, np.random.default_rng(cell.seed), device,
                                list(cell.columns) if cell.columns else None, result["teacher_order"],
                                on_update=lambda _: bar.advance())
        student.world_model.eval()
        predictor: Any = WorldModelPredictor(student.world_model)
        curve_updates, curve_weights = history.weight_curve(schedule.log_every)
        result.update({
            "initialised_tensors": len(copied) if cell.variant.source is not None else None,
            "final_weights": history.final_weights(),
            "weight_curve": {"updates": curve_updates, "weights": curve_weights},
            "losses": {"updates": history.log_updates, "values": history.log_losses},
            "diagnostics": {"updates": history.diagnostic_updates, "values": history.diagnostics},
            "final_diagnostics": history.final_diagnostics(),
        })
    else:
        predictor = cell_predictor(cell, request, inputs, device)
        result.update({"initialised_tensors": None, "final_weights": {}, "weight_curve": {"updates": [], "weights": []},
                       "losses": {"updates": [], "values": []}, "diagnostics": {"updates": [], "values": []}, "final_diagnostics": {}})
    trained, cpu_trained = time.time(), time.process_time()
    result["metrics"] = open_loop_errors(predictor, inputs.windows, request.context, request.horizons, device)
    result["seconds"] = {"train": round(trained - started, 2), "evaluate": round(time.time() - trained, 2)}
    # CPU time of this process: what the cell costs on an otherwise idle core (wall time includes waiting for shared cores).
    result["cpu_seconds"] = {"train": round(cpu_trained - cpu_started, 2), "evaluate": round(time.process_time() - cpu_trained, 2)}
    return result


def _load(request: ProbeRequest) -> tuple[Any, Any, Any, dict[str, Any]]:
    """The target split (the largest budget's training episodes), the teachers and the oracle, and the spec
    they give with the request's settings."""
    split = load_target_split(request.target_data, max(request.train_episodes), request.eval_episodes)
    teachers = load_teachers(request.teachers, split.image_size)
    oracle = load_teachers([request.oracle], split.image_size) if request.oracle is not None else None
    spec = result_spec(request, split.sha256, teachers.weights_sha256, oracle.weights_sha256[0] if oracle is not None else None)
    return split, teachers, oracle, spec


def _prepare(request: ProbeRequest, split: Any, teachers: Any, oracle: Any, device: torch.device, reporter: Reporter) -> _Inputs:
    """Held-out windows, and the training episodes with every teacher's features (computed once)."""
    windows = fixed_windows(split.held_out, request.context + max(request.horizons), request.windows_per_episode)
    started = time.time()
    everyone = ensemble(teachers, list(range(len(teachers.names))), request.config.transfer.action_mapping, device)
    train = attach_teacher_features(split.train, everyone, device, TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY)
    reporter.say(f"teachers' features for {len(train)} target episodes computed once in {time.time() - started:.1f} s")
    keys = [key for key in ("image", "action", "reward", "is_first", "is_terminal", TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY)
            if key in train[0]]
    return _Inputs(split, teachers, oracle, train, keys, windows)


# The probe's cells side by side (`vid2act probe --jobs N`): its unfinished cells dealt into N shards, each a
# `vid2act probe ... --cells <ids>` job run by the experiment launcher's local path (`compose/launch/local.py`),
# so they share the cores, log to `OUT/logs/`, and a re-run resumes them like any other job.


def deal_cells(cells: list[ProbeCell], shards: int) -> list[list[ProbeCell]]:
    """Cells into at most `shards` non-empty lists of about equal updates (controls cost none), each in grid order."""
    loads = [[0, index, []] for index in range(min(shards, len(cells)))]
    for cell in sorted(cells, key=lambda cell: -cell.budget.updates * cell.variant.trained):
        lightest = min(loads, key=lambda load: (load[0], len(load[2]), load[1]))
        lightest[0] += cell.budget.updates * cell.variant.trained + 1
        lightest[2].append(cell)
    order = {cell.id: position for position, cell in enumerate(cells)}
    return [sorted(load[2], key=lambda cell: order[cell.id]) for load in loads]


def plan_cell_jobs(out: Path, cells: list[ProbeCell], shards: int, command: tuple[str, ...]) -> list[Job]:
    """One job per shard; a shard is done when its last cell's result exists (a shard runs its cells in order)."""
    dealt = deal_cells(cells, shards)
    return [Job("probe", f"probe cells {index}/{len(dealt)} ({len(part)} cells)",
                ("probe", *command, "--cells", ",".join(cell.id for cell in part), "--no-progress"),
                cell_path(out, part[-1]))
            for index, part in enumerate(dealt, 1)]


def _run_side_by_side(request: ProbeRequest, cells: list[ProbeCell], reporter: Reporter) -> None:
    """The cells in `request.jobs` subprocesses (`vid2act probe ... --cells`), cores // jobs threads each."""
    # submitit, under the launcher, configures logging when imported (closing the handlers already installed), so
    # `import vid2act_cli.api` leaves it out until jobs are launched.
    from vid2act_cli.compose.launch.local import run_jobs

    if not request.command:
        raise ValueError("--jobs: the probe's cells side by side need the probe's own options (ProbeRequest.command)")
    jobs = plan_cell_jobs(Path(request.out), cells, request.jobs, request.command)
    run_jobs(jobs, Path(request.out), "probe cells", len(jobs), reporter, device=request.device)


def run_probe(request: ProbeRequest, reporter: Reporter | None = None) -> ProbeOutcome:
    """Run the unfinished cells of the grid (at most `max_cells`), then summarise every finished cell."""
    reporter = plain_if_none(reporter)
    out = Path(request.out)
    cells = plan_cells(request)
    done = [cell for cell in cells if cell_path(out, cell).exists()]
    todo = [cell for cell in cells if not cell_path(out, cell).exists()]
    if request.cells is not None:
        todo = [cell for cell in todo if cell.id in set(request.cells)]
    run_now = todo if request.max_cells is None else todo[: max(0, request.max_cells)]
    device = resolve_device(request.device, reporter)
    configure_threads(request.config)
    reporter.say(f"probe in {out}: {len(cells)} cells over {len(request.budgets())} budgets, {len(done)} done, {len(run_now)} to run now")
    split, teachers, oracle, spec = _load(request)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    check_spec(out, spec)
    if request.jobs > 1 and len(run_now) > 1:
        _run_side_by_side(request, run_now, reporter)
    elif run_now:
        inputs = _prepare(request, split, teachers, oracle, device, reporter)
        total = sum(cell.budget.updates for cell in run_now if cell.variant.trained)
        longest = f"image_mse_{max(request.horizons)}"
        with reporter.progress("probe updates", total) as bar:
            for cell in run_now:
                result = run_cell(cell, request, inputs, device, bar)
                atomic_write_text(cell_path(out, cell), json.dumps(result, indent=2) + "\n")
                reporter.say(f"cell {cell.id}: image MSE@{max(request.horizons)} {result['metrics'][longest]:.5f} "
                             f"({result['seconds']['train'] + result['seconds']['evaluate']:.0f} s)")
    if request.cells is not None:  # one shard of a probe run side by side: the launching probe summarises
        return ProbeOutcome(ran=[cell.id for cell in run_now], skipped=[cell.id for cell in done], remaining=[],
                            table=None, plots=[], table_text="")
    finished = [json.loads(cell_path(out, cell).read_text()) for cell in cells if cell_path(out, cell).exists()]
    remaining = [cell.id for cell in cells if not cell_path(out, cell).exists()]
    table, plots, text = write_summary(out, finished, request.teachers, request.related, request.horizons) if finished else (None, [], "")
    return ProbeOutcome(ran=[cell.id for cell in run_now], skipped=[cell.id for cell in done], remaining=remaining,
                        table=table, plots=plots, table_text=text)
