"""`api.probe`, `api.report`, `api.demo`: the offline probe, figures and page from runs, the small pipeline."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vid2act_core.config import load_config
from vid2act_teachers.registry import vid2act_home

from vid2act_cli.compose.demo import run_demo
from vid2act_cli.compose.probe import ProbeRequest as ProbeSettings, run_probe
from vid2act_cli.compose.probe.data import default_target_data, resolve_pair
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.report import build_report


@dataclass(frozen=True)
class ProbeRequest:
    """What `vid2act probe` takes: student world models trained offline with and without distillation, compared."""

    pair: str | None = None
    """A named target/teachers pair (dmc-walker, dmc-hopper, metaworld-button, metaworld-door)."""
    target_data: Path | None = None
    """Target HDF5 dataset (default with pair: $VID2ACT_HOME/datasets/<target>.h5)."""
    teachers: tuple[str, ...] | None = None
    """Registry teachers (default: the pair's)."""
    related: str | None = None
    """Which teacher is the related source (default: the pair's)."""
    out: Path | None = None
    """Probe folder (default: runs/probe-<pair or dataset>); an existing one is continued."""
    train_episodes: tuple[int, ...] = (5,)
    """The student trains on the dataset's first N episodes; several values sweep."""
    eval_episodes: int = 3
    """Held-out episodes (the dataset's last N) for the errors, the same for every budget."""
    updates: tuple[int, ...] = (160,)
    """World-model updates per cell; every (updates, train episodes) pair is a budget."""
    batch_size: int = 8
    """Windows per update."""
    batch_length: int = 32
    """Steps per window."""
    log_every: int = 10
    """Updates per point of the W curves."""
    seeds: int = 3
    """Seeds per configuration and order."""
    configs: tuple[str, ...] = ("none", "all", "related", "unrelated", "uniform")
    """Configurations to run."""
    scorers: tuple[str, ...] = ("prediction_error", "stepwise_error")
    """Task-weight scorers for `all` (the first also for related, unrelated and uniform)."""
    heads: tuple[str, ...] = ("shared",)
    """f_distill kinds for `all`: shared, per_teacher."""
    forms: tuple[str, ...] = ("student_head", "published")
    """Distillation forms for `all` (the first also for the others)."""
    alphas: tuple[float, ...] | None = None
    """transfer.alpha values of every distilled configuration (None: the config's)."""
    controls: tuple[str, ...] | None = None
    """Controls: mean-image, last-frame, teacher, init, oracle (None: all that apply)."""
    oracle: str | None = None
    """Registry teacher pretrained on other episodes of the target task (adds oracle-teacher, oracle-init)."""
    orders: tuple[str, ...] = ("given", "rotated")
    """Teacher orders: given, rotated."""
    context: int = 5
    """Observed frames before open-loop prediction."""
    horizons: tuple[int, ...] = (15, 45)
    """Predicted steps over which errors are averaged."""
    windows_per_episode: int = 8
    """Evaluation windows per held-out episode."""
    preset: str = "small"
    """Preset stack, e.g. small or small,cpu-demo."""
    config_file: Path | None = None
    """YAML file of config overrides (--config)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "transfer.alpha=0.5" (--set)."""
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto."""
    max_cells: int | None = None
    """Run at most this many unfinished cells, then stop (call again for the rest)."""
    jobs: int = 1
    """Cells side by side, in that many `vid2act probe --cells ...` subprocesses with cores // jobs threads each."""
    cells: tuple[str, ...] | None = None
    """Run only these cell ids and write no summary (one of those subprocesses)."""
    command: tuple[str, ...] = ()
    """The `vid2act probe` options behind this request, which each subprocess runs with its `--cells` (needed for jobs > 1)."""


@dataclass(frozen=True)
class ProbeResult:
    """What one probe call did and where its summary is."""

    out: Path
    """The probe folder."""
    ran: tuple[str, ...]
    """Cells trained by this call."""
    skipped: tuple[str, ...]
    """Cells already done."""
    remaining: tuple[str, ...]
    """Cells left for a later call (max_cells)."""
    table: Path | None
    """The summary table file, once any cell is done."""
    plots: tuple[Path, ...]
    """The figures written."""
    table_text: str
    """The summary table as printed."""


def probe(request: ProbeRequest, reporter: Reporter | None = None) -> ProbeResult:
    """Train student world models offline on a few target episodes with and without distillation; compare predictions."""
    chosen = resolve_pair(request.pair) if request.pair else None
    if chosen is None and (request.target_data is None or request.teachers is None or request.related is None):
        raise ValueError("--target-data, --teachers and --related are needed without --pair")
    data = request.target_data if request.target_data is not None else default_target_data(chosen, vid2act_home())  # type: ignore[arg-type]
    out = request.out if request.out is not None else Path("runs") / f"probe-{request.pair or data.stem}"
    settings = ProbeSettings(
        target_data=data,
        teachers=list(request.teachers) if request.teachers else list(chosen.teachers),  # type: ignore[union-attr]
        related=request.related if request.related else chosen.related,  # type: ignore[union-attr]
        config=load_config(request.preset, request.config_file, list(request.overrides)), out=out,
        updates=list(request.updates), train_episodes=list(request.train_episodes), batch_size=request.batch_size,
        batch_length=request.batch_length, log_every=request.log_every, eval_episodes=request.eval_episodes,
        seeds=request.seeds, configs=list(request.configs), scorers=list(request.scorers), heads=list(request.heads),
        forms=list(request.forms), alphas=None if request.alphas is None else list(request.alphas),
        controls=None if request.controls is None else list(request.controls), oracle=request.oracle,
        orders=list(request.orders), context=request.context, horizons=list(request.horizons),
        windows_per_episode=request.windows_per_episode, device=request.device, max_cells=request.max_cells,
        jobs=request.jobs, cells=None if request.cells is None else list(request.cells), command=tuple(request.command),
    )
    if request.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {request.jobs}")
    outcome = run_probe(settings, plain_if_none(reporter))
    return ProbeResult(out=out, ran=tuple(outcome.ran), skipped=tuple(outcome.skipped),
                       remaining=tuple(outcome.remaining), table=outcome.table, plots=tuple(outcome.plots),
                       table_text=outcome.table_text)


@dataclass(frozen=True)
class ReportRequest:
    """What `vid2act report` takes: figures, a sample-efficiency summary and an HTML page from runs."""

    run_dirs: tuple[Path, ...]
    """Run directories made by train or transfer, or an experiment directory (its runs/*); partial runs are fine."""
    out: Path | None = None
    """Output folder (None: reports/<time>/)."""
    at: tuple[int, ...] | None = None
    """Env steps for the sample-efficiency returns (None: the evaluation steps all runs of a task share)."""
    threshold: float | None = None
    """Evaluation return counted as reached for steps-to-threshold (None: a third of a task's best final return)."""


@dataclass(frozen=True)
class ReportResult:
    """What a report wrote and the numbers it shows."""

    html: Path
    """The self-contained page, <out>/index.html."""
    figures: dict[str, Path]
    """Figure key (eval_return, task_weights, ...) -> PNG."""
    rows: tuple[dict[str, Any], ...]
    """One final-numbers row per (task, method): seeds, env_steps, last_eval_return, ..."""
    efficiency: tuple[dict[str, Any], ...]
    """Sample-efficiency summary per task (also in sample_efficiency.json)."""
    notes: tuple[str, ...]
    """Runs or figures left out, and why."""


def report(request: ReportRequest) -> ReportResult:
    """Draw the figures and write one HTML page (and sample_efficiency.json) for runs or an experiment directory."""
    if request.at is not None and (not request.at or any(step < 0 for step in request.at)):
        raise ValueError(f"--at: expected non-negative env steps, got {list(request.at)}")
    if request.threshold is not None and not math.isfinite(request.threshold):
        raise ValueError(f"--threshold: expected a finite evaluation return, got {request.threshold}")
    target = request.out if request.out is not None else Path("reports") / time.strftime("%Y%m%d-%H%M%S")
    built = build_report(list(request.run_dirs), target, at=None if request.at is None else sorted(set(request.at)),
                         threshold=request.threshold)
    return ReportResult(html=Path(built.html), figures=dict(built.figures), rows=tuple(built.rows),
                        efficiency=tuple(built.efficiency), notes=tuple(built.notes))


class StageFailedError(RuntimeError):
    """A stage of a pipeline (one of its jobs) failed; calling again resumes from what is done."""


@dataclass(frozen=True)
class DemoRequest:
    """What `vid2act demo` takes: collect, pretrain, transfer, evaluate and report, small."""

    out: Path = Path("runs/demo")
    """Demo folder (its own teacher registry in out/home)."""
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto."""
    jobs: int | None = None
    """Jobs side by side, each with cores // jobs threads (None: all cores, at most as many as can run at once)."""


@dataclass(frozen=True)
class DemoResult:
    """Where the demo's report is and the numbers it ends with."""

    page: Path
    """The report's HTML page."""
    rows: tuple[dict[str, Any], ...]
    """One final-numbers row per (task, method): evaluate_return, evaluate_success, dominant_teacher, ..."""
    seconds: float
    """Wall time of this call."""


def demo(request: DemoRequest, reporter: Reporter | None = None) -> DemoResult:
    """The whole pipeline on two Meta-World sources and one target; calling again continues or reuses what is done.

    A failed job raises StageFailedError.
    """
    # submitit, under the launcher, configures logging when imported (closing the handlers already installed), so
    # `import vid2act_cli.api` leaves it out until jobs are launched.
    from vid2act_cli.compose.launch.local import JobFailedError

    try:
        page, rows, seconds = run_demo(request.out, request.device, plain_if_none(reporter), request.jobs)
    except JobFailedError as error:
        raise StageFailedError(str(error)) from error
    return DemoResult(page=Path(page), rows=tuple(rows), seconds=float(seconds))
