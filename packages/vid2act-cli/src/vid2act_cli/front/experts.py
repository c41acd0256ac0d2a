"""`api.train_expert`, `api.list_experts`, `api.evaluate_expert`, `api.collect_expert`: state experts.

A state expert is SAC on a DeepMind Control task's proprioceptive state, cached under
`$VID2ACT_HOME/experts/<task>/` (`<task>-seed<N>/` for other seeds); `teachers add` rolls it out
to write a teacher's source data. These functions are the library of `vid2act_teachers.experts`
behind one typed request each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vid2act_envs.collect import EpisodeSummary, collect_dataset
from vid2act_teachers.experts import ExpertConfig, expert_dir, list_experts as cached_experts, load_expert
from vid2act_teachers.experts import train_expert as train_or_reuse_expert
from vid2act_teachers.experts.evaluate import evaluate_state_policy
from vid2act_teachers.experts.rollout import rollout_expert
from vid2act_teachers.experts.train import checkpoint_actor, checkpoint_progress
from vid2act_teachers.plugins import domain_registry
from vid2act_teachers.registry import vid2act_home

from vid2act_cli.compose.validation import require_count


def _home_or_default(home: Path | None) -> Path:
    return Path(home) if home is not None else vid2act_home()


@dataclass(frozen=True)
class TrainExpertRequest:
    """What `vid2act experts train` takes: SAC from state for one DeepMind Control task."""

    task: str
    """DeepMind Control task, e.g. walker_walk."""
    steps: int | None = None
    """Agent steps, each repeated for the task's action repeat (None: the task's default, docs/experts.md)."""
    seed: int = 0
    """Random seed; each seed is its own cached expert."""
    force: bool = False
    """Discard the cached expert and its checkpoint and train from scratch."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the actor and the critics."""
    batch_size: int = 256
    """SAC minibatch size."""
    learning_starts: int = 5000
    """Random-action agent steps before the first update."""
    train_freq: int = 1
    """Agent steps between update rounds."""
    gradient_steps: int = 1
    """Gradient steps per update round."""
    checkpoint_every: int = 10000
    """Agent steps between resumable checkpoints."""
    eval_episodes: int = 10
    """Deterministic episodes of the final evaluation."""
    home: Path | None = None
    """The vid2act home holding experts/ (None: $VID2ACT_HOME)."""


@dataclass(frozen=True)
class ExpertResult:
    """A cached expert: where it is, how this call got it, and what it returns."""

    task: str
    """The task it acts in."""
    directory: Path
    """Its cache directory (expert.json, policy.safetensors)."""
    outcome: str
    """trained, resumed (from a checkpoint) or reused (found finished)."""
    resumed_from: int
    """Agent steps the training continued from (0 unless resumed)."""
    agent_steps: int
    """Policy decisions it was trained on."""
    env_steps: int
    """Simulator steps it was trained on (agent steps x action repeat)."""
    eval_mean: float
    """Mean return of its final deterministic evaluation."""
    eval_std: float
    """Std of those returns."""
    eval_episodes: int
    """Episodes of that evaluation."""
    train_seconds: float
    """Training wall-clock over every session, evaluation excluded."""
    sha256: str
    """Digest of policy.safetensors, recorded in the datasets it writes."""


ExpertProgress = Callable[[int, int, "float | None"], None]
"""on_progress(agent steps done, agent steps asked, mean return of recent training episodes or None)."""


