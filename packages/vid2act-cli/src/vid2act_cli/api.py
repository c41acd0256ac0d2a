"""The Python front door: one typed function per command, each taking one frozen request.

A notebook or a cluster job calls these instead of the ~30 composition modules; the Typer
commands in `commands/` only parse options into a request, call the function here and print.
Heavy imports (torch, the composition layer) stay inside the functions so that importing this
module, and therefore `vid2act --help`, stays fast.

    from vid2act_cli import api
    result = api.train(api.TrainRequest(task="cartpole_balance", preset="tiny", steps=200, device="cpu"))

Invalid fields raise a one-line ValueError naming the option (`--steps: ...`), the same text the
command prints after `error:`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Standard library only, so importing it here keeps the type hints resolvable at no start-up cost.
from vid2act_cli.compose.reporter import Reporter, plain_if_none

__all__ = [
    "AddTeacherRequest", "CollectRequest", "CollectResult", "DemoRequest", "DemoResult", "EvaluateRequest",
    "EvaluateResult", "ExperimentStatusRequest", "ExperimentStatusResult", "JobState", "LaunchRequest", "LaunchResult",
    "PretrainRequest", "ProbeRequest", "ProbeResult", "ReportRequest", "ReportResult", "StageFailedError",
    "TeacherResult", "TrainRequest", "TrainResult", "TransferRequest", "TransferResult", "add_teacher", "collect",
    "demo", "evaluate", "experiment_status", "launch", "pretrain", "probe", "report", "train", "transfer",
]


@dataclass(frozen=True)
class TrainRequest:
    """What `vid2act train` takes: DreamerV2 from scratch on one task."""

    task: str
    """Task name, e.g. cartpole_swingup or metaworld:door-open."""
    preset: str = "auto"
    """Named size block (tiny, small, ...) or auto, which picks one for the device."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto."""
    logdir: Path | None = None
    """Run directory (default: <root>/<task>-dreamer-<seed>-<time>); an unfinished one is resumed."""
    seed: int = 0
    """Random seed."""
    steps: int | None = None
    """Environment steps (overrides the preset's train.steps)."""
    config_file: Path | None = None
    """YAML file of config overrides (--config)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "world_model.deter=256" (--set)."""
    root: Path = Path("runs")
    """Where new run directories are created."""


@dataclass(frozen=True)
class TrainResult:
    """Where a finished training run lives and how far it got."""

    run_dir: Path
    """The run directory (config.yaml, metrics.jsonl, checkpoints/, videos/, DONE)."""
    env_steps: int
    """Environment steps taken in total, resumed parts included."""
    updates: int
    """Gradient updates made in total."""
    episodes: int
    """Episodes finished in total."""


def train(request: TrainRequest, reporter: Reporter | None = None) -> TrainResult:
    """Train a DreamerV2 agent online from scratch; calling again on the same logdir resumes.

    `reporter` receives notes and progress (default: plain text, notes on stderr).
    """
    from vid2act_core.config import load_config

    from vid2act_cli.compose.devices import explicit_preset, resolve_preset
    from vid2act_cli.compose.runs import requested_keys
    from vid2act_cli.compose.training import train_task
    from vid2act_cli.compose.validation import require_count

    reporter = plain_if_none(reporter)
    overrides = list(request.overrides)
    config = load_config(resolve_preset(request.preset, request.device, request.task, reporter),
                         request.config_file, overrides)
    config.env.task = request.task
    config.seed = request.seed
    if request.steps is not None:
        config.train.steps = require_count(request.steps, "--steps")
    # Keys the caller set on purpose: resuming refuses to contradict them silently.
    explicit = {"task": "--task", **requested_keys(explicit_preset(request.preset), request.config_file, overrides)}
    state, run_dir = train_task(config, request.device, request.logdir, request.root, reporter, explicit)
    return TrainResult(run_dir=Path(run_dir), env_steps=int(state.env_steps), updates=int(state.updates),
                       episodes=int(state.episodes))


