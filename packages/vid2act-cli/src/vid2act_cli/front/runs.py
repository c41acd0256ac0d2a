"""`api.train`, `api.evaluate`, `api.transfer`: a run from scratch or with teachers, and its evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vid2act_core.config import load_config
from vid2act_core.methods import Method, apply_switches, get_method, init_method, method_by_flag
from vid2act_core.transfer.distillation import DISTILL_FORMS
from vid2act_core.transfer.scorers import SCORERS

# Through the module, so that replacing compose.transfer.transfer_to_target (as tests do) reaches `transfer`.
import vid2act_cli.compose.transfer as compose_transfer
from vid2act_cli.compose.devices import explicit_preset, resolve_preset
from vid2act_cli.compose.evaluation import evaluate_run
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.runs import requested_keys
from vid2act_cli.compose.training import train_task
from vid2act_cli.compose.validation import require_count


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
    """vid2act (with the switches above), a baseline: apv (with init_from an action-free model) or isodream, or any
    other method of `vid2act_core.methods` (its switches are set as its flags would)."""
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


def _selected_methods(request: TransferRequest) -> list[Method]:
    """The methods whose config switches the request asks for: its dedicated flags, --init-from, then --method."""
    flags = (("--no-distill", request.no_distill), ("--uniform-weights", request.uniform_weights),
             ("--no-guidance", request.no_guidance))
    chosen = [method_by_flag(flag) for flag, given in flags if given]
    method = get_method(request.method)
    if method.source == "init-teacher" and not request.init_from:  # a baseline checks its own (compose.baselines)
        raise ValueError(f"--method {method.name}: needs --init-from TEACHER (the teacher its student starts from)")
    if request.init_from:
        chosen.append(init_method())
    return [*chosen, method]


def transfer(request: TransferRequest, reporter: Reporter | None = None) -> TransferResult:
    """Vid2Act transfer (task-selective distillation + action-replay guidance) or one of its baselines.

    Calling again on the same logdir resumes. `reporter` receives notes and progress (default: plain text).
    """
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
    for method in _selected_methods(request):
        apply_switches(config.transfer, method)
    settings = compose_transfer.TransferRequest(
        request.teachers, request.init_from, list(request.source_data), request.device, request.logdir, request.root,
        request.method,
        {"task": "--target", **requested_keys(explicit_preset(request.preset), request.config_file, overrides)})
    state, run_dir, summary = compose_transfer.transfer_to_target(config, settings, reporter)
    return TransferResult(run_dir=Path(run_dir), env_steps=int(state.env_steps), updates=int(state.updates),
                          final_mean_weight={str(k): float(v) for k, v in summary.get("final_mean_weight", {}).items()},
                          dominant_teacher=summary.get("dominant_teacher"))
