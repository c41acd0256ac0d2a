"""Pixel rollouts of a state expert through `collect_dataset`: images + actions in our format, expert
hash and mixing recorded, the same data from `vid2act experts collect`, the DMC domain's hook and workers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from experts_fakes import write_fake_expert
from typer.testing import CliRunner

from vid2act_cli.commands.app import app
from vid2act_envs.base import ExpertTraining, TrainedExpert
from vid2act_envs.collect import CollectStats, collect_dataset
from vid2act_envs.dataset import DatasetError, open_dataset
from vid2act_envs.mixed_collection import NoisyPolicy, dataset_annotations, is_random_episode
from vid2act_envs.policies import CallablePolicy, RandomPolicy
from vid2act_teachers.experts import ExpertError, expert_dir
from vid2act_teachers.experts.rollout import rollout_expert
from vid2act_teachers.plugins import domain_registry

TASK = "cartpole_balance"
EPISODE_STEPS = 20
"""Simulator steps per test episode (10 agent steps at action repeat 2)."""


def _home() -> Path:
    return Path(os.environ["VID2ACT_HOME"])


def _collect(out: Path, episodes: int, noise: float = 0.0, random_fraction: float = 0.0, seed: int = 0,
             expert: TrainedExpert | None = None, workers: int = 1) -> tuple[CollectStats, TrainedExpert]:
    registry = domain_registry()
    if expert is None:
        expert = rollout_expert(registry.resolve(TASK), expert_dir(_home(), TASK), noise=noise,
                                random_fraction=random_fraction, first_seed=seed)
    stats, _ = collect_dataset(registry, TASK, episodes, policy=expert.make_policy, out=out, seed=seed,
                               episode_steps=EPISODE_STEPS, annotations=expert.annotations, workers=workers,
                               registry_factory=domain_registry)
    return stats, expert


def _arrays(path: Path) -> list[dict[str, np.ndarray]]:
    with open_dataset(path) as dataset:
        return [dataset.episode(index) for index in range(len(dataset))]


def test_collected_pixel_episodes_carry_the_expert_hash(tmp_path: Path) -> None:
    meta = write_fake_expert(_home())
    out = tmp_path / "cartpole.h5"
    stats, used = _collect(out, 3, noise=0.1, random_fraction=1 / 3)
    assert used.annotations["expert_sha256"] == meta.sha256 and stats.episodes == 3
    assert used.description == f"SAC from state (cached), 10 agent steps, eval return 1.0 ± 0.0, sha256 {meta.sha256[:12]}"
    annotations = dataset_annotations(out)
    assert annotations["expert_sha256"] == meta.sha256
    assert annotations["action_noise"] == pytest.approx(0.1) and annotations["random_fraction"] == pytest.approx(1 / 3)
    with open_dataset(out) as dataset:
        assert len(dataset) == 3
        assert dataset.attrs.collector == f"sac-expert:cartpole_balance:{meta.sha256[:12]}+noise0.1+random0.333333"
        episode = dataset.episode(0)
    assert episode["image"].shape == (11, 64, 64, 3) and episode["image"].max() > 0
    assert episode["action"].shape == (11, 1) and np.abs(episode["action"]).max() <= 1.0
    # Episode 2 is the schedule's random one: its actions are those of a random policy seeded with its seed.
    random_policy = RandomPolicy(1, seed=2)
    np.testing.assert_array_equal(_arrays(out)[2]["action"][1:], np.stack([random_policy({}) for _ in range(10)]))


def test_appending_with_other_settings_is_refused_naming_the_collector(tmp_path: Path) -> None:
    write_fake_expert(_home())
    out = tmp_path / "cartpole.h5"
    _collect(out, 1)
    with pytest.raises(DatasetError, match="collector"):
        _collect(out, 1, noise=0.2)


def test_missing_expert_is_an_error_before_any_rendering(tmp_path: Path) -> None:
    registry = domain_registry()
    with pytest.raises(ExpertError, match="no trained expert"):
        rollout_expert(registry.resolve("walker_walk"), expert_dir(_home(), "walker_walk"))
    with pytest.raises(ExpertError, match="vid2act experts train walker_walk"):
        hook = registry.domain("dmc").train_expert
        assert hook is not None
        hook(registry.resolve("walker_walk"), ExpertTraining(steps=None, cache_dir=_home() / "experts", cached_only=True))


def test_experts_collect_is_collect_dataset_with_the_rollout_factory(tmp_path: Path) -> None:
    write_fake_expert(_home())
    by_command = tmp_path / "command.h5"
    result = CliRunner().invoke(app, ["experts", "collect", TASK, "--episodes", "2", "--noise", "0.3", "--random-fraction", "0.5",
                                      "--seed", "4", "--out", str(by_command)])
    assert result.exit_code == 0, result.output
    # The command collects full episodes; so does the direct call here.
    registry = domain_registry()
    expert = rollout_expert(registry.resolve(TASK), expert_dir(_home(), TASK), noise=0.3, random_fraction=0.5, first_seed=4)
    direct = tmp_path / "direct.h5"
    collect_dataset(registry, TASK, 2, policy=expert.make_policy, out=direct, seed=4, annotations=expert.annotations)
    assert dataset_annotations(by_command) == dataset_annotations(direct)
    for from_command, from_call in zip(_arrays(by_command), _arrays(direct), strict=True):
        for key in ("image", "action", "reward"):
            np.testing.assert_array_equal(from_command[key], from_call[key], err_msg=key)


@pytest.mark.slow
def test_the_dmc_hook_expert_collects_the_same_episodes_in_two_workers(tmp_path: Path) -> None:
    write_fake_expert(_home())
    registry = domain_registry()
    hook = registry.domain("dmc").train_expert
    assert hook is not None
    expert = hook(registry.resolve(TASK), ExpertTraining(steps=None, cache_dir=_home() / "experts", cached_only=True))
    _collect(tmp_path / "one.h5", 3, seed=7, expert=expert, workers=1)
    _collect(tmp_path / "two.h5", 3, seed=7, expert=expert, workers=2)
    for one, two in zip(_arrays(tmp_path / "one.h5"), _arrays(tmp_path / "two.h5"), strict=True):
        for key in ("image", "action", "reward", "is_first", "is_last"):
            np.testing.assert_array_equal(one[key], two[key], err_msg=key)


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


def test_a_cached_expert_is_rolled_out_without_a_progress_bar_or_training_note() -> None:
    meta = write_fake_expert(_home())
    progress, notes = [], []
    hook = domain_registry().domain("dmc").train_expert
    assert hook is not None
    trained = hook(domain_registry().resolve("cartpole_balance"),
                   ExpertTraining(steps=meta.agent_steps, cache_dir=_home() / "experts",
                                  on_progress=lambda *update: progress.append(update), on_note=notes.append))
    assert "(cached)" in trained.description and meta.sha256[:12] in trained.description
    assert progress == [] and notes == []
