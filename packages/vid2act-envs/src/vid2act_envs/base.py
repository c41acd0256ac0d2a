"""The one small interface every vid2act environment, policy and domain follows.

Observations are plain dicts of numpy values so that this package never imports torch:

    image:       (H, W, 3) uint8, upright, default 64 x 64
    state:       (S,) float32, the simulator's low-dimensional observation (scripted experts use it)
    reward:      float32 scalar, 0.0 on reset
    success:     bool, False where the task defines no success (see TaskSpec.has_success)
    is_first:    bool, True only on the observation returned by reset()
    is_last:     bool, True on the final observation of an episode (time limit or termination)
    is_terminal: bool, True only when the episode ended for a reason other than the time limit

Actions are float32 vectors in [-1, 1]; each environment rescales to its simulator's bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

Observation = dict[str, Any]


@dataclass(frozen=True)
class TaskSpec:
    """Everything needed to build one task's environment, independent of the simulator."""

    domain: str
    """Registered domain that owns the task, e.g. "dmc" or "metaworld"."""
    task: str
    """Task name inside the domain, e.g. "walker_walk" or "door-open"."""
    action_repeat: int
    """Simulator steps per agent step (DMC 2, Meta-World 1 in the paper)."""
    episode_steps: int
    """Time limit in simulator steps (DMC 1000, Meta-World 500)."""
    camera: str | int
    """Camera name or id used for the image observation."""
    has_success: bool
    """Whether the task reports a success flag (Meta-World yes, DMC no)."""
    can_terminate: bool = False
    """Whether an episode can end before the time limit with `is_terminal` (the task is over, no
    future reward: a fall, a crash). The domain declares it in the TaskSpecs it returns; runs on such
    a task switch the world model's continuation head on (`world_model.auto_cont_head`). DMC and
    Meta-World tasks end only by the time limit (False)."""
    has_expert: bool = True
    """Whether the domain's `make_expert` has a scripted expert for this task. Experts are declared
    per task: a domain may script some tasks and not others (False for those); a domain without
    `make_expert` has none whatever this says. See `Domain.has_expert`."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        """Fully qualified name, e.g. "dmc:walker_walk"."""
        return f"{self.domain}:{self.task}"

    @property
    def agent_steps(self) -> int:
        """Episode length in agent steps (after action repeat)."""
        return self.episode_steps // self.action_repeat


def check_step_counts(spec: TaskSpec) -> None:
    """Refuse a spec whose action repeat or time limit is below 1 (ValueError naming the field)."""
    if spec.action_repeat < 1:
        raise ValueError(f"action_repeat must be >= 1, got {spec.action_repeat}")
    if spec.episode_steps < 1:
        raise ValueError(f"episode_steps must be >= 1, got {spec.episode_steps}")


@runtime_checkable
class Env(Protocol):
    """A pixel environment with actions normalised to [-1, 1]."""

    spec: TaskSpec
    action_dim: int
    image_size: tuple[int, int]

    def reset(self, seed: int | None = None) -> Observation: ...

    def step(self, action: np.ndarray) -> Observation: ...

    def close(self) -> None: ...


@runtime_checkable
class Policy(Protocol):
    """Maps an observation to an action in [-1, 1]. reset() is called at every episode start."""

    name: str

    def reset(self) -> None: ...

    def __call__(self, obs: Observation) -> np.ndarray: ...


PolicyFactory = Callable[[int, int], Policy]
"""(action_dim, seed) -> the policy for one episode. Collection calls it once per episode with that
episode's seed; a picklable one (a module-level class or function, a functools.partial of one) can
be rebuilt in worker processes (`vid2act_envs.collect.collect_dataset(workers=...)`)."""


@dataclass(frozen=True)
class ExpertTraining:
    """What `Domain.train_expert` is asked for."""

    steps: int | None
    """Training budget in agent steps; None: the domain's default for the task."""
    cache_dir: Path
    """Where trained experts are kept for reuse (`$VID2ACT_HOME/experts/`): asking again reuses a
    finished expert and resumes an interrupted training."""
    on_progress: Callable[[int, int, str], None] | None = None
    """on_progress(agent steps done, agent steps asked for, short note such as "return 812"); first
    called with 0 done before training starts, so that a progress display can open."""
    on_note: Callable[[str], None] | None = None
    """Gets one line worth showing before a long training starts (what is trained, where it is kept)."""
    cached_only: bool = False
    """Use an expert already in cache_dir, whatever its budget, and never train: a hook with none
    raises a one-line ValueError saying how to train one."""


@dataclass(frozen=True)
class TrainedExpert:
    """What `Domain.train_expert` returns: an expert ready to act, and how to describe it."""

    make_policy: PolicyFactory
    """Builds the expert's policy; picklable where worker processes can rebuild it."""
    action_repeat: int
    """The action repeat the expert acts at; collection refuses an environment with another."""
    description: str
    """One line, e.g. "SAC from state (trained), 100000 agent steps, eval return 943.3 ± 13.0, sha256 1a2b3c4d5e6f"."""
    annotations: dict[str, Any] = field(default_factory=dict)
    """Stored as `collection.<key>` attributes of the datasets it collects (its identity, its return)."""


EnvFactory = Callable[..., Env]
"""make(task: str, seed: int, image_size: int, action_repeat: int | None,
episode_steps: int | None, camera: str | int | None) -> Env"""


@dataclass(frozen=True)
class Domain:
    """A family of tasks with one environment factory (DMC, Meta-World, or a plugin's).

    Built-in domains and third-party plugins describe themselves with this one record;
    `vid2act_envs.tasks.DomainRegistry` resolves task names across all registered domains.
    """

    name: str
    """Short prefix used in qualified task names ("dmc", "metaworld")."""
    task_names: Callable[[], list[str]]
    """Returns every task this domain offers (called lazily: listing may import a simulator)."""
    task_spec: Callable[[str], TaskSpec]
    """Default TaskSpec (camera, action repeat, episode length) for one task of this domain."""
    make_env: Callable[..., Env]
    """make_env(spec: TaskSpec, seed: int = 0, image_size: int | tuple[int, int] = 64,
    render: bool = True, fast_render: bool = True) -> Env.

    `DomainRegistry.make_env` always passes seed, image_size, render and fast_render as keywords;
    `spec` may carry overridden action_repeat, episode_steps or camera, which the factory honours.
    `render=False` gives black images of the right shape; `fast_render` may size the render
    buffers to the image (`vid2act_envs.rendering`)."""
    make_expert: Callable[[TaskSpec], Policy] | None = None
    """Scripted expert for the tasks whose TaskSpec says `has_expert` (None: no task has one)."""
    description: str = ""
    train_expert: Callable[[TaskSpec, ExpertTraining], TrainedExpert] | None = None
    """An expert that must be trained before it can act (DMC: SAC from state), for tasks without a
    scripted one; `vid2act teachers add` and `vid2act collect --policy expert` ask it (hook API 1.1)."""

    def has_expert(self, spec: TaskSpec) -> bool:
        """Whether this domain has a scripted expert for `spec`'s task (`make_expert` and `spec.has_expert`)."""
        return self.make_expert is not None and bool(spec.has_expert)
