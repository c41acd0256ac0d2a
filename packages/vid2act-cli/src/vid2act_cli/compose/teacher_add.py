"""`vid2act teachers add TASK`: expert -> dataset -> pretraining -> registry, each stage resumable.

Stages (each skipped when already done, each continued where an interruption left it):

a. expert: the domain's scripted expert (Meta-World, plugins that ship one); else the expert its
   `train_expert` hook trains (`train_domain_expert`; for DMC the cached SAC state expert, trained
   on state when missing; the dataset records its sha256); with `--expert dreamer`, or for a
   domain with neither, a DreamerV2 agent is trained with `vid2act train`'s loop in
   `$VID2ACT_HOME/experts/<task>-<seed>/` (kept for reuse, see `agent_expert`);
   `--policy RUN_DIR` uses an agent from an existing `vid2act train` run, `--policy random` random
   actions.
b. dataset: episodes collected into `$VID2ACT_HOME/datasets/<name>.h5` by
   `vid2act_envs.collect.collect_dataset`; a file holding fewer episodes than asked for is topped
   up (only the missing episodes are collected, their seeds continuing the file's). Policies that
   worker processes can rebuild collect in min(2, usable cores) processes (`collection_workers`).
c. pretraining in `$VID2ACT_HOME/pretrain/<name>/` (resumes its checkpoint).
d. registration under `<name>`.
"""

from __future__ import annotations

import copy
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vid2act_core.config import Config
from vid2act_core.runtime.threads import usable_cores
from vid2act_envs.base import Domain, ExpertTraining, PolicyFactory, TaskSpec, TrainedExpert
from vid2act_envs.collect import collect_dataset, dataset_episodes
from vid2act_envs.parallel import can_pickle, check_workers

from vid2act_cli.compose.agent_expert import ensure_trained_expert, load_agent_policy
from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.pretraining import pretrain_teacher
from vid2act_cli.compose.reporter import ProgressBar, Reporter, plain_if_none

EXPERTS_DIR = "experts"
"""Folder of `$VID2ACT_HOME` where trained experts are kept (`ExpertTraining.cache_dir`)."""

RANDOM_POLICY = "random"
EXPERT_POLICY = "expert"
SCRIPTED_EXPERT_EPISODES = 10
"""Default episodes with a scripted expert (the paper's Meta-World sources: 10 demonstrations)."""
AGENT_EXPERT_EPISODES = 50
"""Default episodes with a trained agent (the paper's DMC sources: 50 trajectories)."""


def default_teacher_name(task: str) -> str:
    """The registry name for a task as typed: `metaworld:door-open` -> `metaworld_door_open`."""
    return task.strip().replace(":", "_").replace("-", "_")


# ----- stage a for a domain whose expert is trained: its `train_expert` hook -------------------

# `--expert-steps` sets the budget in agent steps (None: the domain's default per task, for DMC see
# docs/experts.md). `--expert dreamer` trains the pixel DreamerV2 agent instead.

STATE_EXPERT = "state"
DREAMER_EXPERT = "dreamer"
EXPERT_KINDS: tuple[str, ...] = (STATE_EXPERT, DREAMER_EXPERT)


def train_domain_expert(domain: Domain, spec: TaskSpec, steps: int | None, home: Path, reporter: Reporter) -> TrainedExpert:
    """The expert `domain.train_expert` trains (or finds cached in `$VID2ACT_HOME/experts/`), its progress reported."""
    if domain.train_expert is None:
        raise ValueError(f"domain {domain.name!r} has no train_expert hook")
    with ExitStack() as stack:
        bars: list[ProgressBar] = []

        def progress(done: int, total: int, note: str) -> None:
            if not bars:
                bars.append(stack.enter_context(reporter.progress(f"expert {spec.task}", total)))
            if done > 0:
                bars[0].update(done, note)

        request = ExpertTraining(steps=steps, cache_dir=home / EXPERTS_DIR, on_progress=progress,
                                 on_note=lambda line: reporter.say(f"[1/4] expert: {line}"))
        trained = domain.train_expert(spec, request)
    reporter.say(f"[1/4] expert: {trained.description}")
    return trained