@dataclass(frozen=True)
class EvaluateRequest:
    """What `vid2act evaluate` takes: return and success of a trained run's latest checkpoint."""

    run_dir: Path
    """A run directory made by train or transfer."""
    episodes: int = 10
    """Evaluation episodes."""
    deterministic: bool = True
    """Actor mode (True) or sampled actions (False)."""
    video: bool = False
    """Also write a GIF of the first episode under run_dir/videos/."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto."""
    seed: int | None = None
    """Reset seed of the first episode (episode i uses seed + i); None derives it from the training seed."""
    workers: int = 1
    """Worker processes running episodes in parallel (one agent and environment each)."""


@dataclass(frozen=True)
class EvaluateResult:
    """One evaluation, as also written to evaluation_<mode>.json beside the run."""

    file: Path
    """The evaluation_<mode>.json written."""
    task: str
    method: str
    mode: str
    env_steps_trained: int
    episodes: int
    return_mean: float
    return_std: float
    success_rate: float | None
    """Fraction of successful episodes, for tasks that report success; else None."""
    video: Path | None
    """The GIF written when video was requested."""


def evaluate(request: EvaluateRequest) -> EvaluateResult:
    """Evaluate a run's latest checkpoint and write evaluation_<mode>.json beside it."""
    from vid2act_cli.compose.evaluation import evaluate_run
    from vid2act_cli.compose.validation import require_count

    require_count(request.episodes, "--episodes")
    mode = "eval" if request.deterministic else "stochastic"
    result = evaluate_run(request.run_dir, request.episodes, mode, request.video, request.device, request.seed,
                          request.workers)
    return EvaluateResult(
        file=Path(result["file"]), task=str(result["task"]), method=str(result["method"]), mode=str(result["mode"]),
        env_steps_trained=int(result["env_steps_trained"]), episodes=request.episodes,
        return_mean=float(result["return_mean"]), return_std=float(result["return_std"]),
        success_rate=float(result["success_rate"]) if "success_rate" in result else None,
        video=Path(result["video"]) if "video" in result else None,
    )


@dataclass(frozen=True)
class TransferRequest:
    """What `vid2act transfer` takes: a student on a target task with the registry's teachers, or a baseline."""

    target: str
    """Target task, e.g. quadruped_run or metaworld:button-press."""
    teachers: str | None = None
    """Comma-separated teacher names (None, or 'all': every registered teacher that can serve the target)."""
    preset: str = "auto"
    """Named size block (tiny, small, ...) or auto, which picks one for the device."""
    alpha: float | None = None
    """Scale of the distillation loss (Eq. 5); None keeps the config's."""
    scorer: str | None = None
    """Task weights W (Eq. 3), one of vid2act_core.transfer.scorers.SCORERS; None keeps the config's."""
    distill_form: str | None = None
    """Distillation (Eq. 4), one of vid2act_core.transfer.distillation.DISTILL_FORMS; None keeps the config's."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto."""
    seed: int = 0
    """Random seed."""
    steps: int | None = None
    """Environment steps (overrides train.steps)."""
    logdir: Path | None = None
    """Run directory (default: <root>/<target>-<method>-<seed>-<time>); an unfinished one is resumed."""
    root: Path = Path("runs")
    """Where new run directories are created."""
    no_distill: bool = False
    """Baseline: DreamerV2 from scratch (no teachers)."""
    uniform_weights: bool = False
    """Ablation: fixed uniform task weights."""
    no_guidance: bool = False
    """Ablation: no action-replay guidance for the actor."""
    method: str = "vid2act"
    """vid2act (with the switches above), or a baseline: apv (with init_from an action-free model) or isodream."""
    init_from: str | None = None
    """Baseline: DreamerV2 initialised from this teacher's or multitask model's weights."""
    source_data: tuple[str, ...] = ()
    """TEACHER=FILE.h5 entries: action-replay pairs from this dataset instead of the teacher's stored set."""
    config_file: Path | None = None
    """YAML file of config overrides (--config)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "transfer.vae_units=400" (--set)."""