def train_expert(request: TrainExpertRequest, on_progress: ExpertProgress | None = None) -> ExpertResult:
    """Train the state expert of a task, resume its checkpoint, or reuse it when finished; calling again resumes.

    Raises ValueError naming the option for bad settings, ExpertError (a ValueError) naming the file
    for a corrupt cache, KeyError for an unknown task.
    """
    require_count(request.steps, "--steps")
    if not request.hidden_sizes or min(request.hidden_sizes) < 1:
        raise ValueError(f"--hidden: sizes must be positive integers, got {list(request.hidden_sizes)}")
    config = ExpertConfig(
        hidden_sizes=tuple(request.hidden_sizes), batch_size=request.batch_size, learning_starts=request.learning_starts,
        train_freq=request.train_freq, gradient_steps=request.gradient_steps,
        checkpoint_every=request.checkpoint_every, eval_episodes=request.eval_episodes,
    )
    trained = train_or_reuse_expert(request.task, _home_or_default(request.home), steps=request.steps, seed=request.seed,
                                    config=config, force=request.force, on_progress=on_progress)
    meta = trained.metadata
    outcome = "reused" if trained.reused else ("resumed" if trained.resumed_from else "trained")
    return ExpertResult(
        task=meta.task, directory=Path(trained.directory), outcome=outcome, resumed_from=int(trained.resumed_from),
        agent_steps=int(meta.agent_steps), env_steps=int(meta.env_steps), eval_mean=float(meta.eval_mean),
        eval_std=float(meta.eval_std), eval_episodes=len(meta.eval_returns), train_seconds=float(meta.train_seconds),
        sha256=meta.sha256,
    )


@dataclass(frozen=True)
class ListExpertsRequest:
    """What `vid2act experts list` takes."""

    home: Path | None = None
    """The vid2act home holding experts/ (None: $VID2ACT_HOME)."""


@dataclass(frozen=True)
class ExpertEntry:
    """One directory under experts/: a finished expert, one still training, or one that cannot be read."""

    name: str
    """The directory's name: the task (seed 0) or <task>-seed<N>."""
    state: str
    """finished, training (a checkpoint, no expert yet) or unreadable."""
    algorithm: str | None
    """sac for a finished expert."""
    agent_steps: int
    """Agent steps trained (so far, while training)."""
    eval_mean: float | None
    """Final evaluation's mean return (finished only)."""
    eval_std: float | None
    """And its std."""
    train_seconds: float
    """Training wall-clock (so far)."""
    sha256: str | None
    """Digest of policy.safetensors (finished only)."""
    problem: str | None
    """Why it cannot be read (unreadable only), naming the file."""


@dataclass(frozen=True)
class ListExpertsResult:
    """The experts cached in a home, in directory order."""

    experts: tuple[ExpertEntry, ...]
    """One entry per expert directory."""


def list_experts(request: ListExpertsRequest) -> ListExpertsResult:
    """The experts cached under the home's experts/ with their evaluation return or training progress."""
    entries = []
    for directory, meta, problem in cached_experts(_home_or_default(request.home)):
        if problem is not None:
            entries.append(ExpertEntry(directory.name, "unreadable", None, 0, None, None, 0.0, None, problem))
        elif meta is None:
            progress = checkpoint_progress(directory) or {}
            entries.append(ExpertEntry(directory.name, "training", "sac", int(progress.get("agent_steps", 0)), None, None,
                                       float(progress.get("train_seconds", 0.0)), None, None))
        else:
            entries.append(ExpertEntry(directory.name, "finished", meta.algorithm, int(meta.agent_steps),
                                       float(meta.eval_mean), float(meta.eval_std), float(meta.train_seconds),
                                       meta.sha256, None))
    return ListExpertsResult(tuple(entries))


@dataclass(frozen=True)
class EvaluateExpertRequest:
    """What `vid2act experts evaluate` takes: deterministic episodes of a cached expert, from state."""

    task: str
    """The task whose cached expert to evaluate."""
    episodes: int = 10
    """Episodes to run."""
    seed: int = 0
    """Which seed's expert (also seeds the evaluation episodes)."""
    checkpoint: bool = False
    """Evaluate the latest training checkpoint of an unfinished training instead."""
    home: Path | None = None
    """The vid2act home holding experts/ (None: $VID2ACT_HOME)."""


