"""`vid2act probe`: the offline dynamics-transfer probe, one resumable grid of (configuration, seed, order) cells.

Every cell trains a fresh student world model offline on the first `train_episodes` episodes of the
target dataset for a fixed number of updates (`vid2act_core.probe`), then measures it on the last
`eval_episodes` (never trained on). Its result is written atomically to `OUT/cells/<cell>.json`; a
re-run skips the cells already there, so an interrupted probe continues where it stopped. The
settings that decide a cell's result are kept in `OUT/probe.json`; a re-run with other settings
is refused (seeds, configurations and orders may be added: they only add cells). At the end:
`results.json`, `table.md`, `errors.png` and `weights.png` over every finished cell.

Configurations: `none` (no distillation); `all-<scorer>` (every teacher, learned W, one per
scorer and f_distill kind); `related` (the related teacher alone, so W = 1); `unrelated` (the
other teachers, learned W with the first scorer); `uniform` (every teacher, W = 1/N). Orders:
`given` (teachers as listed) and `rotated` (each teacher moved one place: b, c, a), only for
configurations with 2 or more teachers; a selection that follows the position or the
initialisation rather than the task shows up as a difference between the two.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.config import Config
from vid2act_core.fileio import atomic_write_text
from vid2act_core.probe import ProbeSchedule, ProbeVariant
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY
from vid2act_core.transfer.scorers import SCORERS

from vid2act_cli.compose.devices import configure_threads, resolve_device
from vid2act_cli.compose.reporter import Reporter, plain_if_none

CONFIGURATIONS = ("none", "all", "related", "unrelated", "uniform")
"""Values of --configs (`all` expands to one configuration per scorer and f_distill kind)."""
ORDERS = ("given", "rotated")
SPEC_FILE = "probe.json"


@dataclass
class ProbeRequest:
    """Everything one probe invocation was asked for."""

    target_data: Path
    teachers: list[str]
    related: str
    config: Config
    """The student's config (preset, --set); the probe sets the transfer switches per configuration."""
    out: Path
    schedule: ProbeSchedule
    train_episodes: int = 5
    eval_episodes: int = 3
    seeds: int = 3
    configs: list[str] = field(default_factory=lambda: list(CONFIGURATIONS))
    scorers: list[str] = field(default_factory=lambda: list(SCORERS))
    """Scorers of the `all` configurations; the first is also the scorer of `unrelated` and `uniform`."""
    heads: list[str] = field(default_factory=lambda: ["shared"])
    orders: list[str] = field(default_factory=lambda: list(ORDERS))
    context: int = 5
    horizons: list[int] = field(default_factory=lambda: [15, 45])
    windows_per_episode: int = 8
    device: str = "cpu"
    max_cells: int | None = None
    """Run at most this many unfinished cells, then stop (the rest on the next run)."""


@dataclass(frozen=True)
class ProbeCell:
    """One (configuration, seed, order) of the grid."""

    variant: ProbeVariant
    seed: int
    order: str
    columns: tuple[int, ...]
    """Indices into the request's teacher list, in the order this student sees them (empty: none)."""

    @property
    def key(self) -> str:
        return f"{self.variant.name}__seed{self.seed}__{self.order}"


@dataclass
class ProbeOutcome:
    """What an invocation did and where the summary is."""

    ran: list[str]
    skipped: list[str]
    remaining: list[str]
    table: Path | None
    plots: list[Path]
    table_text: str


def plan_variants(request: ProbeRequest) -> list[ProbeVariant]:
    """The configurations of the grid, in table order."""
    unknown = [name for name in request.configs if name not in CONFIGURATIONS]
    if unknown:
        raise ValueError(f"--configs {','.join(unknown)}: not one of {', '.join(CONFIGURATIONS)}")
    if not request.scorers or not request.heads:
        raise ValueError("--scorers and --heads: name at least one each")
    first_scorer, first_heads = request.scorers[0], request.heads[0]
    variants = []
    for name in CONFIGURATIONS:
        if name not in request.configs:
            continue
        if name == "none":
            variants.append(ProbeVariant("none", "none"))
        elif name == "all":
            for heads in request.heads:
                suffix = "" if len(request.heads) == 1 else f"-{heads.replace('_', '')}"
                variants += [ProbeVariant(f"all-{scorer}{suffix}", "all", scorer, heads) for scorer in request.scorers]
        elif name == "related":
            variants.append(ProbeVariant("related", "related", first_scorer, first_heads))
        elif name == "unrelated":
            variants.append(ProbeVariant(f"unrelated-{first_scorer}", "unrelated", first_scorer, first_heads))
        else:
            variants.append(ProbeVariant("uniform", "all", first_scorer, first_heads, uniform=True))
    return variants