@dataclass(frozen=True)
class TransferResult:
    """Where a finished transfer run lives, how far it got and which teacher it leaned on."""

    run_dir: Path
    """The run directory (config.yaml, metrics.jsonl, checkpoints/, DONE)."""
    env_steps: int
    """Environment steps taken in total, resumed parts included."""
    updates: int
    """Gradient updates made in total."""
    final_mean_weight: dict[str, float]
    """Teacher -> mean task weight over the last logged steps (empty without teachers)."""
    dominant_teacher: str | None
    """The teacher of the largest final weight; None without teachers."""


def transfer(request: TransferRequest, reporter: Reporter | None = None) -> TransferResult:
    """Vid2Act transfer (task-selective distillation + action-replay guidance) or one of its baselines.

    Calling again on the same logdir resumes. `reporter` receives notes and progress (default: plain text).
    """
    from vid2act_core.config import load_config
    from vid2act_core.transfer.distillation import DISTILL_FORMS
    from vid2act_core.transfer.scorers import SCORERS

    from vid2act_cli.compose.devices import explicit_preset, resolve_preset
    from vid2act_cli.compose.runs import requested_keys
    from vid2act_cli.compose.transfer import TransferRequest as TransferSettings, transfer_to_target
    from vid2act_cli.compose.validation import require_count

    reporter = plain_if_none(reporter)
    overrides = list(request.overrides)
    config = load_config(resolve_preset(request.preset, request.device, request.target, reporter),
                         request.config_file, overrides)
    config.seed = request.seed
    config.env.task = request.target
    if request.steps is not None:
        config.train.steps = require_count(request.steps, "--steps")
    if request.alpha is not None:
        config.transfer.alpha = request.alpha
    for option, value, choices in (("--scorer", request.scorer, SCORERS),
                                   ("--distill-form", request.distill_form, DISTILL_FORMS)):
        if value is not None and value not in choices:
            raise ValueError(f"{option}: {value!r} is not one of {', '.join(choices)}")
    if request.scorer is not None:
        config.transfer.scorer = request.scorer  # type: ignore[assignment]
    if request.distill_form is not None:
        config.transfer.distill_form = request.distill_form  # type: ignore[assignment]
    if request.no_distill:
        config.transfer.distill = False
    if request.uniform_weights:
        config.transfer.uniform_weights = True
    if request.no_guidance:
        config.transfer.guidance = False
    if request.init_from or request.method != "vid2act":
        config.transfer.distill = False
    settings = TransferSettings(
        request.teachers, request.init_from, list(request.source_data), request.device, request.logdir, request.root,
        request.method,
        {"task": "--target", **requested_keys(explicit_preset(request.preset), request.config_file, overrides)})
    state, run_dir, summary = transfer_to_target(config, settings, reporter)
    return TransferResult(run_dir=Path(run_dir), env_steps=int(state.env_steps), updates=int(state.updates),
                          final_mean_weight={str(k): float(v) for k, v in summary.get("final_mean_weight", {}).items()},
                          dominant_teacher=summary.get("dominant_teacher"))


@dataclass(frozen=True)
class TeacherResult:
    """A model the registry holds after pretraining (a teacher, or a multitask / action-free model)."""

    name: str
    """The registered name."""
    kind: str
    """task (a transfer teacher), multitask or action-free."""
    task: str
    """The qualified source task, e.g. dmc:walker_walk."""
    train_steps: int
    """Gradient steps the model was pretrained for."""
    dataset_sha256: str
    """Digest of the pretraining data."""
    path: Path
    """The registry entry's directory."""


