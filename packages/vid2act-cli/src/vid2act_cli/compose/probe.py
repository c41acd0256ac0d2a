"""`vid2act probe`: the offline dynamics-transfer probe, one resumable grid of (budget, configuration, seed, order) cells.

Every cell trains a fresh student world model offline on the first `train_episodes` episodes of the
target dataset for a fixed number of updates (`vid2act_core.probe`), then measures it on the last
`eval_episodes` (never trained on, the same for every budget). A budget is one (updates,
train episodes) pair; `--updates 160,640 --train-episodes 1,5` gives four. A cell's result is
written atomically to `OUT/cells/<budget>/<cell>.json`; a re-run skips the cells already there, so an
interrupted probe continues where it stopped. The settings that decide a cell's result are kept in
`OUT/probe.json`; a re-run with other settings is refused (budgets, seeds, configurations, controls
and orders may be added: they only add cells). At the end: `results.json`, `table.md`, `errors.png`,
`weights.png` and (where the student reports diagnostics) `diagnostics.png` over every finished cell.

Configurations: `none` (no distillation); `all-<scorer>` (every teacher, learned W, one per
scorer, f_distill kind and distillation form); `related` (the related teacher alone, so W = 1);
`unrelated` (the other teachers, learned W with the first scorer); `uniform` (every teacher,
W = 1/N); each distilled one also at every other `--alphas` value (`<config>-alpha<a>`). Orders:
`given` (teachers as listed) and `rotated` (each teacher moved one place: b, c, a), only for
configurations with 2 or more teachers; a selection that follows the position or the
initialisation rather than the task shows up as a difference between the two.

Controls (`--controls`): `mean-image` and `last-frame` (predictors that train nothing), `teacher`
(the related teacher's own zero-shot prediction, images only), `init` (a student started from the
related teacher's weights, no distillation), and with `--oracle NAME` the same two for a teacher
pretrained on other episodes of the target (`oracle-teacher`, `oracle-init`). Predictor controls
are deterministic and run one seed.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.config import Config
from vid2act_core.config_overrides import set_value
from vid2act_core.config_schema import ConfigError
from vid2act_core.fileio import atomic_write_text
from vid2act_core.probe import ProbeSchedule, ProbeVariant
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY

from vid2act_cli.compose.devices import configure_threads, resolve_device
from vid2act_cli.compose.reporter import Reporter, plain_if_none

CONFIGURATIONS = ("none", "all", "related", "unrelated", "uniform")
"""Values of --configs (`all` expands to one configuration per scorer, f_distill kind and form)."""
CONTROLS = ("mean-image", "last-frame", "teacher", "init", "oracle")
"""Values of --controls; `oracle` (needs --oracle) is `oracle-teacher` and `oracle-init`."""
ORDERS = ("given", "rotated")
DEFAULT_SCORERS = ("prediction_error", "stepwise_error")
DEFAULT_FORMS = ("student_head", "published")
SPEC_FILE = "probe.json"
SPEC_FORMAT = 2
"""probe.json format: 2 keys cells by budget (cells/<budget>/<cell>.json)."""


@dataclass(frozen=True)
class ProbeBudget:
    """How much each student gets: updates, and the number of target episodes it trains on."""

    updates: int
    train_episodes: int

    @property
    def key(self) -> str:
        return f"u{self.updates}-e{self.train_episodes}"

    def describe(self) -> str:
        return f"{self.updates} updates x {self.train_episodes} train episodes"


@dataclass
class ProbeRequest:
    """Everything one probe invocation was asked for."""

    target_data: Path
    teachers: list[str]
    related: str
    config: Config
    """The student's config (preset, --set); the probe sets the transfer switches per configuration."""
    out: Path
    updates: list[int] = field(default_factory=lambda: [160])
    train_episodes: list[int] = field(default_factory=lambda: [5])
    """Every (updates, train episodes) pair is a budget."""
    batch_size: int = 8
    batch_length: int = 32
    log_every: int = 10
    eval_episodes: int = 3
    seeds: int = 3
    configs: list[str] = field(default_factory=lambda: list(CONFIGURATIONS))
    scorers: list[str] = field(default_factory=lambda: list(DEFAULT_SCORERS))
    """Scorers of the `all` configurations; the first is also the scorer of `related`, `unrelated` and `uniform`."""
    heads: list[str] = field(default_factory=lambda: ["shared"])
    forms: list[str] = field(default_factory=lambda: list(DEFAULT_FORMS))
    """transfer.distill_form of the `all` configurations; the first is also the form of the others."""
    alphas: list[float] | None = None
    """transfer.alpha values of every distilled configuration (None: the config's alone)."""
    controls: list[str] | None = None
    """Controls to run (None: every control that applies, the oracle ones only with `oracle`)."""
    oracle: str | None = None
    """A registry teacher pretrained on other episodes of the target task."""
    orders: list[str] = field(default_factory=lambda: list(ORDERS))
    context: int = 5
    horizons: list[int] = field(default_factory=lambda: [15, 45])
    windows_per_episode: int = 8
    device: str = "cpu"
    max_cells: int | None = None
    """Run at most this many unfinished cells, then stop (the rest on the next run)."""

    def budgets(self) -> list[ProbeBudget]:
        """Every (updates, train episodes) pair, updates outermost; a one-line error for bad or repeated values."""
        for option, values in (("--updates", self.updates), ("--train-episodes", self.train_episodes)):
            if not values:
                raise ValueError(f"{option}: name at least one value")
            if any(value < 1 for value in values):
                raise ValueError(f"{option} {','.join(map(str, values))}: every value must be >= 1")
            if len(set(values)) != len(values):
                raise ValueError(f"{option} {','.join(map(str, values))}: a value is named twice")
        return [ProbeBudget(updates, episodes) for updates, episodes in product(self.updates, self.train_episodes)]

    def schedule(self, budget: ProbeBudget) -> ProbeSchedule:
        return ProbeSchedule(budget.updates, self.batch_size, self.batch_length, self.log_every)


