"""`vid2act teachers add TASK`: expert -> dataset -> pretraining -> registry, each stage resumable.

Stages (each skipped when already done, each continued where an interruption left it):

a. expert: the domain's scripted expert (Meta-World, plugins that ship one); where a domain has
   none (DMC, as in the paper, whose DMC data came from trained agents) a DreamerV2 agent is
   trained with `vid2act train`'s loop in `$VID2ACT_HOME/experts/<task>-<seed>/` (kept for reuse);
   `--policy RUN_DIR` uses an agent from an existing `vid2act train` run, `--policy random` random
   actions.
b. dataset: episodes collected into `$VID2ACT_HOME/datasets/<name>.h5`; a file holding fewer
   episodes than asked for is appended to (only the missing episodes are collected).
c. pretraining in `$VID2ACT_HOME/pretrain/<name>/` (resumes its checkpoint).
d. registration under `<name>`.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from vid2act_core.config import Config

RANDOM_POLICY = "random"
EXPERT_POLICY = "expert"
SCRIPTED_EXPERT_EPISODES = 10
"""Default episodes with a scripted expert (the paper's Meta-World sources: 10 demonstrations)."""
AGENT_EXPERT_EPISODES = 50
"""Default episodes with a trained agent (the paper's DMC sources: 50 trajectories)."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_teacher_name(task: str) -> str:
    """The registry name for a task as typed: `metaworld:door-open` -> `metaworld_door_open`."""
    return task.strip().replace(":", "_").replace("-", "_")


def _format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ----- stage a: the expert --------------------------------------------------------------------


class AgentPolicy:
    """A trained DreamerAgent acting deterministically (mode "eval") as a collection policy.

    Keeps the agent's recurrent state across steps and starts a fresh one at every `is_first`.
    """

    def __init__(self, agent: Any, name: str) -> None:
        from vid2act_envs.policies import CallablePolicy

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
    from vid2act_core.agent import DreamerAgent
    from vid2act_core.checkpoint import load_checkpoint

    from vid2act_cli.runs import load_run_config

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
    from vid2act_cli.runs import DONE_MARKER

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
    from vid2act_core.agent import DreamerAgent

    from vid2act_cli.training import make_task_env

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
    from vid2act_core.loop import to_torch

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
    spec: Any, config: Config, expert_steps: int, device: torch.device, home: Path, show_progress: bool
) -> Path:
    """Train (or finish training) a DreamerV2 agent on `spec` for `expert_steps`; return its run directory."""
    from vid2act_cli.training import run_online

    expert_config = copy.deepcopy(config)
    expert_config.env.task = spec.name
    expert_config.train.steps = expert_steps
    run_dir = home / "experts" / f"{spec.task}-{config.seed}"
    done_steps = _done_env_steps(run_dir)
    if done_steps >= expert_steps:
        _say(f"expert: using the agent trained in {run_dir} ({done_steps} env steps)")
        return run_dir
    resuming = (run_dir / "config.yaml").exists()
    seconds, detail = estimate_training_seconds(expert_config, device)
    _say(
        f"expert: {spec.name} has no scripted expert, so a DreamerV2 agent is trained on it first "
        f"({expert_steps} env steps, preset {config.preset}; expected cost about {_format_duration(seconds)}: {detail}). "
        f"{'Resuming' if resuming else 'Run directory'} {run_dir}; interrupting is safe, re-running continues."
    )
    run_online(expert_config, run_dir, device, "dreamer", show_progress=show_progress,
               run_info={"purpose": "expert for vid2act teachers add"})
    return run_dir


# ----- stage b: the dataset -------------------------------------------------------------------


def _existing_episodes(path: Path) -> int:
    from vid2act_envs.dataset import open_dataset

    if not path.exists():
        return 0
    with open_dataset(path) as dataset:
        return len(dataset)


def collect_missing_episodes(
    registry: Any,
    spec: Any,
    make_policy: Callable[[int, int], Any],
    episodes: int,
    path: Path,
    seed: int,
    env_settings: dict[str, Any],
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Append episodes to `path` until it holds `episodes`; return how many were collected now.

    make_policy(action_dim, effective_seed) builds the policy; effective_seed is `seed` plus the
    episodes already in the file, so appended episodes continue rather than repeat the file's.
    """
    from vid2act_envs.collect import collect_episodes
    from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter

    existing = _existing_episodes(path)
    missing = episodes - existing
    if missing <= 0:
        return 0
    env = registry.make_env(spec, seed=seed, **env_settings)
    try:
        effective_seed = seed + existing
        policy = make_policy(env.action_dim, effective_seed)
        with EpisodeWriter(path, DatasetAttrs.from_env(env, policy.name)) as writer:
            collect_episodes(env, policy, missing, writer=writer, on_step=on_step, seed=effective_seed)
    finally:
        env.close()
    return missing


# ----- the whole command ----------------------------------------------------------------------


@dataclass
class AddTeacherRequest:
    """Everything `vid2act teachers add` was asked for."""

    task: str
    config: Config
    """Resolved config (preset, --set, --seed, --steps as pretrain.steps already applied)."""
    device: torch.device
    name: str | None = None
    episodes: int | None = None
    policy: str = EXPERT_POLICY
    expert_steps: int | None = None
    data: list[Path] | None = None
    show_progress: bool = True


def add_teacher(request: AddTeacherRequest) -> Any:
    """Run the four stages for `request` and return the registered TeacherInfo."""
    from vid2act_teachers.plugins import domain_registry
    from vid2act_teachers.registry import validate_name, vid2act_home

    from vid2act_cli.pretraining import pretrain_teacher

    config = copy.deepcopy(request.config)
    registry = domain_registry()
    spec = registry.resolve(request.task)
    name = validate_name(request.name or default_teacher_name(request.task))
    home = vid2act_home()
    config.env.task = spec.name
    if request.data:
        data_paths = [Path(path) for path in request.data]
        _check_data_task(data_paths, spec.name)
        _say(f"[1-2/4] expert and dataset: skipped, using {', '.join(map(str, data_paths))}")
    else:
        data_paths = [_ensure_dataset(request, registry, spec, config, name, home)]
    _say(f"[3/4] pretraining {name} ({config.pretrain.steps} steps, preset {config.preset})")
    run_dir = home / "pretrain" / name
    info = pretrain_teacher(data_paths, name, config, run_dir, request.device, show_progress=request.show_progress)
    _say(f"[4/4] registered {info.name}")
    return info


def _check_data_task(paths: list[Path], task_name: str) -> None:
    from vid2act_envs.dataset import open_dataset

    for path in paths:
        with open_dataset(path) as dataset:
            held = f"{dataset.attrs.domain}:{dataset.attrs.task}"
        if held != task_name:
            raise ValueError(f"{path}: holds task {held}, not {task_name}")


def _ensure_dataset(request: AddTeacherRequest, registry: Any, spec: Any, config: Config, name: str, home: Path) -> Path:
    """Stages a and b: pick or train the expert, then collect the missing episodes."""
    from vid2act_envs.policies import RandomPolicy, expert_policy

    domain = registry.domain(spec.domain)
    env_settings: dict[str, Any] = {
        "image_size": config.env.image_size, "action_repeat": config.env.action_repeat,
        "episode_steps": config.env.episode_steps,
        "camera": int(config.env.camera) if config.env.camera is not None and str(config.env.camera).isdigit() else config.env.camera,
    }
    policy = request.policy
    make_policy: Callable[[int, int], Any]
    if policy == RANDOM_POLICY:
        kind = "random actions"
        make_policy = lambda action_dim, seed: RandomPolicy(action_dim, seed=seed)  # noqa: E731
    elif policy == EXPERT_POLICY and domain.make_expert is not None:
        kind = f"the scripted {spec.domain} expert"
        make_policy = lambda action_dim, seed: expert_policy(registry, spec)  # noqa: E731
    else:
        if policy == EXPERT_POLICY:
            expert_steps = request.expert_steps if request.expert_steps is not None else config.train.steps
            if expert_steps < 1:
                raise ValueError(f"--expert-steps must be >= 1, got {expert_steps}")
            _say(f"[1/4] expert for {spec.name}")
            run_dir = ensure_trained_expert(spec, config, expert_steps, request.device, home, request.show_progress)
        else:
            run_dir = Path(policy)
        agent_policy, agent_config = load_agent_policy(run_dir, request.device)
        agent_task = registry.resolve(agent_config.env.task).name
        if agent_task != spec.name:
            raise ValueError(f"--policy {run_dir}: the agent was trained on {agent_task}, not {spec.name}")
        kind = f"the agent of {run_dir}"
        # The agent acts as it was trained: its action repeat, image size and camera.
        env_settings.update(image_size=agent_config.env.image_size, action_repeat=agent_config.env.action_repeat,
                            camera=agent_config.env.camera)
        make_policy = lambda action_dim, seed: agent_policy  # noqa: E731
    if policy != EXPERT_POLICY or domain.make_expert is not None:
        _say(f"[1/4] expert: {kind}")
    scripted = policy == EXPERT_POLICY and domain.make_expert is not None
    episodes = request.episodes if request.episodes is not None else (
        SCRIPTED_EXPERT_EPISODES if scripted else AGENT_EXPERT_EPISODES
    )
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    path = home / "datasets" / f"{name}.h5"
    existing = _existing_episodes(path)
    if existing >= episodes:
        _say(f"[2/4] dataset: {path} already holds {existing} episodes")
        return path
    _say(f"[2/4] dataset: collecting {episodes - existing} episode(s) of {spec.name} with {kind} into {path}"
         + (f" ({existing} already there)" if existing else ""))
    progress, on_step = _collection_bar(request.show_progress, (episodes - existing) * _agent_steps(spec, env_settings))
    if progress is not None:
        with progress:
            collect_missing_episodes(registry, spec, make_policy, episodes, path, config.seed, env_settings, on_step)
    else:
        collect_missing_episodes(registry, spec, make_policy, episodes, path, config.seed, env_settings, on_step)
    return path


def _agent_steps(spec: Any, env_settings: dict[str, Any]) -> int:
    """Agent steps per episode under the collection settings (for the progress bar)."""
    episode_steps = env_settings.get("episode_steps") or spec.episode_steps
    action_repeat = env_settings.get("action_repeat") or spec.action_repeat
    return max(1, int(episode_steps) // int(action_repeat))


def _collection_bar(show: bool, total_steps: int) -> tuple[Any, Callable[[dict[str, Any]], None] | None]:
    if not show:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("collect"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=Console(stderr=True))
    task_id = progress.add_task("collect", total=total_steps)

    def on_step(obs: dict[str, Any]) -> None:
        progress.advance(task_id)

    return progress, on_step
