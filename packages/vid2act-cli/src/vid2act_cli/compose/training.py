"""Online training runs: `vid2act train`, the transfer student and the expert agents of `teachers add`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.config import Config
from vid2act_core.loop import LoopState, OnlineTrainer, seed_everything
from vid2act_envs.base import TaskSpec
from vid2act_envs.replay import Replay
# Through the module, so that a replaced plugins.domain_registry (as tests install) is the one resolved.
from vid2act_teachers import plugins

from vid2act_cli.compose.devices import configure_threads, resolve_device
from vid2act_cli.compose.logger import RunLogger
from vid2act_cli.compose.reporter import ProgressBar, Reporter, plain_if_none, summary_parts
from vid2act_cli.compose.runs import (
    DONE_MARKER, SavedRun, check_resume, config_differences, mark_done, read_saved_run, resolve_run_dir,
    save_run_config,
)
from vid2act_cli.compose.validation import check_config_counts

AgentFactory = Callable[[Config, int, torch.device], DreamerAgent]

RESUMABLE_CHANGES = ("train.steps", "train.threads")
"""Config keys a resumed run takes from the new command instead of its saved config."""


def make_task_env(config: Config, seed: int, render: bool = True):
    """The environment of `config.env`, resolved through every registered domain (plugins too)."""
    registry = plugins.domain_registry()
    camera = config.env.camera
    if camera is not None and str(camera).isdigit():
        camera = int(camera)
    return registry.make_env(
        config.env.task, seed=seed, image_size=config.env.image_size, render=render,
        action_repeat=config.env.action_repeat, episode_steps=config.env.episode_steps, camera=camera,
    )


def task_spec(config: Config) -> Any:
    """The TaskSpec of `config.env.task` from every registered domain (plugins too)."""
    return plugins.domain_registry().resolve(config.env.task)


# Settings a task decides for a run, where the config meets the task's TaskSpec: a task whose domain
# declares that its episodes can terminate (`TaskSpec.can_terminate`) needs the world model's
# continuation head, or imagined returns bootstrap past the end of the task.
def apply_task_settings(config: Config, spec: TaskSpec) -> list[str]:
    """Adjust `config` in place for `spec`; return one line per change or warning, for the run's output.

    With `world_model.auto_cont_head` (the default) a task that can terminate gets
    `world_model.use_cont_head = True`; with it off, a terminating task without the head is
    reported, since its continuation targets (`is_terminal`) would go unused.
    """
    notes: list[str] = []
    world_model = config.world_model
    if not spec.can_terminate or world_model.use_cont_head:
        return notes
    if world_model.auto_cont_head:
        world_model.use_cont_head = True
        notes.append(
            f"world_model.use_cont_head: on, because {spec.name} can terminate (its domain declares "
            "TaskSpec.can_terminate); --set world_model.auto_cont_head=false keeps it off"
        )
    else:
        notes.append(
            f"warning: {spec.name} can terminate but world_model.use_cont_head is off "
            "(world_model.auto_cont_head=false): imagined returns continue past terminal states"
        )
    return notes


LOOP_BAR_FORMATS: tuple[tuple[str, str], ...] = (
    ("charts/episode_return", "return {:.1f}"),
    ("eval/return_deterministic", "eval {:.1f}"),
    ("charts/updates_per_second", "{:.2f} upd/s"),
)


def loop_progress(bar: ProgressBar, total_steps: int) -> Callable[[LoopState, dict[str, float]], None]:
    """The training loop's progress callback: env steps on the bar, latest return, eval and speed beside it."""

    def callback(state: LoopState, summary: dict[str, float]) -> None:
        parts = [*summary_parts(summary, LOOP_BAR_FORMATS), f"{state.updates} updates"]
        bar.update(min(state.env_steps, total_steps), " | ".join(parts))

    return callback