@dataclass(frozen=True)
class ProbeCell:
    """One (budget, configuration, seed, order) of the grid."""

    variant: ProbeVariant
    seed: int
    order: str
    columns: tuple[int, ...]
    """Indices into the request's teacher list, in the order this student sees them (empty: none)."""
    budget: ProbeBudget

    @property
    def key(self) -> str:
        """The cell's name within its budget."""
        return f"{self.variant.name}__seed{self.seed}__{self.order}"

    @property
    def id(self) -> str:
        """The cell's name within the probe: `<budget>/<key>`."""
        return f"{self.budget.key}/{self.key}"


@dataclass
class ProbeOutcome:
    """What an invocation did and where the summary is."""

    ran: list[str]
    skipped: list[str]
    remaining: list[str]
    table: Path | None
    plots: list[Path]
    table_text: str


def _check_choice(config: Config, key: str, values: list[str], option: str) -> None:
    """One-line error naming `option` for a value the config field `key` refuses."""
    scratch = copy.deepcopy(config)
    for value in values:
        try:
            set_value(scratch, key, value)
        except ConfigError as error:
            raise ValueError(f"{option} {value}: {error}") from None


def _alpha_suffixes(request: ProbeRequest) -> list[tuple[float | None, str]]:
    """(alpha, name suffix) per --alphas value: the config's alpha keeps the plain name."""
    if request.alphas is None:
        return [(None, "")]
    if not request.alphas:
        raise ValueError("--alphas: name at least one value")
    bad = [value for value in request.alphas if not (value >= 0 and math.isfinite(value))]
    if bad:
        raise ValueError(f"--alphas {','.join(f'{value:g}' for value in request.alphas)}: every value must be a number >= 0")
    if len(set(request.alphas)) != len(request.alphas):
        raise ValueError(f"--alphas {','.join(f'{value:g}' for value in request.alphas)}: a value is named twice")
    own = request.config.transfer.alpha
    return [(None, "") if value == own else (float(value), f"-alpha{value:g}") for value in request.alphas]


def plan_controls(request: ProbeRequest) -> list[ProbeVariant]:
    """The control configurations, in table order."""
    if request.controls is None:
        chosen = [name for name in CONTROLS if name != "oracle" or request.oracle is not None]
    elif request.controls == ["none"]:
        chosen = []
    else:
        unknown = [name for name in request.controls if name not in CONTROLS]
        if unknown:
            raise ValueError(f"--controls {','.join(unknown)}: not one of {', '.join(CONTROLS)} (or none)")
        if "oracle" in request.controls and request.oracle is None:
            raise ValueError("--controls oracle: needs --oracle NAME (a teacher pretrained on other episodes of the target)")
        chosen = list(request.controls)
    variants = []
    for name in CONTROLS:
        if name not in chosen:
            continue
        if name in ("mean-image", "last-frame"):
            variants.append(ProbeVariant(name, "none", predictor=name))
        elif name == "teacher":
            variants.append(ProbeVariant("teacher", "none", source="related", predictor="teacher"))
        elif name == "init":
            variants.append(ProbeVariant("init", "none", source="related"))
        else:
            variants += [ProbeVariant("oracle-teacher", "none", source="oracle", predictor="teacher"),
                         ProbeVariant("oracle-init", "none", source="oracle")]
    return variants