# ----- stage b: the dataset -------------------------------------------------------------------


def collection_workers(policy: str | PolicyFactory) -> int:
    """Processes to collect with: min(2, usable cores) for a policy worker processes can rebuild, else 1.

    Two, not more: a teachers-add dataset is tens of episodes, and each worker pays a process start
    and its own simulator and renderer.
    """
    return min(2, usable_cores()) if isinstance(policy, str) or can_pickle(policy) else 1


# ----- the whole command ----------------------------------------------------------------------


@dataclass
class AddTeacherRequest:
    """Everything `vid2act teachers add` was asked for."""

    task: str
    config: Config
    """Resolved config (preset, --set, --seed, --steps as pretrain.steps already applied)."""
    device: str | torch.device
    name: str | None = None
    episodes: int | None = None
    policy: str = EXPERT_POLICY
    expert_steps: int | None = None
    data: list[Path] | None = None
    expert: str = STATE_EXPERT
    """Where a domain has no scripted expert: "state" (SAC from state, DMC) or "dreamer" (pixel agent)."""
    replay_set_mb: float | None = None
    """Size budget of the teacher's action-replay set in MiB (None: the default, `DEFAULT_REPLAY_SET_MB`)."""
    workers: int | None = None
    """Processes collecting the dataset (None: `collection_workers`, 1 for an agent of a run)."""


def add_teacher(request: AddTeacherRequest, reporter: Reporter | None = None) -> Any:
    """Run the four stages for `request` and return the registered TeacherInfo."""
    from vid2act_teachers.plugins import domain_registry
    from vid2act_teachers.registry import validate_name, vid2act_home

    from vid2act_cli.compose.validation import check_config_counts, require_count

    check_config_counts(request.config)
    require_count(request.episodes, "--episodes")
    require_count(request.expert_steps, "--expert-steps")
    if request.workers is not None:
        check_workers(request.workers)
    reporter = plain_if_none(reporter)
    device = resolve_device(request.device, reporter)
    config = copy.deepcopy(request.config)
    registry = domain_registry()
    spec = registry.resolve(request.task)
    name = validate_name(request.name or default_teacher_name(request.task))
    home = vid2act_home()
    config.env.task = spec.name
    if request.data:
        data_paths = [Path(path) for path in request.data]
        _check_data_task(data_paths, spec.name)
        reporter.say(f"[1-2/4] expert and dataset: skipped, using {', '.join(map(str, data_paths))}")
    else:
        data_paths = [_ensure_dataset(request, registry, spec, config, name, home, device, reporter)]
    reporter.say(f"[3/4] pretraining {name} ({config.pretrain.steps} steps, preset {config.preset})")
    run_dir = home / "pretrain" / name
    info = pretrain_teacher(data_paths, name, config, run_dir, device, reporter, replay_set_mb=request.replay_set_mb)
    reporter.say(f"[4/4] registered {info.name}")
    return info


def _check_data_task(paths: list[Path], task_name: str) -> None:
    from vid2act_envs.dataset import open_dataset

    for path in paths:
        with open_dataset(path) as dataset:
            held = f"{dataset.attrs.domain}:{dataset.attrs.task}"
        if held != task_name:
            raise ValueError(f"{path}: holds task {held}, not {task_name}")


