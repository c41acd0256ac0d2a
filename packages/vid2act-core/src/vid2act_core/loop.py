"""The online training loop (Algorithm 1's outer loop), written against small protocols.

It knows nothing of simulators, storage formats or TensorBoard: an environment is anything with
`reset(seed)` / `step(action)` returning observation dicts (vid2act_envs.base), the replay anything
with `add_step` / `sample` / `num_steps`, the logger anything with `scalars` / `video`.

Resume rule (docs/testing.md, "Resume"): a checkpoint is taken at an episode boundary, or at the end
of a run, where the unfinished episode is saved with it and counted as a finished (truncated) one.
On resume, episodes the replay stored after the checkpoint (a killed session's) are moved aside
(`ReplayLike.quarantine_from`), so the episode counter, the environment reset seeds (derived from
it) and the replay agree, and a resumed run repeats exactly what the interrupted one would have done.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from vid2act_core.agent import ActMode, DreamerAgent
from vid2act_core.runtime.checkpoint import load_checkpoint, save_atomic
from vid2act_core.runtime.system import system_info
from vid2act_core.config import Config
from vid2act_core.trainer_core import (
    MetricsAccumulator,
    capture_rng_state,
    open_loop_strip,
    restore_rng_state,
    sample_batch,
)

Observation = dict[str, Any]


class EnvLike(Protocol):
    action_dim: int

    def reset(self, seed: int | None = None) -> Observation: ...

    def step(self, action: np.ndarray) -> Observation: ...


class ReplayLike(Protocol):
    @property
    def num_steps(self) -> int: ...

    def add_step(self, transition: dict[str, Any]) -> None: ...

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]: ...

    def save_partial(self) -> None: ...

    def quarantine_from(self, first_sequence: int) -> list[Path]: ...


class LoggerLike(Protocol):
    def scalars(self, values: dict[str, float], step: int) -> None: ...

    def video(self, name: str, frames: np.ndarray, step: int) -> None: ...


@dataclass
class LoopState:
    """Counters that a checkpoint restores."""

    env_steps: int = 0
    """Simulator steps (action repeat included): the x axis of every curve."""
    agent_steps: int = 0
    episodes: int = 0
    updates: int = 0
    next_log: int = 0
    next_eval: int = 0
    next_checkpoint: int = 0
    pretrained: bool = False
    """Whether the burst of `pretrain_updates` after the prefill has run."""


ProgressFn = Callable[[LoopState, dict[str, float]], None]

EVALUATION_STREAMS = {"training": 1, "command": 2}
"""Evaluation seed streams: the loop's periodic evaluations and `vid2act evaluate` (its default seed)."""


def evaluation_seed(run_seed: int, index: int, stream: str = "training") -> int:
    """Reset seed of the first episode of evaluation `index` of the run seeded `run_seed` (episode i uses it + i).

    A hash of (run seed, stream, index), below 2**31 so that `+ i` stays a valid simulator seed: two
    seeds of a grid never evaluate on the same episodes, and the same run seed always does.
    """
    if stream not in EVALUATION_STREAMS:
        raise ValueError(f"evaluation seed stream {stream!r} is not one of {', '.join(EVALUATION_STREAMS)}")
    entropy = [run_seed % 2**32, EVALUATION_STREAMS[stream], index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0]) % 2**31


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _obs_batch(obs: Observation, device: torch.device) -> dict[str, torch.Tensor]:
    return {
        "image": torch.from_numpy(np.ascontiguousarray(obs["image"]))[None].to(device),
        "is_first": torch.tensor([bool(obs["is_first"])], device=device),
    }


def run_episode(
    agent: DreamerAgent, env: EnvLike, mode: ActMode, seed: int | None, record: bool = False
) -> tuple[float, bool, int, np.ndarray | None]:
    """One evaluation episode: (return, success at any step, length, frames if recorded)."""
    obs = env.reset(seed=seed)
    policy_state = None
    total_reward, success, length = 0.0, False, 0
    frames = [obs["image"]] if record else None
    while not obs["is_last"]:
        action, policy_state = agent.policy(_obs_batch(obs, agent.device), policy_state, mode)
        obs = env.step(action[0].cpu().numpy())
        total_reward += float(obs["reward"])
        success = success or bool(obs.get("success", False))
        length += 1
        if frames is not None:
            frames.append(obs["image"])
    return total_reward, success, length, (np.stack(frames) if frames is not None else None)