def _teacher_result(info: object) -> TeacherResult:
    """The registry's TeacherInfo as the api's frozen result."""
    return TeacherResult(name=str(info.name), kind=str(info.kind), task=str(info.qualified_task),  # type: ignore[attr-defined]
                         train_steps=int(info.train_steps), dataset_sha256=str(info.dataset_sha256),  # type: ignore[attr-defined]
                         path=Path(info.path))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PretrainRequest:
    """What `vid2act pretrain` takes: offline teacher pretraining (Eq. 2) on reward-free image-action datasets."""

    data: tuple[Path, ...]
    """HDF5 datasets of the source task (with multitask, of several tasks)."""
    name: str
    """Name to register the teacher under."""
    preset: str = "small"
    """Preset stack, e.g. small or small,cpu-demo."""
    steps: int | None = None
    """Gradient steps (overrides the preset's pretrain.steps)."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto (under torchrun: cuda uses LOCAL_RANK's GPU)."""
    logdir: Path | None = None
    """Run directory (default: runs/pretrain-<name>); an existing one is resumed."""
    seed: int = 0
    """Random seed."""
    config_file: Path | None = None
    """YAML file of config overrides (--config)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "train.batch_size=32" (--set)."""
    overwrite: bool = False
    """Replace a registered teacher of the same name."""
    action_free: bool = False
    """APV: an action-free video model on the datasets' frames, registered as kind action-free."""
    multitask: bool = False
    """One model on datasets of several tasks, registered as kind multitask (for init_from)."""
    replay_set_mb: float = 4.0
    """Size budget (MiB) of the action-replay set stored with the teacher."""


def pretrain(request: PretrainRequest, reporter: Reporter | None = None) -> TeacherResult | None:
    """Pretrain a teacher world model (image reconstruction + KL, no rewards) and register it; calling again resumes.

    Under torchrun every rank calls this; rank 0 registers and gets the result, the others get None.
    """
    from vid2act_cli.compose.pretraining import pretrain_teacher, pretraining_config

    config = pretraining_config(request.preset, request.config_file, request.overrides, request.seed, request.steps)
    run_dir = request.logdir if request.logdir is not None else Path("runs") / f"pretrain-{request.name}"
    info = pretrain_teacher(list(request.data), request.name, config, run_dir, request.device, plain_if_none(reporter),
                            overwrite=request.overwrite, multitask=request.multitask,
                            action_free=request.action_free, replay_set_mb=request.replay_set_mb)
    return None if info is None else _teacher_result(info)


@dataclass(frozen=True)
class AddTeacherRequest:
    """What `vid2act teachers add` takes: expert -> dataset -> pretraining -> registry for one source task."""

    task: str
    """Source task, e.g. metaworld:door-open or walker_walk."""
    name: str | None = None
    """Teacher name (None: the task with ':' and '-' as '_')."""
    episodes: int | None = None
    """Episodes to collect (None: 10 with a scripted expert, 50 with a trained agent)."""
    policy: str = "expert"
    """expert, random, or a `vid2act train` run directory."""
    expert: str = "state"
    """Expert where the domain has no scripted one: state (SAC from state, DMC) or dreamer (pixel agent)."""
    expert_steps: int | None = None
    """Expert budget: agent steps of the state expert, env steps of a dreamer expert (None: the defaults)."""
    steps: int | None = None
    """Pretraining gradient steps (None: the preset's pretrain.steps)."""
    preset: str = "small"
    """Preset stack, e.g. small or small,cpu-demo."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto."""
    data: tuple[Path, ...] = ()
    """HDF5 datasets of the task to use instead of collecting."""
    seed: int = 0
    """Random seed (collection, expert training, pretraining)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "env.episode_steps=100" (--set)."""
    replay_set_mb: float = 4.0
    """Size budget (MiB) of the action-replay set stored with the teacher."""