def plan_variants(request: ProbeRequest) -> list[ProbeVariant]:
    """The configurations of the grid, in table order: `none`, the controls, the distilled ones."""
    unknown = [name for name in request.configs if name not in CONFIGURATIONS]
    if unknown:
        raise ValueError(f"--configs {','.join(unknown)}: not one of {', '.join(CONFIGURATIONS)}")
    if not request.scorers or not request.heads or not request.forms:
        raise ValueError("--scorers, --heads and --forms: name at least one each")
    for option, values in (("--scorers", request.scorers), ("--heads", request.heads), ("--forms", request.forms)):
        if len(set(values)) != len(values):
            raise ValueError(f"{option} {','.join(values)}: a value is named twice")
    _check_choice(request.config, "transfer.scorer", request.scorers, "--scorers")
    _check_choice(request.config, "transfer.distill_heads", request.heads, "--heads")
    _check_choice(request.config, "transfer.distill_form", request.forms, "--forms")
    first_scorer, first_heads, first_form = request.scorers[0], request.heads[0], request.forms[0]
    distilled = []
    for name in CONFIGURATIONS[1:]:
        if name not in request.configs:
            continue
        if name == "all":
            for heads, form in product(request.heads, request.forms):
                suffix = ("" if len(request.heads) == 1 else f"-{heads.replace('_', '')}") + ("" if len(request.forms) == 1 else f"-{form}")
                distilled += [ProbeVariant(f"all-{scorer}{suffix}", "all", scorer, heads, form=form) for scorer in request.scorers]
        elif name == "related":
            distilled.append(ProbeVariant("related", "related", first_scorer, first_heads, form=first_form))
        elif name == "unrelated":
            distilled.append(ProbeVariant(f"unrelated-{first_scorer}", "unrelated", first_scorer, first_heads, form=first_form))
        else:
            distilled.append(ProbeVariant("uniform", "all", first_scorer, first_heads, uniform=True, form=first_form))
    variants = [ProbeVariant("none", "none")] if "none" in request.configs else []
    variants += plan_controls(request)
    for alpha, suffix in _alpha_suffixes(request):
        variants += [ProbeVariant(v.name + suffix, v.teachers, v.scorer, v.heads, v.uniform, v.form, alpha) for v in distilled]
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
    """Every cell of the grid: budget x configuration x order x seed (orders only where 2+ teachers,
    one seed for the predictor controls)."""
    if request.related not in request.teachers:
        raise ValueError(f"--related {request.related!r}: not one of the teachers ({', '.join(request.teachers)})")
    if len(set(request.teachers)) != len(request.teachers):
        raise ValueError(f"--teachers {','.join(request.teachers)}: a teacher is named twice")
    bad_orders = [order for order in request.orders if order not in ORDERS]
    if bad_orders or not request.orders:
        raise ValueError(f"--orders {','.join(request.orders)}: expected one or both of {', '.join(ORDERS)}")
    if request.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {request.seeds}")
    budgets = request.budgets()
    for budget in budgets:
        request.schedule(budget)  # a bad batch size, length or log interval: one line before anything runs
    variants = plan_variants(request)
    cells = []
    for budget in budgets:
        for variant in variants:
            given = teacher_columns(variant, request.teachers, request.related, "given")
            orders = request.orders if len(given) >= 2 else [request.orders[0]]
            seeds = range(request.seeds) if variant.trained else range(1)
            for order in orders:
                columns = teacher_columns(variant, request.teachers, request.related, order)
                cells += [ProbeCell(variant, seed, order, columns, budget) for seed in seeds]
    return cells


def result_spec(request: ProbeRequest, data_sha256: str, teacher_hashes: list[str], oracle_hash: str | None) -> dict[str, Any]:
    """What decides a cell's result: data, teachers, student config, schedule, measurement, and the budgets asked for."""
    spec: dict[str, Any] = {
        "format": SPEC_FORMAT,
        "target_data_sha256": data_sha256,
        "teachers": dict(zip(request.teachers, teacher_hashes)),
        "related": request.related,
        "eval_episodes": request.eval_episodes,
        "schedule": {"batch_size": request.batch_size, "batch_length": request.batch_length, "log_every": request.log_every},
        "context": request.context,
        "horizons": list(request.horizons),
        "windows_per_episode": request.windows_per_episode,
        "config": request.config.to_dict(),
        "budgets": [budget.key for budget in request.budgets()],
    }
    if request.oracle is not None:
        spec["oracle"] = {request.oracle: oracle_hash}
    return spec