def teacher_columns(variant: ProbeVariant, teachers: list[str], related: str, order: str) -> tuple[int, ...]:
    """The teacher indices `variant` distils from, in `order`."""
    related_index = teachers.index(related)
    chosen = {
        "none": [],
        "all": list(range(len(teachers))),
        "related": [related_index],
        "unrelated": [i for i in range(len(teachers)) if i != related_index],
    }[variant.teachers]
    return tuple(chosen[1:] + chosen[:1]) if order == "rotated" else tuple(chosen)


def plan_cells(request: ProbeRequest) -> list[ProbeCell]:
    """Every cell of the grid: configuration x order x seed (orders only where 2+ teachers)."""
    if request.related not in request.teachers:
        raise ValueError(f"--related {request.related!r}: not one of the teachers ({', '.join(request.teachers)})")
    if len(set(request.teachers)) != len(request.teachers):
        raise ValueError(f"--teachers {','.join(request.teachers)}: a teacher is named twice")
    bad_orders = [order for order in request.orders if order not in ORDERS]
    if bad_orders or not request.orders:
        raise ValueError(f"--orders {','.join(request.orders)}: expected one or both of {', '.join(ORDERS)}")
    if request.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {request.seeds}")
    cells = []
    for variant in plan_variants(request):
        given = teacher_columns(variant, request.teachers, request.related, "given")
        orders = request.orders if len(given) >= 2 else [request.orders[0]]
        for order in orders:
            columns = teacher_columns(variant, request.teachers, request.related, order)
            cells += [ProbeCell(variant, seed, order, columns) for seed in range(request.seeds)]
    return cells


def result_spec(request: ProbeRequest, data_sha256: str, teacher_hashes: list[str]) -> dict[str, Any]:
    """What decides a cell's result: data, teachers, student config, schedule and measurement."""
    return {
        "target_data_sha256": data_sha256,
        "teachers": dict(zip(request.teachers, teacher_hashes)),
        "related": request.related,
        "train_episodes": request.train_episodes,
        "eval_episodes": request.eval_episodes,
        "schedule": asdict(request.schedule),
        "context": request.context,
        "horizons": list(request.horizons),
        "windows_per_episode": request.windows_per_episode,
        "config": request.config.to_dict(),
    }


def check_spec(out: Path, spec: dict[str, Any]) -> None:
    """Write `probe.json`, or refuse (one line) when `out` holds a probe with other settings."""
    path = out / SPEC_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        for key in spec:
            if saved.get(key) != spec[key]:
                raise ValueError(f"{out}: holds a probe with other {key!r} (see {path}); use another --out or the same settings")
        return
    atomic_write_text(path, json.dumps(spec, indent=2, sort_keys=True) + "\n")


def run_cell(cell: ProbeCell, request: ProbeRequest, inputs: Any, device: torch.device, bar: Any) -> dict[str, Any]:
    """Train and measure one cell's student; the JSON-ready result."""
    from vid2act_core.probe import WorldModelPredictor, build_student, open_loop_errors, student_config, train_student
    from vid2act_envs.sampler import SequenceSampler

    from vid2act_cli.compose.probe_data import ensemble

    config = student_config(request.config, cell.variant)
    teachers = ensemble(inputs.teachers, list(cell.columns), config.transfer.action_mapping, device) if cell.columns else None
    names = [inputs.teachers.names[i] for i in cell.columns]
    started, cpu_started = time.time(), time.process_time()
    student = build_student(config, inputs.split.action_dim, teachers, cell.seed, device)
    sampler = SequenceSampler(inputs.train_episodes, keys=inputs.train_keys)
    history = train_student(student, sampler, request.schedule, np.random.default_rng(cell.seed), device,
                            list(cell.columns) if cell.columns else None, names,
                            on_update=lambda _: bar.advance())
    trained, cpu_trained = time.time(), time.process_time()
    student.world_model.eval()
    metrics = open_loop_errors(WorldModelPredictor(student.world_model), inputs.windows, request.context, request.horizons, device)
    curve_updates, curve_weights = history.weight_curve(request.schedule.log_every)
    return {
        "cell": cell.key, "config": cell.variant.name, "teacher_set": cell.variant.teachers,
        "scorer": cell.variant.scorer if cell.columns and not cell.variant.uniform and len(cell.columns) > 1 else None,
        "distill_heads": cell.variant.heads if cell.columns else None, "uniform": cell.variant.uniform,
        "seed": cell.seed, "order": cell.order, "teacher_order": names,
        "metrics": metrics, "final_weights": history.final_weights(),
        "weight_curve": {"updates": curve_updates, "weights": curve_weights},
        "losses": {"updates": history.log_updates, "values": history.log_losses},
        "seconds": {"train": round(trained - started, 2), "evaluate": round(time.time() - trained, 2)},
        # CPU time of this process: what the cell costs on an otherwise idle core (wall time includes waiting for shared cores).
        "cpu_seconds": {"train": round(cpu_trained - cpu_started, 2), "evaluate": round(time.process_time() - cpu_trained, 2)},
    }


