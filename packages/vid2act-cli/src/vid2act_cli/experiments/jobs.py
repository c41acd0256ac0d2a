"""What an experiment is made of: jobs (a `vid2act` argv and its done file), budget scaling, shared settings.

A job is the argv of an existing `vid2act` command plus the file whose presence means it is
finished (a run's `DONE` marker holding enough env steps, or a registered model's `config.json`).
Every job names its output directory explicitly (`--logdir`, `--policy`, the experiment's own
`VID2ACT_HOME`), so re-running an experiment skips what is finished and resumes what was
interrupted (the commands themselves resume their run directories). Jobs name the jobs that must
finish before them (`needs`), so a launcher can run independent ones side by side
(`vid2act_cli.compose.launch`).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from vid2act_core.naming import slugify

HOME_ENV = "VID2ACT_HOME"


@dataclass(frozen=True)
class Job:
    """One command of an experiment and how to tell that it is finished."""

    kind: str
    """expert, teacher, video-model or transfer."""
    label: str
    """Short human description, e.g. `transfer button-press vid2act seed 0`."""
    argv: tuple[str, ...]
    """Arguments after `vid2act`."""
    done_file: Path
    """Present when the job is finished (a run's DONE marker or a teacher's config.json)."""
    min_env_steps: int = 0
    """For runs: `done_file` (JSON) must record at least this many env steps."""
    steps_key: str = "env_steps"
    """The key of `done_file` holding the env steps (DONE: env_steps; evaluation JSON: env_steps_trained)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables the job needs (the experiment's VID2ACT_HOME)."""
    needs: tuple[str, ...] = ()
    """Labels of the jobs whose output this one uses (its expert, its teachers)."""

    @property
    def key(self) -> str:
        """The label as a file-name-safe key (job records, log files)."""
        return slugify(self.label)

    def is_done(self) -> bool:
        """Whether the job's output is complete (a run stopped short of its budget is not)."""
        if not self.done_file.exists():
            return False
        if self.min_env_steps <= 0:
            return True
        try:
            steps = int(json.loads(self.done_file.read_text()).get(self.steps_key, -1))
        except (json.JSONDecodeError, AttributeError, ValueError, OSError):
            return False
        return steps >= self.min_env_steps

    def shell_line(self) -> str:
        """One runnable shell line: `VID2ACT_HOME=... uv run vid2act ...`."""
        prefix = "".join(f"{key}={shlex.quote(value)} " for key, value in sorted(self.env.items()))
        return prefix + shlex.join(["uv", "run", "vid2act", *self.argv])


@dataclass(frozen=True)
class Scale:
    """Budget shrinking for local trials: every count is multiplied by `factor`, within sensible minimums."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.factor <= 1):
            raise ValueError(f"--scale {self.factor}: expected a factor in (0, 1]")

    @property
    def shrinks(self) -> bool:
        """Whether budgets are reduced at all."""
        return self.factor < 1

    def of(self, value: int, minimum: int) -> int:
        """`value * factor`, rounded, at least `minimum` (and never more than `value`)."""
        if not self.shrinks:
            return value
        return min(value, max(minimum, int(round(value * self.factor))))


def teacher_name(source: str) -> str:
    """The registry name of a paper source task: `door-open` -> `door_open`."""
    return source.replace("-", "_")


def default_root(name: str, scale: float) -> Path:
    """`experiments/<name>`, or `experiments/<name>-scale<F>` for a scaled trial (never mixed with full runs)."""
    return Path("experiments") / (name if scale >= 1 else f"{name}-scale{scale:g}")


def schedule_overrides(scale: Scale, episode_steps: int, prefill: int, eval_every: int) -> list[str]:
    """`--set` options that keep a scaled run's schedule proportionate (prefill, evaluation, logs)."""
    if not scale.shrinks:
        return []
    values = {
        "train.prefill": scale.of(prefill, episode_steps),
        "train.eval_every": scale.of(eval_every, episode_steps),
        "train.checkpoint_every": scale.of(5_000, episode_steps),
        "train.log_every": scale.of(1_000, 100),
    }
    return [item for key, value in values.items() for item in ("--set", f"{key}={value}")]


def pretrain_overrides(scale: Scale) -> list[str]:
    """`--set` options that keep a scaled pretraining's evaluation, checkpoint and log intervals proportionate."""
    if not scale.shrinks:
        return []
    values = {
        "pretrain.eval_every": scale.of(5_000, 50),
        "pretrain.checkpoint_every": scale.of(5_000, 50),
        "pretrain.log_every": scale.of(1_000, 10),
    }
    return [item for key, value in values.items() for item in ("--set", f"{key}={value}")]


@dataclass
class ExperimentSettings:
    """Options shared by every job of an experiment."""

    root: Path
    scale: Scale = field(default_factory=Scale)
    seeds: int = 3
    first_seed: int = 0
    """Seeds run are first_seed .. first_seed + seeds - 1 (more seeds beside finished ones: --first-seed)."""
    device: str = "auto"
    preset: str | None = None
    """Override the experiment's preset (e.g. `small` for a CPU trial); None keeps the paper's."""

    @property
    def seed_range(self) -> range:
        """The seeds every (target, method) runs."""
        return range(self.first_seed, self.first_seed + self.seeds)

    @property
    def home(self) -> Path:
        """The experiment's own teacher registry and datasets."""
        return self.root / "home"