def run_online(
    config: Config,
    run_dir: Path,
    device: torch.device,
    method: str = "dreamer",
    agent_factory: AgentFactory | None = None,
    reporter: Reporter | None = None,
    run_info: dict[str, Any] | None = None,
    explicit: dict[str, str] | None = None,
    saved_run: SavedRun | None = None,
    spec: TaskSpec | None = None,
) -> tuple[LoopState, DreamerAgent]:
    """Train online in `run_dir`, resuming whatever is there. Returns the final counters and agent.

    explicit: settings the command gave explicitly -> the option (`runs.requested_keys`); resuming
    a run they contradict is refused (`runs.check_resume`), as is one of another task or method.
    saved_run: the run's `config.yaml` where the caller has read it already (read here otherwise);
    spec: the task's spec where the caller has resolved it already.
    """
    reporter = plain_if_none(reporter)
    run_dir = Path(run_dir)
    for note in apply_task_settings(config, spec or task_spec(config)):
        reporter.say(note)
    info = {"task": config.env.task, "method": method, **(run_info or {})}
    if saved_run is None:
        saved_run = read_saved_run(run_dir)
    check_resume(saved_run, config, info, dict(explicit or {}), RESUMABLE_CHANGES)
    if saved_run is not None:
        saved = saved_run.config
        differences = config_differences(saved, config, ignore=RESUMABLE_CHANGES)
        if differences:
            reporter.say(f"note: resuming {run_dir} with its saved config; ignoring changed keys: {', '.join(differences)}")
        # The budget and the machine-level knobs may change between sessions; nothing else does.
        saved.train.steps = config.train.steps
        saved.train.threads = config.train.threads
        config = saved
        (run_dir / DONE_MARKER).unlink(missing_ok=True)
    save_run_config(run_dir, config, info)
    configure_threads(config, reporter)
    seed_everything(config.seed)

    env = make_task_env(config, seed=config.seed)
    eval_env = make_task_env(config, seed=config.seed + 1_000_000)
    factory = agent_factory or (lambda cfg, action_dim, dev: DreamerAgent(cfg, action_dim, dev))
    agent = factory(config, env.action_dim, device)
    replay = Replay(run_dir / "episodes", capacity_steps=config.train.replay_capacity)
    logger = RunLogger(run_dir)
    try:
        trainer = OnlineTrainer(
            agent, config, env, eval_env, replay, logger, run_dir, env.spec.action_repeat, has_success=env.spec.has_success
        )
        if trainer.try_resume():
            reporter.say(f"resuming {run_dir} at {trainer.state.env_steps} env steps, {trainer.state.updates} updates, "
                         f"{replay.num_episodes} episodes in the replay")
            if trainer.quarantined:
                reporter.say(f"note: {len(trainer.quarantined)} episodes stored after the checkpoint were moved to "
                             f"{trainer.quarantined[0].parent} (the resumed run collects them again)")
        with reporter.progress(f"{method} {config.env.task}", config.train.steps) as bar:
            trainer.progress = loop_progress(bar, config.train.steps)
            state = trainer.run()
    finally:
        logger.close()
        for closable in (env, eval_env):
            close = getattr(closable, "close", None)
            if close is not None:
                close()
    mark_done(run_dir, state)
    return state, agent


def train_task(
    config: Config, device: str | torch.device, logdir: Path | None, root: Path, reporter: Reporter | None = None,
    explicit: dict[str, str] | None = None,
) -> tuple[LoopState, Path]:
    """`vid2act train`: DreamerV2 from scratch on `config.env.task` in a new or resumed run directory.

    explicit: what the command line gave explicitly (`runs.requested_keys`), which a resumed run must match."""
    check_config_counts(config)
    reporter = plain_if_none(reporter)
    torch_device = resolve_device(device, reporter)
    spec = task_spec(config)
    config.env.task = spec.name
    run_dir, resumed = resolve_run_dir(logdir, root, config.env.task, "dreamer", config.seed)
    saved_run = read_saved_run(run_dir)
    check_resume(saved_run, config, {"task": config.env.task, "method": "dreamer"}, dict(explicit or {}), RESUMABLE_CHANGES)
    reporter.echo(f"{'resuming' if resumed else 'new run'}: {run_dir} (device {torch_device})")
    state, _ = run_online(config, run_dir, torch_device, "dreamer", reporter=reporter, explicit=explicit,
                          saved_run=saved_run, spec=spec)
    return state, run_dir
