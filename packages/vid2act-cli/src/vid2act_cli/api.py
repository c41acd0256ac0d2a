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

from dataclasses import dataclass
from pathlib import Path

# Standard library only, so importing it here keeps the type hints resolvable at no start-up cost.
from vid2act_cli.compose.reporter import Reporter, plain_if_none

__all__ = ["EvaluateRequest", "EvaluateResult", "TrainRequest", "TrainResult", "evaluate", "train"]


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
