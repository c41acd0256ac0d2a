"""The probe's grid: what a request asks for, its budgets, configurations, controls and cells, and the spec that
decides whether finished cells can be reused (`probe.json`). Running the cells is `run`'s job."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from vid2act_core.config import Config
from vid2act_core.config_overrides import set_value
from vid2act_core.config_schema import ConfigError
from vid2act_core.runtime.fileio import atomic_write_text
from vid2act_core.probe import ProbeSchedule, ProbeVariant


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
    jobs: int = 1
    """Cells side by side, in that many `vid2act probe --cells ...` subprocesses with cores // jobs threads each."""
    cells: list[str] | None = None
    """Run only these cell ids and write no summary (what each of those subprocesses does)."""
    command: tuple[str, ...] = ()
    """The `vid2act probe` options that made this request: each subprocess runs them with its `--cells`."""

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


def cell_path(out: Path, cell: ProbeCell) -> Path:
    """Where a cell's result goes."""
    return out / "cells" / cell.budget.key / f"{cell.key}.json"


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
