"""Trained agents as experts for `teachers add`: a DreamerV2 run acting as a collection policy.

Where a domain has no scripted expert (DMC, as in the paper, whose DMC data came from trained
agents), `ensure_trained_expert` trains a DreamerV2 agent with `vid2act train`'s loop in
`$VID2ACT_HOME/experts/<task>-<seed>/` (kept for reuse) and `load_agent_policy` turns a run's
latest checkpoint into a policy.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.config import Config
from vid2act_core.runtime.checkpoint import load_checkpoint
from vid2act_core.trainer_core import to_torch
from vid2act_envs.policies import CallablePolicy

from vid2act_cli.compose.reporter import Reporter
from vid2act_cli.compose.runs import DONE_MARKER, load_run_config
from vid2act_cli.compose.training import make_task_env, run_online


def _format_duration(seconds: float) -> str:
    """120 s -> "2 min"; a rough human scale for the expected training time."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class AgentPolicy:
    """A trained DreamerAgent acting deterministically (mode "eval") as a collection policy.

    Keeps the agent's recurrent state across steps and starts a fresh one at every `is_first`.
    """

    def __init__(self, agent: Any, name: str) -> None:
        self.agent = agent
        self._state: dict[str, Any] | None = None
        self._policy = CallablePolicy(self._act, name=name, reset_fn=self._reset)
        self.name = name

    def _reset(self) -> None:
        self._state = None

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        device = self.agent.device
        if bool(obs["is_first"]):
            self._state = None
        batch = {
            "image": torch.from_numpy(np.ascontiguousarray(obs["image"]))[None].to(device),
            "is_first": torch.tensor([bool(obs["is_first"])], device=device),
        }
        action, self._state = self.agent.policy(batch, self._state, "eval")
        return action[0].float().cpu().numpy()

    def reset(self) -> None:
        self._policy.reset()

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        return self._policy(obs)


def load_agent_policy(run_dir: Path, device: torch.device) -> tuple[AgentPolicy, Config]:
    """The agent of a `vid2act train` run directory (its latest checkpoint) and the run's config."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"--policy {run_dir}: not expert, random or an existing run directory")
    config, info = load_run_config(run_dir)
    method = info.get("method", "dreamer")
    if method != "dreamer":
        raise ValueError(f"--policy {run_dir}: a {method!r} run; use an agent trained with `vid2act train`")
    payload = load_checkpoint(run_dir / "checkpoints" / "latest.pt", device)
    weights = payload["agent"]["model"]
    action_key = "world_model.rssm.img_in_action.weight"
    if action_key not in weights:
        raise ValueError(f"--policy {run_dir}: the checkpoint holds no DreamerV2 world model ({action_key})")
    agent = DreamerAgent(config, int(weights[action_key].shape[1]), device)
    agent.restore(payload["agent"])
    agent.eval()
    return AgentPolicy(agent, f"agent:{run_dir.name}"), config


def _done_env_steps(run_dir: Path) -> int:
    """Env steps of a finished run (its DONE marker), -1 when unfinished or unreadable."""
    marker = run_dir / DONE_MARKER
    if not marker.exists():
        return -1
    try:
        return int(json.loads(marker.read_text()).get("env_steps", -1))
    except (json.JSONDecodeError, AttributeError):
        return -1


def estimate_training_seconds(config: Config, device: torch.device) -> tuple[float, str]:
    """Measured estimate of `vid2act train` with `config`: (seconds, how it was measured).

    Times two DreamerV2 updates on a random batch of the config's size and a few environment
    steps with the untrained agent acting, then scales by the schedule's update and step counts.
    """
    train = config.train
    env = make_task_env(config, seed=config.seed)
    try:
        action_repeat = env.spec.action_repeat
        agent = DreamerAgent(copy.deepcopy(config), env.action_dim, device)
        policy = AgentPolicy(agent, "probe")
        obs = env.reset(seed=config.seed)
        probe_steps = 10
        start = time.perf_counter()
        for _ in range(probe_steps):
            obs = env.step(policy(obs)) if not obs["is_last"] else env.reset()
        step_seconds = (time.perf_counter() - start) / probe_steps
    finally:
        env.close()
    size = config.env.image_size
    rng = np.random.default_rng(0)
    arrays = {
        "image": rng.integers(0, 255, (train.batch_size, train.batch_length, size, size, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (train.batch_size, train.batch_length, agent.action_dim)).astype(np.float32),
        "reward": rng.uniform(0, 1, (train.batch_size, train.batch_length)).astype(np.float32),
        "is_first": np.zeros((train.batch_size, train.batch_length), bool),
        "is_last": np.zeros((train.batch_size, train.batch_length), bool),
        "is_terminal": np.zeros((train.batch_size, train.batch_length), bool),
    }
    batch = to_torch(arrays, device)
    agent.train_step(batch)
    start = time.perf_counter()
    agent.train_step(batch)
    update_seconds = time.perf_counter() - start
    agent_steps = train.steps / action_repeat
    updates = max(0.0, (train.steps - train.prefill) / action_repeat / train.train_every) + train.pretrain_updates
    total = agent_steps * step_seconds + updates * update_seconds
    detail = (
        f"{updates:.0f} updates x {update_seconds:.2f} s + {agent_steps:.0f} agent steps x "
        f"{step_seconds * 1000:.0f} ms, measured just now on {device}"
    )
    return total, detail


def ensure_trained_expert(
    spec: Any, config: Config, expert_steps: int, device: torch.device, home: Path, reporter: Reporter
) -> Path:
    """Train (or finish training) a DreamerV2 agent on `spec` for `expert_steps`; return its run directory."""
    expert_config = copy.deepcopy(config)
    expert_config.env.task = spec.name
    expert_config.train.steps = expert_steps
    run_dir = home / "experts" / f"{spec.task}-{config.seed}"
    done_steps = _done_env_steps(run_dir)
    if done_steps >= expert_steps:
        reporter.say(f"expert: using the agent trained in {run_dir} ({done_steps} env steps)")
        return run_dir
    resuming = (run_dir / "config.yaml").exists()
    seconds, detail = estimate_training_seconds(expert_config, device)
    reporter.say(
        f"expert: {spec.name} has no scripted expert, so a DreamerV2 agent is trained on it first "
        f"({expert_steps} env steps, preset {config.preset}; expected cost about {_format_duration(seconds)}: {detail}). "
        f"{'Resuming' if resuming else 'Run directory'} {run_dir}; interrupting is safe, re-running continues."
    )
    run_online(expert_config, run_dir, device, "dreamer", reporter=reporter,
               run_info={"purpose": "expert for vid2act teachers add"})
    return run_dir
