"""`vid2act evaluate`: load a run's latest checkpoint and measure return and success."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.runtime.checkpoint import load_checkpoint
from vid2act_core.runtime.fileio import atomic_write_text
from vid2act_core.loop import evaluate, evaluation_seed, seed_everything
from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512
from vid2act_core.transfer.agent import SWITCH_RATE_KEY

from vid2act_envs.parallel import check_workers, run_in_workers
from vid2act_teachers.registry import TeacherRegistry

from vid2act_cli.compose.devices import configure_threads, resolve_device
from vid2act_cli.compose.logger import encode_gif
from vid2act_cli.compose.runs import load_run_config
from vid2act_cli.compose.training import make_task_env
from vid2act_cli.compose.transfer import (
    EVALUATE_CONSEQUENCE, PINS_KEY, build_agent_factory, check_teacher_pins, plan_of_run, teacher_pins,
)


def load_run_agent(run_dir: Path, device: torch.device):
    """Rebuild a run's agent (DreamerV2 or transfer student) and restore its latest checkpoint."""
    config, info = load_run_config(run_dir)
    checkpoint_path = run_dir / "checkpoints" / "latest.pt"
    if not checkpoint_path.exists():
        raise ValueError(f"{run_dir}: no checkpoint yet (checkpoints/latest.pt); train longer before evaluating")
    env = make_task_env(config, seed=config.seed, render=False)
    action_dim = env.action_dim
    env.close()
    plan = plan_of_run(info)
    if plan.teacher_names:  # the student acts with its teachers: they must be the ones it was trained with
        current = teacher_pins(plan.teacher_names, TeacherRegistry())
        check_teacher_pins(run_dir, info.get(PINS_KEY), current, EVALUATE_CONSEQUENCE)
    agent = build_agent_factory(plan)(config, action_dim, device)
    payload = load_checkpoint(checkpoint_path, device)
    try:
        agent.restore(payload["agent"])
    except (RuntimeError, KeyError) as error:
        # A run directory that holds no teacher pins cannot tell a replaced teacher by its hash; a
        # replaced teacher of another size shows up here, as a checkpoint that does not fit the agent.
        detail = str(error).strip().splitlines()[-1].strip() if str(error).strip() else type(error).__name__
        raise ValueError(
            f"{checkpoint_path}: does not fit the agent rebuilt from {run_dir / 'config.yaml'}"
            + (f" and teachers {', '.join(plan.teacher_names)} (one may have been replaced since the run started)"
               if plan.teacher_names else "")
            + f": {detail}"
        ) from error
    agent.eval()
    return agent, config, info, payload


def evaluate_run(
    run_dir: str | Path, episodes: int, mode: str = "eval", video: bool = False, device: str | torch.device = "cpu",
    seed: int | None = None, workers: int = 1,
) -> dict[str, Any]:
    """Evaluate `episodes` episodes; write `evaluation_<mode>.json` (and a GIF with `video`) into the run directory.

    workers > 1: episodes run in that many processes (one agent, one environment and one torch
    thread each); episode i keeps reset seed `seed + i`, so deterministic evaluation gives the
    same episodes as one process.

    seed: reset seed of the first episode (episode i uses seed + i). Default: derived from the run's
    training seed (`evaluation_seed(config.seed, 0, "command")`), so a run is always evaluated on the
    same episodes and two training seeds on different ones.
    """
    run_dir = Path(run_dir)
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    device = resolve_device(device)
    agent, config, info, payload = load_run_agent(run_dir, device)
    configure_threads(config)
    if seed is None:
        seed = evaluation_seed(config.seed, 0, "command")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    check_workers(workers)
    started = time.time()
    if workers == 1:
        seed_everything(seed)
        env = make_task_env(config, seed=seed)
        agent.acting_metrics("eval")
        try:
            stats, frames = evaluate(agent, env, episodes, mode, seed=seed, record_first=video)
        finally:
            env.close()
        selected = agent.acting_metrics("eval")
        has_success = env.spec.has_success
    else:
        stats, frames, selected, has_success = _evaluate_in_workers(run_dir, str(device), mode, seed, episodes, video, workers)
    result: dict[str, Any] = {
        "run": str(run_dir),
        "task": config.env.task,
        "method": info.get("method"),
        "mode": "deterministic" if mode == "eval" else "stochastic",
        "episodes": episodes,
        "seed": seed,
        "env_steps_trained": int(payload["loop"]["env_steps"]),
        "return_mean": stats["return"],
        "return_std": stats["return_std"],
        "length_mean": stats["length"],
        "seconds": round(time.time() - started, 1),
    }
    if has_success:
        result["success_rate"] = stats["success"]
    if selected:
        result["selected_share"] = {key.removeprefix("selected/"): share for key, share in selected.items()
                                    if key.startswith("selected/")}
        if SWITCH_RATE_KEY in selected:
            result[SWITCH_RATE_KEY] = selected[SWITCH_RATE_KEY]
    if frames is not None:
        video_path = run_dir / "videos" / f"evaluate_{result['mode']}_{result['env_steps_trained']:08d}.gif"
        video_path.parent.mkdir(exist_ok=True)
        video_path.write_bytes(encode_gif(np.asarray(frames)))
        result["video"] = str(video_path)
    path = run_dir / f"evaluation_{result['mode']}.json"
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    result["file"] = str(path)
    return result


def _evaluate_in_workers(
    run_dir: Path, device: str, mode: str, seed: int, episodes: int, video: bool, workers: int
) -> tuple[dict[str, float], np.ndarray | None, dict[str, float], bool]:
    """`evaluate` over episodes seed, seed+1, ... in `workers` processes; the same statistics, frames and selection shares."""
    jobs = [(seed + index, mode, video and index == 0) for index in range(episodes)]
    outcomes = list(run_in_workers(partial(_worker_setup, run_dir, device), _worker_episode, jobs, workers))
    returns = [outcome["stats"]["return"] for outcome in outcomes]
    lengths = [outcome["stats"]["length"] for outcome in outcomes]
    stats = {
        "return": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "success": float(np.mean([outcome["stats"]["success"] for outcome in outcomes])),
        "length": float(np.mean(lengths)),
    }
    # Shares of acting steps: weight each episode's shares by its length (one selection per step).
    selected: dict[str, float] = {}
    for outcome, length in zip(outcomes, lengths):
        for key, share in outcome["selected"].items():
            selected[key] = selected.get(key, 0.0) + share * length
    total = sum(length for outcome, length in zip(outcomes, lengths) if outcome["selected"])
    selected = {key: value / total for key, value in selected.items()} if total else {}
    return stats, outcomes[0]["frames"], selected, outcomes[0]["has_success"]


def _worker_setup(run_dir: Path, device: str) -> tuple[Any, Any]:
    """In a worker process: the run's agent (one torch thread) and its evaluation environment."""
    torch.set_num_threads(1)
    enable_mkl_avx512()  # a spawned process: the entry point's call did not reach it
    agent, config, _, _ = load_run_agent(run_dir, torch.device(device))
    return agent, make_task_env(config, seed=config.seed)


def _worker_episode(context: tuple[Any, Any], job: tuple[int, str, bool]) -> dict[str, Any]:
    """In a worker process: one evaluation episode from reset seed `seed`."""
    agent, env = context
    seed, mode, record = job
    seed_everything(seed)
    agent.acting_metrics("eval")
    stats, frames = evaluate(agent, env, 1, mode, seed=seed, record_first=record)
    return {"stats": stats, "frames": frames, "selected": agent.acting_metrics("eval"), "has_success": env.spec.has_success}