@dataclass
class _Inputs:
    split: Any
    teachers: Any
    train_episodes: list[dict[str, np.ndarray]]
    train_keys: list[str]
    windows: dict[str, np.ndarray]


def _load(request: ProbeRequest) -> tuple[Any, Any, dict[str, Any]]:
    """The target split and the teachers, and the spec they give with the request's settings."""
    from vid2act_cli.compose.probe_data import load_target_split, load_teachers

    split = load_target_split(request.target_data, request.train_episodes, request.eval_episodes)
    teachers = load_teachers(request.teachers, split.image_size)
    return split, teachers, result_spec(request, split.sha256, teachers.weights_sha256)


def _prepare(request: ProbeRequest, split: Any, teachers: Any, device: torch.device, reporter: Reporter) -> _Inputs:
    """Held-out windows, and the training episodes with every teacher's features (computed once)."""
    from vid2act_core.probe import fixed_windows

    from vid2act_cli.compose.probe_data import attach_teacher_features, ensemble

    windows = fixed_windows(split.held_out, request.context + max(request.horizons), request.windows_per_episode)
    started = time.time()
    everyone = ensemble(teachers, list(range(len(teachers.names))), request.config.transfer.action_mapping, device)
    train = attach_teacher_features(split.train, everyone, device, TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY)
    reporter.say(f"teachers' features for {len(train)} target episodes computed once in {time.time() - started:.1f} s")
    keys = [key for key in ("image", "action", "reward", "is_first", "is_terminal", TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY)
            if key in train[0]]
    return _Inputs(split, teachers, train, keys, windows)


def cell_path(out: Path, cell: ProbeCell) -> Path:
    return out / "cells" / f"{cell.key}.json"


def run_probe(request: ProbeRequest, reporter: Reporter | None = None) -> ProbeOutcome:
    """Run the unfinished cells of the grid (at most `max_cells`), then summarise every finished cell."""
    from vid2act_cli.compose.probe_report import write_summary

    reporter = plain_if_none(reporter)
    out = Path(request.out)
    cells = plan_cells(request)
    done = [cell for cell in cells if cell_path(out, cell).exists()]
    todo = [cell for cell in cells if not cell_path(out, cell).exists()]
    run_now = todo if request.max_cells is None else todo[: max(0, request.max_cells)]
    device = resolve_device(request.device, reporter)
    configure_threads(request.config)
    reporter.say(f"probe in {out}: {len(cells)} cells, {len(done)} done, {len(run_now)} to run now")
    split, teachers, spec = _load(request)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    check_spec(out, spec)
    if run_now:
        inputs = _prepare(request, split, teachers, device, reporter)
        total = len(run_now) * request.schedule.updates
        with reporter.progress("probe updates", total) as bar:
            for cell in run_now:
                result = run_cell(cell, request, inputs, device, bar)
                atomic_write_text(cell_path(out, cell), json.dumps(result, indent=2) + "\n")
                reporter.say(f"cell {cell.key}: image MSE@{max(request.horizons)} "
                             f"{result['metrics'][f'image_mse_{max(request.horizons)}']:.5f} ({result['seconds']['train']:.0f} s)")
    finished = [json.loads(cell_path(out, cell).read_text()) for cell in cells if cell_path(out, cell).exists()]
    remaining = [cell.key for cell in cells if not cell_path(out, cell).exists()]
    table, plots, text = write_summary(out, finished, request.teachers, request.related, request.horizons) if finished else (None, [], "")
    return ProbeOutcome(ran=[cell.key for cell in run_now], skipped=[cell.key for cell in done], remaining=remaining,
                        table=table, plots=plots, table_text=text)