def add_teacher(request: AddTeacherRequest, reporter: Reporter | None = None) -> TeacherResult:
    """Collect expert episodes (if needed), pretrain a teacher on them and register it; calling again resumes.

    A plugin that fails to load raises vid2act_teachers.plugins.PluginError.
    """
    from vid2act_cli.compose.pretraining import pretraining_config
    from vid2act_cli.compose.teacher_add import AddTeacherRequest as AddTeacherSettings, add_teacher as run_stages

    config = pretraining_config(request.preset, None, request.overrides, request.seed, request.steps)
    settings = AddTeacherSettings(
        task=request.task, config=config, device=request.device, name=request.name, episodes=request.episodes,
        policy=request.policy, expert_steps=request.expert_steps, data=list(request.data) or None,
        expert=request.expert, replay_set_mb=request.replay_set_mb,
    )
    return _teacher_result(run_stages(settings, plain_if_none(reporter)))


@dataclass(frozen=True)
class CollectRequest:
    """What `vid2act collect` takes: an expert or random policy's image-action episodes into HDF5."""

    task: str
    """Task name, e.g. metaworld:button-press-topdown or walker_walk."""
    episodes: int = 10
    """Number of episodes to collect."""
    policy: str = "expert"
    """expert (the domain's scripted expert; for DMC the cached state expert) or random."""
    out: Path | None = None
    """HDF5 file to write or append to (None: data/<task>.h5)."""
    seed: int = 0
    """Environment (and random policy) seed."""
    image_size: int = 64
    """Image height and width in pixels."""
    episode_steps: int | None = None
    """Time limit in simulator steps (None: the task's)."""
    workers: int = 1
    """Worker processes running episodes in parallel (>1: episode i uses seed + i)."""


@dataclass(frozen=True)
class CollectResult:
    """What a collection added to its file."""

    path: Path
    """The HDF5 file written or appended to."""
    episodes: int
    """Episodes collected by this call."""
    steps: int
    """Agent steps collected by this call."""
    mean_return: float
    """Mean episode return."""
    successes: tuple[bool, ...]
    """Per-episode success, for tasks that report it (else empty)."""
    success_rate: float | None
    """Fraction of successful episodes; None where the task defines no success."""


def collect(request: CollectRequest, on_start: Callable[..., None] | None = None,
            on_step: Callable[..., None] | None = None,
            on_episode: Callable[..., None] | None = None) -> CollectResult:
    """Collect episodes (images, actions, rewards, flags) into an HDF5 dataset for teacher pretraining.

    The hooks see progress: on_start(spec, path, existing_episodes) once the file is open, on_step(obs)
    per agent step, on_episode(episode, summary) per finished episode. Episodes finished before an
    interruption stay in the file.
    """
    from vid2act_cli.compose.catalog import collect_task

    stats, path = collect_task(request.task, request.episodes, request.policy, request.out, request.seed,
                               request.image_size, request.episode_steps, on_start=on_start, on_step=on_step,
                               on_episode=on_episode, workers=request.workers)
    return CollectResult(path=Path(path), episodes=int(stats.episodes), steps=int(stats.steps),
                         mean_return=float(stats.mean_return), successes=tuple(bool(s) for s in stats.successes),
                         success_rate=None if stats.success_rate is None else float(stats.success_rate))


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
    from vid2act_core.config import load_config
    from vid2act_teachers.registry import vid2act_home

    from vid2act_cli.compose.probe import ProbeRequest as ProbeSettings, run_probe
    from vid2act_cli.compose.probe_data import default_target_data, resolve_pair

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
    )
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
    from vid2act_cli.report import build_report

    if request.at is not None and (not request.at or any(step < 0 for step in request.at)):
        raise ValueError(f"--at: expected non-negative env steps, got {list(request.at)}")
    if request.threshold is not None and not math.isfinite(request.threshold):
        raise ValueError(f"--threshold: expected a finite evaluation return, got {request.threshold}")
    target = request.out if request.out is not None else Path("reports") / time.strftime("%Y%m%d-%H%M%S")
    built = build_report(list(request.run_dirs), target, at=None if request.at is None else sorted(set(request.at)),
                         threshold=request.threshold)
    return ReportResult(html=Path(built.html), figures=dict(built.figures), rows=tuple(built.rows),
                        efficiency=tuple(built.efficiency), notes=tuple(built.notes))