@dataclass(frozen=True)
class EvaluateExpertResult:
    """An expert's returns over the asked episodes."""

    task: str
    """The task evaluated."""
    returns: tuple[float, ...]
    """One return per episode."""
    mean: float
    """Their mean."""
    std: float
    """Their std."""
    evaluated: str
    """Which policy: "sha256 <digest>" of the finished expert or "checkpoint at N agent steps"."""


def evaluate_expert(request: EvaluateExpertRequest) -> EvaluateExpertResult:
    """Run a cached expert (or its training checkpoint) for deterministic episodes from state."""
    require_count(request.episodes, "--episodes")
    torch.set_num_threads(1)  # a small MLP on one thread: more only adds synchronisation
    directory = expert_dir(_home_or_default(request.home), request.task, request.seed)
    if request.checkpoint:
        actor, progress = checkpoint_actor(directory)

        def act(state: np.ndarray) -> np.ndarray:
            return actor(torch.as_tensor(state, dtype=torch.float32)[None])[0].detach().numpy()

        action_repeat, evaluated = int(progress["config"]["action_repeat"]), f"checkpoint at {progress['agent_steps']} agent steps"
    else:
        policy, meta = load_expert(directory)
        act, action_repeat, evaluated = policy.act, meta.expert_config.action_repeat, f"sha256 {meta.sha256[:12]}"
    returns = evaluate_state_policy(request.task, act, episodes=request.episodes, seed=request.seed,
                                    action_repeat=action_repeat)
    return EvaluateExpertResult(request.task, tuple(float(r) for r in returns), float(np.mean(returns)),
                                float(np.std(returns)), evaluated)


@dataclass(frozen=True)
class CollectExpertRequest:
    """What `vid2act experts collect` takes: a cached expert rolled out with rendering into a pixel dataset."""

    task: str
    """The task whose cached expert to roll out."""
    episodes: int = 50
    """Episodes to collect."""
    out: Path | None = None
    """HDF5 dataset to write or top up (None: data/<task>.h5)."""
    noise: float = 0.0
    """Std of Gaussian noise added to the expert's actions."""
    random_fraction: float = 0.0
    """Share of episodes from uniform random actions."""
    seed: int = 0
    """Seed of the first episode (episode k uses seed + k)."""
    expert_seed: int = 0
    """Which seed's expert."""
    image_size: int = 64
    """Image height and width in pixels."""
    home: Path | None = None
    """The vid2act home holding experts/ (None: $VID2ACT_HOME)."""


@dataclass(frozen=True)
class CollectExpertResult:
    """What the rollout added to its dataset."""

    path: Path
    """The HDF5 file written or topped up."""
    episodes: int
    """Episodes collected by this call."""
    steps: int
    """Agent steps collected by this call."""
    mean_return: float
    """Mean episode return."""
    expert_sha256: str
    """The expert's digest, recorded in the dataset."""


def collect_expert(request: CollectExpertRequest,
                   on_episode: Callable[[dict, EpisodeSummary], None] | None = None) -> CollectExpertResult:
    """Roll a cached expert out with rendering into an HDF5 dataset that records the expert's digest.

    on_episode(episode, summary) sees each finished episode. Raises ExpertError when no fitting expert
    is cached, ValueError naming the option for bad settings.
    """
    require_count(request.episodes, "--episodes")
    registry = domain_registry()
    spec = registry.resolve(request.task)
    path = request.out if request.out is not None else Path("data") / f"{spec.task}.h5"
    expert = rollout_expert(spec, expert_dir(_home_or_default(request.home), spec.task, request.expert_seed),
                            noise=request.noise, random_fraction=request.random_fraction, first_seed=request.seed)
    stats, _ = collect_dataset(registry, request.task, request.episodes, policy=expert.make_policy, out=path,
                               seed=request.seed, image_size=request.image_size, on_episode=on_episode,
                               annotations=expert.annotations)
    return CollectExpertResult(Path(path), int(stats.episodes), int(stats.steps), float(stats.mean_return),
                               str(expert.annotations["expert_sha256"]))
