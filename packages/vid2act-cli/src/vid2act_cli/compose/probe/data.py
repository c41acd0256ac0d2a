"""The probe's inputs: named target/teacher pairs, the target episodes split, the teachers' features.

The teachers are frozen, so what they predict for a target frame never changes: their one-step
predictions (priors, means) for every target episode are computed once per probe invocation, as
transfer stores them in its replay (`teacher_feat`, float16), and every cell reads them from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vid2act_core.teachers import TeacherEnsemble
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.registry import TeacherRegistry, check_compatible

from vid2act_cli.compose.teacher_add import default_teacher_name


@dataclass(frozen=True)
class ProbePair:
    """A target task, its teachers (registry names) and which of them is the related source."""

    target: str
    teachers: tuple[str, ...]
    related: str
    collect_hint: str
    """How to create the target dataset (shown when it is missing)."""

    @property
    def dataset_name(self) -> str:
        """File stem of the target dataset under $VID2ACT_HOME/datasets/."""
        return default_teacher_name(self.target)


_DMC_TEACHERS = ("walker_walk", "cheetah_run", "hopper_stand")
_MW_TEACHERS = tuple(default_teacher_name(f"metaworld:{task}") for task in ("button-press-topdown", "drawer-close", "door-open"))


def _dmc_hint(task: str) -> str:
    return f"vid2act experts train {task} && vid2act experts collect {task} --episodes 10 --out DATASET"


def _mw_hint(task: str) -> str:
    return f"vid2act collect metaworld:{task} --episodes 10 --out DATASET"


PAIRS: dict[str, ProbePair] = {
    "dmc-walker": ProbePair("walker_run", _DMC_TEACHERS, "walker_walk", _dmc_hint("walker_run")),
    "dmc-hopper": ProbePair("hopper_hop", _DMC_TEACHERS, "hopper_stand", _dmc_hint("hopper_hop")),
    "metaworld-button": ProbePair("metaworld:button-press-topdown-wall", _MW_TEACHERS, _MW_TEACHERS[0],
                                  _mw_hint("button-press-topdown-wall")),
    "metaworld-door": ProbePair("metaworld:door-close", _MW_TEACHERS, _MW_TEACHERS[2], _mw_hint("door-close")),
}
"""Named pairs: two targets per teacher set, each with a different related teacher, so a scorer
that always prefers one teacher fails one of them."""


def resolve_pair(name: str) -> ProbePair:
    """The named pair, or a one-line error listing the names."""
    if name not in PAIRS:
        raise ValueError(f"--pair {name!r}: not one of {', '.join(PAIRS)}")
    return PAIRS[name]


def default_target_data(pair: ProbePair, home: Path) -> Path:
    """$VID2ACT_HOME/datasets/<target>.h5; a one-line error with the command that creates it when missing."""
    path = home / "datasets" / f"{pair.dataset_name}.h5"
    if not path.exists():
        raise ValueError(f"{path}: no target dataset for {pair.target}; create it with: {pair.collect_hint.replace('DATASET', str(path))}")
    return path


@dataclass
class TargetSplit:
    """The target dataset cut into the student's training episodes and the held-out ones."""

    train: list[dict[str, np.ndarray]]
    held_out: list[dict[str, np.ndarray]]
    action_dim: int
    image_size: int
    sha256: str


def load_target_split(path: Path, train_episodes: int, eval_episodes: int) -> TargetSplit:
    """The first `train_episodes` episodes train, the last `eval_episodes` are held out (never trained on)."""
    if train_episodes < 1 or eval_episodes < 1:
        raise ValueError(f"--train-episodes and --eval-episodes must be >= 1, got {train_episodes} and {eval_episodes}")
    with open_dataset(path) as dataset:
        if train_episodes + eval_episodes > len(dataset):
            raise ValueError(
                f"{path}: holds {len(dataset)} episodes, fewer than --train-episodes {train_episodes} + --eval-episodes {eval_episodes}"
            )
        episodes = dataset.load()
        attrs, sha256 = dataset.attrs, dataset.sha256()
    height, width = attrs.image_size
    if height != width:
        raise ValueError(f"{path}: images are {height}x{width}; the world model needs square images")
    return TargetSplit(train=episodes[:train_episodes], held_out=episodes[len(episodes) - eval_episodes:],
                       action_dim=attrs.action_dim, image_size=height, sha256=sha256)


@dataclass
class LoadedTeachers:
    """Frozen teachers in the probe's canonical order."""

    names: list[str]
    models: list[Any]
    """WorldModel per teacher (frozen, on the CPU)."""
    weights_sha256: list[str]


def load_teachers(names: list[str], image_size: int) -> LoadedTeachers:
    """Load the named registry teachers frozen; refuse missing or incompatible ones (one line)."""
    registry = TeacherRegistry()
    models, hashes = [], []
    for name in names:
        info = registry.info(name)
        check_compatible(info, image_size)
        model, _, info = registry.load(name, device="cpu", frozen=True)
        models.append(model)
        hashes.append(info.weights_sha256)
    return LoadedTeachers(names=list(names), models=models, weights_sha256=hashes)


def ensemble(teachers: LoadedTeachers, columns: list[int], action_mapping: str, device: torch.device) -> Any:
    """A TeacherEnsemble of the teachers at `columns`, in that order."""
    chosen = TeacherEnsemble([teachers.models[i] for i in columns], [teachers.names[i] for i in columns], action_mapping)
    return chosen.to(device)


def attach_teacher_features(
    episodes: list[dict[str, np.ndarray]], teachers: Any, device: torch.device, prior_key: str, posterior_key: str
) -> list[dict[str, np.ndarray]]:
    """Copies of `episodes` with every teacher's one-step prediction (`prior_key`) and posterior
    (`posterior_key`) per step, (T, N, F) float16 each, as transfer stores them.

    `teachers` is a TeacherEnsemble; each episode is filtered from its first step, as acting does.
    """
    result = []
    for episode in episodes:
        images = torch.as_tensor(episode["image"]).unsqueeze(0).to(device)
        actions = torch.as_tensor(episode["action"]).float().unsqueeze(0).to(device)
        is_first = torch.as_tensor(episode["is_first"]).unsqueeze(0).to(device)
        posteriors, priors = teachers.observe(images, actions, is_first)
        result.append({**episode, prior_key: priors[0].to(torch.float16).cpu().numpy(),
                       posterior_key: posteriors[0].to(torch.float16).cpu().numpy()})
    return result
