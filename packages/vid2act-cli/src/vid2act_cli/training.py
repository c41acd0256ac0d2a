"""Online training runs (`vid2act train`, and the transfer student through `agent_factory`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.config import Config
from vid2act_core.loop import LoopState, OnlineTrainer, seed_everything

from vid2act_cli.logger import RunLogger
from vid2act_cli.runs import (
    DONE_MARKER, config_differences, configure_threads, load_run_config, make_progress_callback, mark_done,
    save_run_config,
)

AgentFactory = Callable[[Config, int, torch.device], DreamerAgent]

RESUMABLE_CHANGES = ("train.steps", "train.threads")
"""Config keys a resumed run takes from the new command instead of its saved config."""


def make_task_env(config: Config, seed: int, render: bool = True):
    """The environment of `config.env`, resolved through every registered domain (plugins too)."""
    from vid2act_teachers.plugins import domain_registry

    registry = domain_registry()
    camera = config.env.camera
    if camera is not None and str(camera).isdigit():
        camera = int(camera)
    return registry.make_env(
        config.env.task, seed=seed, image_size=config.env.image_size, render=render,
        action_repeat=config.env.action_repeat, episode_steps=config.env.episode_steps, camera=camera,
    )


def run_online(
    config: Config,
    run_dir: Path,
    device: torch.device,
    method: str = "dreamer",
    agent_factory: AgentFactory | None = None,
    show_progress: bool = True,
    run_info: dict[str, Any] | None = None,
) -> tuple[LoopState, DreamerAgent]:
    """Train online in `run_dir`, resuming whatever is there. Returns the final counters and agent."""
    from vid2act_envs.replay import Replay

    run_dir = Path(run_dir)
    if (run_dir / "config.yaml").exists():
        saved, _ = load_run_config(run_dir)
        differences = config_differences(saved, config, ignore=RESUMABLE_CHANGES)
        if differences:
            print(f"note: resuming {run_dir} with its saved config; ignoring changed keys: {', '.join(differences)}", file=sys.stderr)
        # The budget and the machine-level knobs may change between sessions; nothing else does.
        saved.train.steps = config.train.steps
        saved.train.threads = config.train.threads
        config = saved
        (run_dir / DONE_MARKER).unlink(missing_ok=True)
    info = {"task": config.env.task, "method": method, **(run_info or {})}
    save_run_config(run_dir, config, info)
    configure_threads(config)
    seed_everything(config.seed)

    env = make_task_env(config, seed=config.seed)
    eval_env = make_task_env(config, seed=config.seed + 1_000_000)
    factory = agent_factory or (lambda cfg, action_dim, dev: DreamerAgent(cfg, action_dim, dev))
    agent = factory(config, env.action_dim, device)
    replay = Replay(run_dir / "episodes", capacity_steps=config.train.replay_capacity)
    logger = RunLogger(run_dir)
    progress, callback = (None, None)
    if show_progress:
        progress, callback = make_progress_callback(config.train.steps, f"{method} {config.env.task}")
    trainer = OnlineTrainer(
        agent, config, env, eval_env, replay, logger, run_dir, env.spec.action_repeat,
        has_success=env.spec.has_success, progress=callback
    )
    resumed = trainer.try_resume()
    if resumed:
        print(f"resuming {run_dir} at {trainer.state.env_steps} env steps, {trainer.state.updates} updates, "
              f"{replay.num_episodes} episodes in the replay", file=sys.stderr)
    try:
        if progress is not None:
            with progress:
                state = trainer.run()
        else:
            state = trainer.run()
    finally:
        logger.close()
        for closable in (env, eval_env):
            close = getattr(closable, "close", None)
            if close is not None:
                close()
    mark_done(run_dir, state)
    return state, agent