def evaluate(
    agent: DreamerAgent, env: EnvLike, episodes: int, mode: ActMode, seed: int = 0, record_first: bool = False
) -> tuple[dict[str, float], np.ndarray | None]:
    """Returns mean/std return, success rate and mean length over `episodes`, plus the first episode's frames."""
    returns, successes, lengths = [], [], []
    video = None
    for index in range(episodes):
        episode_return, success, length, frames = run_episode(agent, env, mode, seed + index, record_first and index == 0)
        returns.append(episode_return)
        successes.append(success)
        lengths.append(length)
        video = frames if frames is not None else video
    stats = {
        "return": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "success": float(np.mean(successes)),
        "length": float(np.mean(lengths)),
    }
    return stats, video


def open_loop_video(agent: DreamerAgent, replay: ReplayLike, rng: np.random.Generator, length: int, context: int = 5) -> np.ndarray:
    """Truth | prediction | difference, side by side, for 4 replay sequences one above the other: (T, 4H, 3W, 3) uint8."""
    batch = sample_batch(replay, 4, length, rng, agent.device)
    return open_loop_strip(agent.world_model, batch, context, sequences=4, stack="rows")


class OnlineTrainer:
    """Algorithm 1's outer loop: act, store, update every `train_every` steps, evaluate, checkpoint."""

    def __init__(
        self,
        agent: DreamerAgent,
        config: Config,
        env: EnvLike,
        eval_env: EnvLike,
        replay: ReplayLike,
        logger: LoggerLike,
        run_dir: str | Path,
        action_repeat: int,
        has_success: bool = False,
        progress: ProgressFn | None = None,
    ) -> None:
        self.agent = agent
        self.config = config
        self.env = env
        self.eval_env = eval_env
        self.replay = replay
        self.logger = logger
        self.run_dir = Path(run_dir)
        self.action_repeat = action_repeat
        self.has_success = has_success
        self.progress = progress
        self.state = LoopState()
        self.rng = np.random.default_rng(config.seed)
        self.checkpoint_path = self.run_dir / "checkpoints" / "latest.pt"
        self.quarantined: list[Path] = []
        """Replay files moved aside by the last `try_resume` (episodes newer than the checkpoint)."""

    # ----- checkpoints -------------------------------------------------------------------------
    def save(self, episode_in_progress: bool = False) -> None:
        """Checkpoint agent, counters and RNGs; the replay's unfinished episode is saved first.

        episode_in_progress: the run stops mid-episode (its end). That episode is over for this run:
        the replay keeps it as a truncated episode and the episode counter includes it, so a resumed
        run starts the next episode with a fresh seed.
        """
        if episode_in_progress:
            self.state.episodes += 1
        # The partial episode goes to disk before the checkpoint that counts it: a kill in between
        # leaves an episode newer than the (older) checkpoint, which resuming quarantines.
        self.replay.save_partial()
        payload = {
            "agent": self.agent.checkpoint(),
            "loop": dataclasses.asdict(self.state),
            "config": self.config.to_dict(),
            "system": system_info(),
        }
        # Stored as numpy_rng, torch_rng, python_rng (and cuda_rng on a CUDA device).
        rng_state = capture_rng_state(self.rng, self.agent.device, python=True)
        payload.update({f"{key}_rng": value for key, value in rng_state.items()})
        save_atomic(payload, self.checkpoint_path)

    def try_resume(self) -> bool:
        """Restore agent, counters and RNGs from the run directory's checkpoint, if there is one.

        Episodes the replay holds beyond the checkpoint's episode counter are moved aside; their
        files are listed in `self.quarantined`.
        """
        if not self.checkpoint_path.exists():
            return False
        payload = load_checkpoint(self.checkpoint_path, self.agent.device)
        self.agent.restore(payload["agent"])
        self.state = LoopState(**payload["loop"])
        rng_state = {key: payload[f"{key}_rng"] for key in ("numpy", "torch", "python", "cuda") if f"{key}_rng" in payload}
        restore_rng_state(self.rng, rng_state, self.agent.device)
        self.quarantined = self.replay.quarantine_from(self.state.episodes)
        return True

    # ----- pieces ------------------------------------------------------------------------------
    def _update(self, metrics: MetricsAccumulator) -> None:
        train = self.config.train
        batch = sample_batch(self.replay, train.batch_size, train.batch_length, self.rng, self.agent.device)
        metrics.add(self.agent.train_step(batch))
        self.state.updates += 1

    def _can_train(self) -> bool:
        train = self.config.train
        return self.state.env_steps >= train.prefill and self.replay.num_steps >= train.batch_length

    def _evaluate(self) -> dict[str, float]:
        train = self.config.train
        values: dict[str, float] = {}
        record = train.video_every == 0 or self.state.env_steps % max(train.video_every, 1) < train.eval_every
        for mode, label in (("eval", "deterministic"), ("stochastic", "stochastic")):
            self.agent.acting_metrics("eval")  # only this evaluation's selections are counted below
            stats, frames = evaluate(
                self.agent, self.eval_env, train.eval_episodes, mode,
                seed=evaluation_seed(self.config.seed, self.state.episodes), record_first=record and mode == "eval",
            )
            for key, value in stats.items():
                if key != "success" or self.has_success:
                    values[f"eval/{key}_{label}"] = value
            for key, value in self.agent.acting_metrics("eval").items():
                values[f"eval/{key}_{label}"] = value
            if frames is not None:
                self.logger.video("eval/policy", frames, self.state.env_steps)
        if self.replay.num_steps >= train.batch_length:
            video = open_loop_video(self.agent, self.replay, self.rng, train.batch_length)
            self.logger.video("eval/open_loop", video, self.state.env_steps)
        self.logger.scalars(values, self.state.env_steps)
        return values

    # ----- the loop ----------------------------------------------------------------------------
    def run(self) -> LoopState:
        train = self.config.train
        state = self.state
        device = self.agent.device
        metrics = MetricsAccumulator()
        last_time, last_env_steps, last_updates = time.time(), state.env_steps, state.updates
        summary: dict[str, float] = {}
        episode_return, episode_success, episode_length = 0.0, False, 0

        obs = self.env.reset(seed=self.config.seed * 100_003 + state.episodes)
        policy_state = None
        previous_action = np.zeros(self.env.action_dim, np.float32)
        while state.env_steps < train.steps:
            action, policy_state = self.agent.policy(_obs_batch(obs, device), policy_state, "explore")
            if state.env_steps < train.prefill:
                random_action = self.rng.uniform(-1, 1, self.env.action_dim).astype(np.float32)
                action = torch.from_numpy(random_action)[None].to(device)
                policy_state["action"] = action
            transition = dict(obs)
            transition["action"] = previous_action
            transition.update(self.agent.transition_extras(policy_state))
            self.replay.add_step(transition)
            if obs["is_last"]:
                state.episodes += 1
                summary.update({"charts/episode_return": episode_return, "charts/episode_length": episode_length})
                if self.has_success:
                    summary["charts/episode_success"] = float(episode_success)
                self.logger.scalars(
                    {key: value for key, value in summary.items() if key.startswith("charts/episode")}, state.env_steps
                )
                if state.env_steps >= state.next_eval:
                    summary.update(self._evaluate())
                    state.next_eval = state.env_steps + train.eval_every
                if state.env_steps >= state.next_checkpoint:
                    state.next_checkpoint = state.env_steps + train.checkpoint_every
                    self.save()
                obs = self.env.reset(seed=self.config.seed * 100_003 + state.episodes)
                policy_state = None
                previous_action = np.zeros(self.env.action_dim, np.float32)
                episode_return, episode_success, episode_length = 0.0, False, 0
                continue
            action_array = action[0].cpu().numpy()
            obs = self.env.step(action_array)
            previous_action = action_array.astype(np.float32)
            episode_return += float(obs["reward"])
            episode_success = episode_success or bool(obs.get("success", False))
            episode_length += 1
            state.env_steps += self.action_repeat
            state.agent_steps += 1

            if self._can_train():
                if not state.pretrained:
                    for _ in range(train.pretrain_updates):
                        self._update(metrics)
                    state.pretrained = True
                elif state.agent_steps % train.train_every == 0:
                    self._update(metrics)

            if state.env_steps >= state.next_log:
                now = time.time()
                elapsed = max(now - last_time, 1e-9)
                values = metrics.flush()
                values.update({f"charts/{key}": value for key, value in self.agent.acting_metrics("train").items()})
                values["charts/env_steps_per_second"] = (state.env_steps - last_env_steps) / elapsed
                values["charts/updates_per_second"] = (state.updates - last_updates) / elapsed
                values["charts/updates"] = float(state.updates)
                values["charts/replay_steps"] = float(self.replay.num_steps)
                self.logger.scalars(values, state.env_steps)
                summary.update(values)
                last_time, last_env_steps, last_updates = now, state.env_steps, state.updates
                state.next_log = state.env_steps + train.log_every
            if self.progress is not None:
                self.progress(state, summary)
        # After any step an episode is in progress (the loop never stops on a reset).
        self.save(episode_in_progress=episode_length > 0)
        return state
