"""Train (or reuse, or resume) a state-based DMC expert with stable-baselines3 SAC.

`train_expert` is the one code path behind `vid2act experts train` and `vid2act teachers add`:

- a finished expert with at least the requested steps is reused (its weights are verified);
- otherwise training continues from `checkpoint/` when present (model, optimisers, entropy
  coefficient, replay buffer and step counter; random streams restart), else starts fresh;
- every `checkpoint_every` agent steps the checkpoint is rewritten atomically, so an
  interrupted run loses at most that much work when the same command is run again;
- at the end the deterministic actor is evaluated over `eval_episodes` episodes and written
  with its metadata (see `store.py`). Asking for more steps later continues the same run.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.runtime.fileio import atomic_path, atomic_write_text

from vid2act_teachers.experts.config import ALGORITHM, ExpertConfig, default_steps
from vid2act_teachers.experts.evaluate import evaluate_state_policy
from vid2act_teachers.experts.policy import actor_weights_from_sb3, build_actor
from vid2act_teachers.experts.store import (
    CHECKPOINT_DIR,
    ExpertError,
    ExpertMetadata,
    expert_dir,
    load_expert,
    read_metadata,
    write_expert,
)

MODEL_FILE = "model.zip"
REPLAY_FILE = "replay.pkl"
PROGRESS_FILE = "progress.json"
PROGRESS_EVERY = 1_000
"""Agent steps between progress reports."""
RECENT_EPISODES = 5
"""Training episodes averaged in a progress report (exploring, so below the evaluation return)."""

ProgressFn = Callable[[int, int, float | None], None]
"""on_progress(agent steps done, agent steps asked for, mean return of the last RECENT_EPISODES training episodes)."""


@dataclass(frozen=True)
class TrainResult:
    metadata: ExpertMetadata
    directory: Path
    reused: bool
    """True when a finished expert was found and nothing was trained."""
    resumed_from: int
    """Agent steps the training continued from (0 for a fresh start or a reused expert)."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries an expert's behaviour depends on."""
    versions = {"python": platform.python_version()}
    for package in ("stable-baselines3", "torch", "dm-control", "mujoco", "gymnasium", "numpy", "vid2act-teachers"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _new_model(env: Any, config: ExpertConfig, steps: int, seed: int) -> Any:
    from stable_baselines3 import SAC

    return SAC(
        "MlpPolicy",
        env,
        learning_rate=config.learning_rate,
        buffer_size=max(steps, config.learning_starts + 1),
        learning_starts=config.learning_starts,
        batch_size=config.batch_size,
        tau=config.tau,
        gamma=config.gamma,
        train_freq=config.train_freq,
        gradient_steps=config.gradient_steps,
        policy_kwargs={"net_arch": list(config.hidden_sizes)},
        device="cpu",
        seed=seed,
        verbose=0,
    )


def _load_checkpoint(checkpoint: Path, env: Any, config: ExpertConfig) -> tuple[Any, float]:
    """SB3 model + replay from `checkpoint`; ExpertError when it belongs to other settings."""
    from stable_baselines3 import SAC

    progress_path = checkpoint / PROGRESS_FILE
    try:
        progress = json.loads(progress_path.read_text())
        stored = ExpertConfig.from_dict(progress["config"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ExpertError(f"{progress_path}: unreadable checkpoint progress ({' '.join(str(error).split())}); use --force to restart") from None
    if stored != config:
        changed = sorted(key for key, value in config.to_dict().items() if stored.to_dict()[key] != value)
        raise ExpertError(f"{checkpoint}: checkpoint was trained with other settings ({', '.join(changed)}); use --force to restart")
    try:
        model = SAC.load(checkpoint / MODEL_FILE, env=env, device="cpu")
        model.load_replay_buffer(checkpoint / REPLAY_FILE)
    except Exception as error:  # SB3 raises anything from zipfile, pickle or torch on a damaged file
        raise ExpertError(f"{checkpoint}: unreadable checkpoint ({type(error).__name__}: {' '.join(str(error).split())[:160]}); use --force to restart") from None
    return model, float(progress.get("train_seconds", 0.0))


def _save_checkpoint(checkpoint: Path, model: Any, config: ExpertConfig, train_seconds: float) -> None:
    """Replay first, model second, progress last; each file is replaced atomically."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    with atomic_path(checkpoint / REPLAY_FILE) as temporary, open(temporary, "wb") as handle:
        model.save_replay_buffer(handle)
    with atomic_path(checkpoint / MODEL_FILE) as temporary, open(temporary, "wb") as handle:
        model.save(handle)
    progress = {"agent_steps": int(model.num_timesteps), "train_seconds": train_seconds, "config": config.to_dict()}
    atomic_write_text(checkpoint / PROGRESS_FILE, json.dumps(progress, indent=2) + "\n")


def _progress_callback(total: int, on_progress: ProgressFn | None) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class _Progress(BaseCallback):
        def _on_step(self) -> bool:
            if on_progress is not None and self.num_timesteps % PROGRESS_EVERY == 0:
                returns = [info["r"] for info in list(self.model.ep_info_buffer)[-RECENT_EPISODES:]]
                on_progress(self.num_timesteps, total, float(np.mean(returns)) if returns else None)
            return True

    return _Progress()


def train_expert(
    task: str,
    home: Path | str,
    steps: int | None = None,
    seed: int = 0,
    config: ExpertConfig | None = None,
    force: bool = False,
    on_progress: ProgressFn | None = None,
) -> TrainResult:
    """The expert for `task` under `<home>/experts/`: reused, resumed or trained (module docstring).

    steps: agent steps (default: `default_steps(task)`). force: discard any cached expert and
    checkpoint and train from scratch. Raises ExpertError (one line naming the file) for a
    corrupt cached expert or checkpoint, KeyError for an unknown task.
    """
    from vid2act_envs.dmc_state import DMCStateEnv

    config = config or ExpertConfig()
    steps = default_steps(task) if steps is None else int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    directory = expert_dir(home, task, seed)
    checkpoint = directory / CHECKPOINT_DIR
    if force and directory.exists():
        shutil.rmtree(directory)
    existing = read_metadata(directory)
    if existing is not None and existing.agent_steps >= steps:
        _, metadata = load_expert(directory)
        return TrainResult(metadata=metadata, directory=directory, reused=True, resumed_from=0)

    torch.set_num_threads(config.threads)
    env = DMCStateEnv(task, seed=seed, action_repeat=config.action_repeat)
    try:
        if (checkpoint / PROGRESS_FILE).exists():
            model, train_seconds = _load_checkpoint(checkpoint, env, config)
        else:
            model, train_seconds = _new_model(env, config, steps, seed), 0.0
        resumed_from = int(model.num_timesteps)
        callback = _progress_callback(steps, on_progress)
        while model.num_timesteps < steps:
            chunk = min(config.checkpoint_every, steps - model.num_timesteps)
            started = time.perf_counter()
            model.learn(chunk, reset_num_timesteps=False, callback=callback, progress_bar=False)
            train_seconds += time.perf_counter() - started
            _save_checkpoint(checkpoint, model, config, train_seconds)
        weights = actor_weights_from_sb3(model)
        agent_steps = int(model.num_timesteps)
        state_dim = int(env.observation_space.shape[0])
        action_dim = int(env.action_space.shape[0])
    finally:
        env.close()

    actor = build_actor(weights, config.hidden_sizes)
    with torch.no_grad():
        returns = evaluate_state_policy(
            task,
            lambda state: actor(torch.as_tensor(state, dtype=torch.float32)[None])[0].numpy(),
            episodes=config.eval_episodes,
            seed=seed,
            action_repeat=config.action_repeat,
        )
    metadata = ExpertMetadata(
        task=task,
        seed=seed,
        algorithm=ALGORITHM,
        agent_steps=agent_steps,
        env_steps=agent_steps * config.action_repeat,
        state_dim=state_dim,
        action_dim=action_dim,
        config=config.to_dict(),
        eval_mean=float(np.mean(returns)),
        eval_std=float(np.std(returns)),
        eval_returns=[float(value) for value in returns],
        train_seconds=round(train_seconds, 1),
        versions=library_versions(),
        sha256="",
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    metadata = write_expert(directory, weights, metadata)
    return TrainResult(metadata=metadata, directory=directory, reused=False, resumed_from=resumed_from)


def checkpoint_progress(directory: Path) -> dict[str, Any] | None:
    """progress.json of an expert's training checkpoint (agent_steps, train_seconds, config), None if absent."""
    path = Path(directory) / CHECKPOINT_DIR / PROGRESS_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExpertError(f"{path}: unreadable checkpoint progress ({' '.join(str(error).split())})") from None


def checkpoint_actor(directory: Path) -> tuple[Any, dict[str, Any]]:
    """The deterministic actor of an unfinished training's latest checkpoint, and its progress.

    Loads SB3's model.zip (the policy weights only; our own file, written by `_save_checkpoint`).
    """
    from stable_baselines3 import SAC

    progress = checkpoint_progress(directory)
    if progress is None:
        raise ExpertError(f"{Path(directory) / CHECKPOINT_DIR}: no training checkpoint here")
    config = ExpertConfig.from_dict(progress["config"])
    model_path = Path(directory) / CHECKPOINT_DIR / MODEL_FILE
    try:
        model = SAC.load(model_path, device="cpu")
    except Exception as error:  # zipfile, pickle or torch errors of a damaged file
        raise ExpertError(f"{model_path}: unreadable checkpoint ({type(error).__name__})") from None
    return build_actor(actor_weights_from_sb3(model), config.hidden_sizes), progress
