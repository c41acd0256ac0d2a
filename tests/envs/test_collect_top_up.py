"""`collect_dataset(top_up=True)`, the way `teachers add` fills its dataset: a file is appended to
until it holds N episodes, the appended episodes' seeds continuing after those already there."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vid2act_envs.base import Observation
from vid2act_envs.collect import collect_dataset
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.plugins import domain_registry

TASK = "cartpole_balance"
SETTINGS = {"image_size": 32, "episode_steps": 6}


class SeedPolicy:
    """A policy factory whose policy pushes with seed / 100: a stored action tells which seed built it."""

    name = "seed-policy"

    def __init__(self, action_dim: int, seed: int) -> None:
        self.action = np.zeros(action_dim, np.float32)
        self.action[0] = seed / 100

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, obs: Observation) -> np.ndarray:
        return self.action


def test_top_up_appends_until_the_file_holds_n_episodes_continuing_the_seeds(tmp_path: Path) -> None:
    registry = domain_registry()
    path = tmp_path / "balance.h5"
    steps: list[int] = []
    first, _ = collect_dataset(registry, TASK, 2, policy=SeedPolicy, out=path, seed=10, top_up=True, **SETTINGS)
    topped, _ = collect_dataset(registry, TASK, 5, policy=SeedPolicy, out=path, seed=10, top_up=True,
                                on_step=lambda obs: steps.append(1), **SETTINGS)
    full, _ = collect_dataset(registry, TASK, 4, policy=SeedPolicy, out=path, seed=10, top_up=True, **SETTINGS)
    assert (first.episodes, topped.episodes, full.episodes) == (2, 3, 0)
    assert len(steps) == 3 * 3  # 6 simulator steps at action repeat 2
    env = registry.make_env(TASK, seed=0, **SETTINGS)
    try:
        with open_dataset(path) as dataset:
            assert len(dataset) == 5 and dataset.attrs.collector == "seed-policy"
            for index in range(5):
                episode = dataset.episode(index)
                np.testing.assert_allclose(episode["action"][1:, 0], (10 + index) / 100, err_msg=f"episode {index}")
                np.testing.assert_array_equal(episode["image"][0], env.reset(seed=10 + index)["image"], err_msg=f"episode {index}")
    finally:
        env.close()
