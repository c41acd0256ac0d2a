"""Pixel rollouts of a state expert: images + actions in our format, expert hash and mixing recorded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from experts_fakes import write_fake_expert

from vid2act_envs.dataset import DatasetError, open_dataset
from vid2act_envs.mixed_collection import NoisyPolicy, dataset_annotations, is_random_episode
from vid2act_envs.policies import CallablePolicy
from vid2act_teachers.experts import ExpertError
from vid2act_teachers.experts.rollout import collect_expert_dataset
from vid2act_teachers.plugins import domain_registry

EPISODE_STEPS = 20
"""Simulator steps per test episode (10 agent steps at action repeat 2)."""


def _home() -> Path:
    return Path(os.environ["VID2ACT_HOME"])


def test_collected_pixel_episodes_carry_the_expert_hash(tmp_path: Path) -> None:
    meta = write_fake_expert(_home())
    out = tmp_path / "cartpole.h5"
    stats, used = collect_expert_dataset(
        domain_registry(), "cartpole_balance", _home(), out, episodes=3, noise=0.1, random_fraction=1 / 3,
        seed=0, episode_steps=EPISODE_STEPS,
    )
    assert used.sha256 == meta.sha256 and stats.episodes == 3
    annotations = dataset_annotations(out)
    assert annotations["expert_sha256"] == meta.sha256
    assert annotations["action_noise"] == pytest.approx(0.1) and annotations["random_fraction"] == pytest.approx(1 / 3)
    with open_dataset(out) as dataset:
        assert len(dataset) == 3
        assert dataset.attrs.collector == f"sac-expert:cartpole_balance:{meta.sha256[:12]}+noise0.1+random0.333333"
        episode = dataset.episode(0)
    assert episode["image"].shape == (11, 64, 64, 3) and episode["image"].max() > 0
    assert episode["action"].shape == (11, 1) and np.abs(episode["action"]).max() <= 1.0


def test_appending_with_other_settings_is_refused_naming_the_collector(tmp_path: Path) -> None:
    write_fake_expert(_home())
    out = tmp_path / "cartpole.h5"
    registry = domain_registry()
    collect_expert_dataset(registry, "cartpole_balance", _home(), out, episodes=1, episode_steps=EPISODE_STEPS)
    with pytest.raises(DatasetError, match="collector"):
        collect_expert_dataset(registry, "cartpole_balance", _home(), out, episodes=1, noise=0.2, episode_steps=EPISODE_STEPS)


def test_missing_expert_is_an_error_before_any_rendering(tmp_path: Path) -> None:
    with pytest.raises(ExpertError, match="no trained expert"):
        collect_expert_dataset(domain_registry(), "walker_walk", _home(), tmp_path / "w.h5", episodes=1)
    assert not (tmp_path / "w.h5").exists()


def test_mixing_schedule_holds_the_fraction_in_every_prefix() -> None:
    for fraction in (0.0, 0.25, 1 / 3, 0.5, 1.0):
        flags = [is_random_episode(index, fraction) for index in range(12)]
        for prefix in range(1, 13):
            assert sum(flags[:prefix]) == int(np.floor(prefix * fraction + 1e-9))


def test_noisy_policy_perturbs_and_clips() -> None:
    base = CallablePolicy(lambda obs: np.full(3, 0.99, dtype=np.float32), name="const")
    noisy = NoisyPolicy(base, std=0.5, seed=0)
    actions = np.stack([noisy({}) for _ in range(50)])
    assert noisy.name == "const+noise0.5"
    assert actions.max() <= 1.0 and actions.min() < 0.9 and actions.std() > 0.1
    assert np.array_equal(NoisyPolicy(base, std=0.0)({}), base({}))
