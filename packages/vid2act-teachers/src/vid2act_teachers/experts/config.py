"""Hyperparameters of state-based DMC experts (stable-baselines3 SAC) and per-task budgets.

Steps are agent steps: one agent step applies an action for `action_repeat` (2) simulator steps,
so 100k agent steps are 200k environment (simulator) steps. The settings are the usual SAC
settings for DMC from state (256x256 MLPs, batch 256, Adam 3e-4, tau 0.005, learned entropy),
with one gradient step per agent step; docs/experts.md has the speed measurements behind them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

ALGORITHM = "sac"

DEFAULT_STEPS: dict[str, int] = {
    "cartpole_balance": 30_000,  # 967.7 at 30k (docs/experts.md)
    "walker_stand": 60_000,
    "walker_walk": 100_000,
    "hopper_stand": 300_000,  # 380 at 200k, 885 at 300k (docs/experts.md)
    "cheetah_run": 250_000,
    "walker_run": 250_000,
    "quadruped_walk": 250_000,
    "quadruped_run": 250_000,
}
"""Default agent steps per task (action repeat 2); other tasks get FALLBACK_STEPS."""

FALLBACK_STEPS = 100_000


def default_steps(task: str) -> int:
    """Default training budget in agent steps for a DMC task (e.g. 100_000 for walker_walk)."""
    return DEFAULT_STEPS.get(task, FALLBACK_STEPS)


@dataclass(frozen=True)
class ExpertConfig:
    """Everything that defines an expert's training run besides task, steps and seed."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    learning_rate: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    learning_starts: int = 5_000
    """Agent steps of uniform random actions before the first update."""
    train_freq: int = 1
    gradient_steps: int = 1
    action_repeat: int = 2
    eval_episodes: int = 10
    checkpoint_every: int = 10_000
    """Agent steps between resumable checkpoints (model, optimisers, replay buffer)."""
    threads: int = 1
    """torch threads: small MLPs run fastest on one thread on a shared CPU."""

    def __post_init__(self) -> None:
        for name in ("batch_size", "train_freq", "gradient_steps", "action_repeat", "eval_episodes", "checkpoint_every", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"expert config: {name} must be >= 1, got {getattr(self, name)}")
        if self.learning_starts < 0:
            raise ValueError(f"expert config: learning_starts must be >= 0, got {self.learning_starts}")
        if not self.hidden_sizes or any(int(size) < 1 for size in self.hidden_sizes):
            raise ValueError(f"expert config: hidden_sizes must be positive, got {self.hidden_sizes}")
        object.__setattr__(self, "hidden_sizes", tuple(int(size) for size in self.hidden_sizes))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (stored in an expert's metadata)."""
        values = asdict(self)
        values["hidden_sizes"] = list(self.hidden_sizes)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExpertConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"expert config: unknown field(s) {', '.join(unknown)}")
        return cls(**values)

    def updated(self, **changes: Any) -> ExpertConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)