@dataclass(frozen=True)
class LaunchRequest:
    """What `vid2act experiment NAME` takes: an experiment grid, one job per run, on Slurm or this machine."""

    name: str
    """paper-metaworld, paper-dmc or grid."""
    dry_run: bool = False
    """Only list the `uv run vid2act ...` line of every job that would be submitted; submit nothing."""
    launcher: str = "local"
    """local (runs on this machine, jobs side by side) or slurm (one sbatch job per run, through submitit)."""
    jobs: int = 1
    """local: runs side by side; each gets cores // jobs torch threads."""
    partition: str | None = None
    """slurm: the partition."""
    gpus_per_run: int = 0
    """GPUs per run (slurm: per job; local: run slot s gets GPUs s*G..s*G+G-1; 0 hides CUDA)."""
    cpus_per_run: int | None = None
    """slurm: CPUs per job, also its torch threads (None: 8)."""
    time: str = "48:00:00"
    """slurm: time limit per job; a run that hits it is requeued and resumes."""
    slurm_options: tuple[tuple[str, str], ...] = ()
    """slurm: extra sbatch options, e.g. (("account", "proj"),)."""
    scale: float = 1.0
    """Multiply step budgets and episode counts (e.g. 0.01 for a local trial)."""
    seeds: int = 3
    """Seeds per (target, method)."""
    device: str = "auto"
    """Device every job uses: cpu, cuda, cuda:N or auto."""
    root: Path | None = None
    """Where runs, jobs.json, logs/ and the teacher registry go (None: experiments/NAME or experiments/NAME-scaleF)."""
    preset: str | None = None
    """Preset of every job instead of the paper's (grid default: small)."""
    targets: tuple[str, ...] | None = None
    """grid: target tasks."""
    methods: tuple[str, ...] | None = None
    """grid: methods (vid2act, dreamer, uniform, noguide, init, apv, isodream)."""
    teachers: tuple[str, ...] | None = None
    """grid: registered teachers (init starts from the first)."""
    steps: int | None = None
    """grid: env steps per run."""
    video_model: str | None = None
    """grid with apv: the action-free model its runs fine-tune (registered, or the name to pretrain it under)."""
    video_data: tuple[str, ...] | None = None
    """grid with apv: dataset files to pretrain the action-free model on first, as a job the APV runs need."""
    video_steps: int | None = None
    """grid: gradient steps of that pretraining (None: the preset's pretrain.steps)."""
    overrides: tuple[str, ...] = ()
    """`--set key=value` added to every job."""


@dataclass(frozen=True)
class LaunchResult:
    """What a launch (or a dry run) did, by job label."""

    root: Path
    """The experiment directory (absolute)."""
    submitted: tuple[str, ...] = ()
    """Jobs submitted (slurm) or run (local)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Job -> done or running (left alone)."""
    failed: dict[str, str] = field(default_factory=dict)
    """local: job -> last error line."""
    blocked: tuple[str, ...] = ()
    """local: jobs not started because a job they need failed."""
    commands: tuple[str, ...] = ()
    """dry run: one runnable shell line per job a launch would submit."""
    states: tuple[str, ...] = ()
    """dry run: one state line per job, then a summary line."""


