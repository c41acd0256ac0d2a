"""`vid2act teachers add TASK`: expert -> dataset -> pretraining -> registry, each stage resumable.

Stages (each skipped when already done, each continued where an interruption left it):

a. expert: the domain's scripted expert (Meta-World, plugins that ship one); for DMC the cached
   SAC state expert (`ensure_state_expert`, trained on state when missing; the dataset records its
   sha256); with `--expert dreamer`, or for other domains without one, a DreamerV2 agent is
   trained with `vid2act train`'s loop in `$VID2ACT_HOME/experts/<task>-<seed>/` (kept for reuse);
   `--policy RUN_DIR` uses an agent from an existing `vid2act train` run, `--policy random` random
   actions.
   (see `agent_expert`).
b. dataset: episodes collected into `$VID2ACT_HOME/datasets/<name>.h5`; a file holding fewer
   episodes than asked for is appended to (only the missing episodes are collected).
c. pretraining in `$VID2ACT_HOME/pretrain/<name>/` (resumes its checkpoint).
d. registration under `<name>`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from vid2act_core.config import Config

from vid2act_cli.compose.agent_expert import ensure_trained_expert, load_agent_policy
from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.pretraining import pretrain_teacher
from vid2act_cli.compose.reporter import Reporter, plain_if_none

RANDOM_POLICY = "random"
EXPERT_POLICY = "expert"
SCRIPTED_EXPERT_EPISODES = 10
"""Default episodes with a scripted expert (the paper's Meta-World sources: 10 demonstrations)."""
AGENT_EXPERT_EPISODES = 50
"""Default episodes with a trained agent (the paper's DMC sources: 50 trajectories)."""


def default_teacher_name(task: str) -> str:
    """The registry name for a task as typed: `metaworld:door-open` -> `metaworld_door_open`."""
    return task.strip().replace(":", "_").replace("-", "_")


# ----- stage a for DeepMind Control: the cached SAC state expert ------------------------------

# The expert is the task's seed-0 expert under `$VID2ACT_HOME/experts/<task>/`, shared by every
# teacher of that task and by `vid2act experts collect`; `--expert-steps` sets its budget in agent
# steps (default per task, see docs/experts.md). `--expert dreamer` keeps the pixel DreamerV2 agent.

STATE_EXPERT = "state"
DREAMER_EXPERT = "dreamer"
EXPERT_KINDS: tuple[str, ...] = (STATE_EXPERT, DREAMER_EXPERT)
STATE_EXPERT_DOMAINS: tuple[str, ...] = ("dmc",)
"""Domains whose tasks have a state-based expert trainer."""


def ensure_state_expert(spec: Any, steps: int | None, home: Path, reporter: Reporter) -> tuple[Any, Any]:
    """(policy acting from obs["state"], ExpertMetadata) of the task's expert, trained when missing."""
    from vid2act_teachers.experts import default_steps, expert_dir, load_expert, train_expert
    from vid2act_teachers.experts.store import read_metadata

    total = default_steps(spec.task) if steps is None else int(steps)
    if total < 1:
        raise ValueError(f"--expert-steps must be >= 1, got {total}")
    directory = expert_dir(home, spec.task)
    cached = read_metadata(directory)
    if cached is None or cached.agent_steps < total:
        # Training takes minutes to hours: say so before it starts, not only when it is done.
        reporter.say(f"[1/4] expert: training SAC from state on {spec.task} for {total} agent steps "
                     f"(kept in {directory} for reuse; re-running resumes it)")
    with reporter.progress(f"expert {spec.task}", total) as bar:
        result = train_expert(
            spec.task, home, steps=total,
            on_progress=lambda done, _, recent: bar.update(done, "" if recent is None else f"return {recent:.0f}"),
        )
    meta = result.metadata
    how = "cached" if result.reused else "trained"
    reporter.say(
        f"[1/4] expert: SAC from state ({how}), {meta.agent_steps} agent steps, "
        f"eval return {meta.eval_mean:.1f} ± {meta.eval_std:.1f}, sha256 {meta.sha256[:12]}"
    )
    policy, meta = load_expert(result.directory)
    return policy, meta


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


def add_teacher(request: AddTeacherRequest, reporter: Reporter | None = None) -> Any:
    """Run the four stages for `request` and return the registered TeacherInfo."""
    from vid2act_teachers.plugins import domain_registry
    from vid2act_teachers.registry import validate_name, vid2act_home

    from vid2act_cli.compose.validation import check_config_counts, require_count

    check_config_counts(request.config)
    require_count(request.episodes, "--episodes")
    require_count(request.expert_steps, "--expert-steps")
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
    from vid2act_envs.policies import RandomPolicy, expert_policy

    domain = registry.domain(spec.domain)
    env_settings: dict[str, Any] = {
        "image_size": config.env.image_size, "action_repeat": config.env.action_repeat,
        "episode_steps": config.env.episode_steps,
        "camera": int(config.env.camera) if config.env.camera is not None and str(config.env.camera).isdigit() else config.env.camera,
    }
    policy = request.policy
    if request.expert not in EXPERT_KINDS:
        raise ValueError(f"--expert must be one of {', '.join(EXPERT_KINDS)}, got {request.expert!r}")
    make_policy: Callable[[int, int], Any]
    state_expert_meta = None
    if policy == RANDOM_POLICY:
        kind = "random actions"
        make_policy = lambda action_dim, seed: RandomPolicy(action_dim, seed=seed)  # noqa: E731
    elif policy == EXPERT_POLICY and domain.has_expert(spec):
        kind = f"the scripted {spec.domain} expert"
        make_policy = lambda action_dim, seed: expert_policy(registry, spec)  # noqa: E731
    elif policy == EXPERT_POLICY and request.expert == STATE_EXPERT and spec.domain in STATE_EXPERT_DOMAINS:
        state_policy, state_expert_meta = ensure_state_expert(spec, request.expert_steps, home, reporter)
        action_repeat = env_settings["action_repeat"] or spec.action_repeat
        if action_repeat != state_expert_meta.expert_config.action_repeat:
            raise ValueError(f"env.action_repeat {action_repeat} differs from the state expert's "
                             f"{state_expert_meta.expert_config.action_repeat}; use --expert dreamer or the default")
        kind = f"the state expert {state_policy.name}"
        make_policy = lambda action_dim, seed: state_policy  # noqa: E731
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
        make_policy = lambda action_dim, seed: agent_policy  # noqa: E731
    if policy != EXPERT_POLICY or domain.has_expert(spec):  # the trained experts report themselves
        reporter.say(f"[1/4] expert: {kind}")
    scripted = policy == EXPERT_POLICY and domain.has_expert(spec)
    episodes = request.episodes if request.episodes is not None else (
        SCRIPTED_EXPERT_EPISODES if scripted else AGENT_EXPERT_EPISODES
    )
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    path = home / "datasets" / f"{name}.h5"
    existing = _existing_episodes(path)
    if existing >= episodes:
        reporter.say(f"[2/4] dataset: {path} already holds {existing} episodes")
        return path
    reporter.say(f"[2/4] dataset: collecting {episodes - existing} episode(s) of {spec.name} with {kind} into {path}"
                 + (f" ({existing} already there)" if existing else ""))
    with reporter.progress("collect", (episodes - existing) * _agent_steps(spec, env_settings)) as bar:
        collect_missing_episodes(registry, spec, make_policy, episodes, path, config.seed, env_settings,
                                 lambda obs: bar.advance())
    if state_expert_meta is not None:
        from vid2act_envs.mixed_collection import annotate_dataset
        from vid2act_teachers.experts.rollout import expert_annotations

        annotate_dataset(path, expert_annotations(state_expert_meta))
    return path


def _agent_steps(spec: Any, env_settings: dict[str, Any]) -> int:
    """Agent steps per episode under the collection settings (for the progress bar)."""
    episode_steps = env_settings.get("episode_steps") or spec.episode_steps
    action_repeat = env_settings.get("action_repeat") or spec.action_repeat
    return max(1, int(episode_steps) // int(action_repeat))