def _ensure_dataset(
    request: AddTeacherRequest, registry: Any, spec: Any, config: Config, name: str, home: Path, device: torch.device,
    reporter: Reporter,
) -> Path:
    """Stages a and b: pick or train the expert, then collect the missing episodes."""
    from vid2act_teachers.plugins import domain_registry

    domain = registry.domain(spec.domain)
    env_settings: dict[str, Any] = {
        "image_size": config.env.image_size, "action_repeat": config.env.action_repeat,
        "episode_steps": config.env.episode_steps,
        "camera": int(config.env.camera) if config.env.camera is not None and str(config.env.camera).isdigit() else config.env.camera,
    }
    policy = request.policy
    if request.expert not in EXPERT_KINDS:
        raise ValueError(f"--expert must be one of {', '.join(EXPERT_KINDS)}, got {request.expert!r}")
    collect_with: str | PolicyFactory
    annotations: dict[str, Any] = {}
    rebuildable = True
    if policy == RANDOM_POLICY:
        kind, collect_with = "random actions", RANDOM_POLICY
    elif policy == EXPERT_POLICY and domain.has_expert(spec):
        kind, collect_with = f"the scripted {spec.domain} expert", EXPERT_POLICY
    elif policy == EXPERT_POLICY and request.expert == STATE_EXPERT and domain.train_expert is not None:
        trained = train_domain_expert(domain, spec, request.expert_steps, home, reporter)
        action_repeat = env_settings["action_repeat"] or spec.action_repeat
        if action_repeat != trained.action_repeat:
            raise ValueError(f"env.action_repeat {action_repeat} differs from the trained expert's "
                             f"{trained.action_repeat}; use --expert dreamer or the default")
        kind, collect_with, annotations = f"the trained {spec.domain} expert", trained.make_policy, trained.annotations
    else:
        if policy == EXPERT_POLICY:
            expert_steps = request.expert_steps if request.expert_steps is not None else config.train.steps
            if expert_steps < 1:
                raise ValueError(f"--expert-steps must be >= 1, got {expert_steps}")
            reporter.say(f"[1/4] expert: {spec.name} has no scripted expert; training a DreamerV2 agent on it first "
                         f"({expert_steps} env steps, --expert-steps), then collecting with it "
                         "(--policy random or --data FILE.h5 skip this)")
            run_dir = ensure_trained_expert(spec, config, expert_steps, device, home, reporter)
        else:
            run_dir = Path(policy)
        agent_policy, agent_config = load_agent_policy(run_dir, device)
        agent_task = registry.resolve(agent_config.env.task).name
        if agent_task != spec.name:
            raise ValueError(f"--policy {run_dir}: the agent was trained on {agent_task}, not {spec.name}")
        kind = f"the agent of {run_dir}"
        # The agent acts as it was trained: its action repeat, image size and camera.
        env_settings.update(image_size=agent_config.env.image_size, action_repeat=agent_config.env.action_repeat,
                            camera=agent_config.env.camera)
        collect_with = lambda action_dim, seed: agent_policy  # noqa: E731
        # The agent lives on `device` (a GPU, perhaps): one process collects with it.
        rebuildable = False
    if policy != EXPERT_POLICY or domain.has_expert(spec):  # the trained experts report themselves
        reporter.say(f"[1/4] expert: {kind}")
    scripted = policy == EXPERT_POLICY and domain.has_expert(spec)
    episodes = request.episodes if request.episodes is not None else (
        SCRIPTED_EXPERT_EPISODES if scripted else AGENT_EXPERT_EPISODES
    )
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    path = home / "datasets" / f"{name}.h5"
    existing = dataset_episodes(path)
    if existing >= episodes:
        reporter.say(f"[2/4] dataset: {path} already holds {existing} episodes")
        return path
    workers = request.workers if request.workers is not None else (collection_workers(collect_with) if rebuildable else 1)
    if workers > 1 and not rebuildable:
        raise ValueError(f"--workers {workers}: {kind} cannot be rebuilt in worker processes; use --workers 1")
    notes = ([f"{existing} already there"] if existing else []) + ([f"{workers} worker processes"] if workers > 1 else [])
    reporter.say(f"[2/4] dataset: collecting {episodes - existing} episode(s) of {spec.name} with {kind} into {path}"
                 + (f" ({', '.join(notes)})" if notes else ""))
    with reporter.progress("collect", (episodes - existing) * _agent_steps(spec, env_settings)) as bar:
        collect_dataset(
            registry, spec.name, episodes, policy=collect_with, out=path, seed=config.seed, top_up=True,
            on_step=lambda obs: bar.advance(), workers=workers, registry_factory=domain_registry,
            annotations=annotations, **env_settings,
        )
    return path


def _agent_steps(spec: Any, env_settings: dict[str, Any]) -> int:
    """Agent steps per episode under the collection settings (for the progress bar)."""
    episode_steps = env_settings.get("episode_steps") or spec.episode_steps
    action_repeat = env_settings.get("action_repeat") or spec.action_repeat
    return max(1, int(episode_steps) // int(action_repeat))
