"""Tiny teachers with a short real pretraining, built once per test session and imported where needed.

`build_teacher_store` collects a random-policy dataset per source task, pretrains a tiny world model
on it with `pretrain_teacher` (what `vid2act pretrain` runs) and exports each registered teacher
(weights, config, action-replay set) to one file, which `TeacherStore.install` imports into a
test's `VID2ACT_HOME` under the names the test uses. The session fixture
`pretrained_teachers` (tests/conftest.py) calls the builder once, so the suite pays for the pretraining once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

PRETRAIN_STEPS = 60
SOURCE_TASKS: dict[str, str] = {
    "cartpole_swingup": "cartpole_swingup",
    "cartpole_balance": "cartpole_balance",
    "walker_walk": "walker_walk",
}
"""Store key -> source task; each is pretrained once."""


@dataclass(frozen=True)
class TeacherStore:
    """Exported pretrained teachers: store key -> .safetensors file."""

    files: dict[str, Path]
    steps: int

    def install(self, home: Path, names: dict[str, str]) -> None:
        """Import teacher `key` as `name` for every name -> key of `names` into the registry at `home`."""
        from vid2act_teachers.registry import TeacherRegistry

        registry = TeacherRegistry(home, include_plugins=False)
        for name, key in names.items():
            info = registry.import_file(self.files[key], name)
            assert info.train_steps == self.steps, f"{name}: {info.train_steps} pretraining steps, expected {self.steps}"


def build_teacher_store(root: Path) -> TeacherStore:
    """Pretrain every `SOURCE_TASKS` teacher for `PRETRAIN_STEPS` steps (tiny preset) under `root` and export it."""
    import torch

    from vid2act_core.config import preset
    from vid2act_envs.collect import collect_dataset
    from vid2act_teachers.plugins import domain_registry
    from vid2act_teachers.registry import TeacherRegistry

    from vid2act_cli.compose.pretraining import pretrain_teacher
    from vid2act_cli.compose.reporter import PlainReporter

    home = root / "home"
    files: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VID2ACT_HOME", str(home))
        for seed, (key, task) in enumerate(SOURCE_TASKS.items()):
            data = home / "datasets" / f"{key}.h5"
            collect_dataset(domain_registry(), task, 1, policy="random", out=data, seed=seed, episode_steps=40)
            config = preset("tiny")
            config.seed = seed
            config.pretrain.steps = PRETRAIN_STEPS
            config.pretrain.eval_every = PRETRAIN_STEPS
            pretrain_teacher([data], key, config, home / "pretrain" / key, torch.device("cpu"), PlainReporter())
            files[key] = TeacherRegistry(home, include_plugins=False).export(key, root / f"{key}.safetensors")
    return TeacherStore(files, PRETRAIN_STEPS)