def launch(request: LaunchRequest, reporter: Reporter | None = None) -> LaunchResult:
    """Launch an experiment grid through submitit; calling again submits only what is neither done nor running."""
    from vid2act_cli.compose.launch import LaunchOptions, dry_run, launch as submit
    from vid2act_cli.compose.validation import require_count
    from vid2act_cli.experiments import GridSpec, default_root, expand_experiment

    if request.preset is not None:
        from vid2act_core.config import preset as load_preset

        load_preset(request.preset)
    require_count(request.seeds, "--seeds")
    require_count(request.jobs, "--jobs")
    require_count(request.steps, "--steps")
    grid = None
    grid_fields = (request.targets, request.methods, request.teachers, request.steps, request.video_model,
                   request.video_data, request.video_steps)
    if request.name == "grid" or any(value is not None for value in grid_fields):
        from vid2act_teachers.registry import vid2act_home

        from vid2act_cli.experiments.video_model import check_video_model

        grid = GridSpec(request.targets or (), request.methods or (), request.steps if request.steps is not None else 0,
                        request.teachers or (), vid2act_home(), video_model=request.video_model,
                        video_data=request.video_data or (), video_steps=request.video_steps)
        if grid.video_model:
            check_video_model(vid2act_home(), grid.video_model, [Path(path) for path in grid.video_data])
    options = LaunchOptions(launcher=request.launcher, jobs=request.jobs, partition=request.partition,
                            gpus_per_run=request.gpus_per_run, cpus_per_run=request.cpus_per_run, time=request.time,
                            slurm_parameters=request.slurm_options)
    job_list = expand_experiment(request.name, request.root, request.scale, request.seeds, request.device,
                                 request.preset, grid=grid, overrides=request.overrides)
    root = Path(request.root if request.root is not None else default_root(request.name, request.scale)).absolute()
    if request.dry_run:
        commands, states = dry_run(request.name, job_list, root, options)
        return LaunchResult(root=root, commands=tuple(commands), states=tuple(states))
    result = submit(request.name, job_list, root, options, plain_if_none(reporter))
    return LaunchResult(root=root, submitted=tuple(result.submitted), skipped=dict(result.skipped),
                        failed=dict(result.failed), blocked=tuple(result.blocked))


@dataclass(frozen=True)
class ExperimentStatusRequest:
    """What `vid2act experiment status DIR` takes."""

    directory: Path
    """An experiment directory (the launch's root, holding jobs.json)."""


@dataclass(frozen=True)
class JobState:
    """One job of an experiment and where it stands."""

    label: str
    """The job's label, e.g. transfer/walker_run/vid2act/0."""
    state: str
    """done, running, failed or missing."""
    job_id: str | None
    """The launcher's job id of its latest submission (None: never submitted)."""
    launcher: str | None
    """local or slurm (None: never submitted)."""
    detail: str
    """Why it failed, or what a running job is doing (may be empty)."""


@dataclass(frozen=True)
class ExperimentStatusResult:
    """The state of every job of an experiment, in the experiment's order."""

    experiment: str
    """The experiment's name, as launched."""
    jobs: tuple[JobState, ...]
    """Every job, in dependency order."""
    counts: dict[str, int]
    """State -> number of jobs, every state listed."""


def experiment_status(request: ExperimentStatusRequest) -> ExperimentStatusResult:
    """Read an experiment directory's jobs.json and report done / running / failed / missing per job."""
    from vid2act_cli.compose.launch import STATES, experiment_status as read_status

    experiment, statuses = read_status(request.directory)
    jobs = tuple(JobState(label=status.job.label, state=status.state,
                          job_id=status.record.job_id if status.record else None,
                          launcher=status.record.launcher if status.record else None, detail=status.detail)
                 for status in statuses)
    return ExperimentStatusResult(experiment=experiment, jobs=jobs,
                                  counts={state: sum(job.state == state for job in jobs) for state in STATES})


class StageFailedError(RuntimeError):
    """A stage of a pipeline (one of its jobs) failed; calling again resumes from what is done."""


@dataclass(frozen=True)
class DemoRequest:
    """What `vid2act demo` takes: collect, pretrain, transfer, evaluate and report, small."""

    out: Path = Path("runs/demo")
    """Demo folder (its own teacher registry in out/home)."""
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto."""


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
    from vid2act_cli.compose.demo import run_demo
    from vid2act_cli.experiments import JobFailedError

    try:
        page, rows, seconds = run_demo(request.out, request.device, plain_if_none(reporter))
    except JobFailedError as error:
        raise StageFailedError(str(error)) from error
    return DemoResult(page=Path(page), rows=tuple(rows), seconds=float(seconds))