ADDITIVE_KEYS = ("budgets", "oracle")
"""Spec entries a re-run may extend: more budgets only add cells; an oracle named later only adds its cells."""


def check_spec(out: Path, spec: dict[str, Any]) -> None:
    """Write `probe.json`, or refuse (one line) when `out` holds a probe with other settings.

    The budgets saved are the union of every run's; an oracle once named must stay the same teacher.
    """
    path = out / SPEC_FILE
    if not path.exists():
        atomic_write_text(path, json.dumps(spec, indent=2, sort_keys=True) + "\n")
        return
    saved = json.loads(path.read_text())
    if saved.get("format") != SPEC_FORMAT:
        raise ValueError(f"{out}: holds a probe of an earlier format (cells not kept per budget, see {path}); use another --out")
    for key in spec:
        if key not in ADDITIVE_KEYS and saved.get(key) != spec[key]:
            raise ValueError(f"{out}: holds a probe with other {key!r} (see {path}); use another --out or the same settings")
    merged = dict(saved)
    merged["budgets"] = list(dict.fromkeys(saved.get("budgets", []) + spec["budgets"]))
    if "oracle" in spec:
        if "oracle" in saved and saved["oracle"] != spec["oracle"]:
            raise ValueError(f"{out}: holds a probe with another --oracle ({', '.join(saved['oracle'])}, see {path}); use another --out")
        merged["oracle"] = spec["oracle"]
    if merged != saved:
        atomic_write_text(path, json.dumps(merged, indent=2, sort_keys=True) + "\n")


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
    from vid2act_core.probe import build_student, student_config
    from vid2act_core.transfer import initialise_from_teacher

    from vid2act_cli.compose.probe_data import ensemble
    from vid2act_cli.compose.transfer import apply_init_architecture

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
    from vid2act_core.probe import LastFramePredictor, MeanImagePredictor, teacher_predictor

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
    from vid2act_core.probe import WorldModelPredictor, open_loop_errors, train_student
    from vid2act_envs.sampler import SequenceSampler

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
    from vid2act_cli.compose.probe_data import load_target_split, load_teachers

    split = load_target_split(request.target_data, max(request.train_episodes), request.eval_episodes)
    teachers = load_teachers(request.teachers, split.image_size)
    oracle = load_teachers([request.oracle], split.image_size) if request.oracle is not None else None
    spec = result_spec(request, split.sha256, teachers.weights_sha256, oracle.weights_sha256[0] if oracle is not None else None)
    return split, teachers, oracle, spec


def _prepare(request: ProbeRequest, split: Any, teachers: Any, oracle: Any, device: torch.device, reporter: Reporter) -> _Inputs:
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
    return _Inputs(split, teachers, oracle, train, keys, windows)


def cell_path(out: Path, cell: ProbeCell) -> Path:
    return out / "cells" / cell.budget.key / f"{cell.key}.json"


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
    reporter.say(f"probe in {out}: {len(cells)} cells over {len(request.budgets())} budgets, {len(done)} done, {len(run_now)} to run now")
    split, teachers, oracle, spec = _load(request)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    check_spec(out, spec)
    if run_now:
        inputs = _prepare(request, split, teachers, oracle, device, reporter)
        total = sum(cell.budget.updates for cell in run_now if cell.variant.trained)
        longest = f"image_mse_{max(request.horizons)}"
        with reporter.progress("probe updates", total) as bar:
            for cell in run_now:
                result = run_cell(cell, request, inputs, device, bar)
                atomic_write_text(cell_path(out, cell), json.dumps(result, indent=2) + "\n")
                reporter.say(f"cell {cell.id}: image MSE@{max(request.horizons)} {result['metrics'][longest]:.5f} "
                             f"({result['seconds']['train'] + result['seconds']['evaluate']:.0f} s)")
    finished = [json.loads(cell_path(out, cell).read_text()) for cell in cells if cell_path(out, cell).exists()]
    remaining = [cell.id for cell in cells if not cell_path(out, cell).exists()]
    table, plots, text = write_summary(out, finished, request.teachers, request.related, request.horizons) if finished else (None, [], "")
    return ProbeOutcome(ran=[cell.id for cell in run_now], skipped=[cell.id for cell in done], remaining=remaining,
                        table=table, plots=plots, table_text=text)
