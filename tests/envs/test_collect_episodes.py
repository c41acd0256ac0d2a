"""collect_episodes / collect_dataset and the policies, on a deterministic fake environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from episode_fakes import CounterEnv
from vid2act_envs.base import Domain, TaskSpec
from vid2act_envs.collect import EpisodeSummary, collect_dataset, collect_episodes, run_episode
from vid2act_envs.dataset import DatasetAttrs, DatasetError, EpisodeWriter, open_dataset
from vid2act_envs.policies import CallablePolicy, NoExpertError, RandomPolicy, expert_policy
from vid2act_envs.tasks import DomainRegistry, UnknownTaskError


def test_episode_follows_the_convention() -> None:
    env = CounterEnv(episode_steps=5)
    actions = iter(np.linspace(-0.8, 0.8, 5 * 4, dtype=np.float32).reshape(5, 4))
    policy = CallablePolicy(lambda obs: next(actions), name="scripted")
    episode = run_episode(env, policy)
    assert set(episode) == {"image", "action", "reward", "is_first", "is_last", "is_terminal", "success"}
    assert episode["image"].shape == (6, 16, 16, 3) and episode["image"].dtype == np.uint8
    np.testing.assert_array_equal(episode["image"][:, 0, 0, 0], np.arange(6))
    np.testing.assert_array_equal(episode["action"][0], np.zeros(4, np.float32))
    np.testing.assert_array_equal(episode["action"][1:], np.linspace(-0.8, 0.8, 20, dtype=np.float32).reshape(5, 4))
    # CounterEnv's reward is action[0] of the step that produced it: reward[t] pairs with action[t].
    np.testing.assert_array_equal(episode["reward"], episode["action"][:, 0])
    assert episode["reward"].dtype == np.float32 and episode["action"].dtype == np.float32
    assert episode["is_first"].tolist() == [True, False, False, False, False, False]
    assert episode["is_last"].tolist() == [False, False, False, False, False, True]
    assert episode["success"].tolist() == [False, False, False, True, True, True]


def test_collect_writes_a_valid_dataset_and_reports_statistics(tmp_path: Path) -> None:
    env = CounterEnv(episode_steps=4)
    policy = CallablePolicy(lambda obs: np.full(4, 0.5, np.float32), name="half")
    steps_seen: list[int] = []
    summaries: list[EpisodeSummary] = []
    path = tmp_path / "counter.h5"
    with EpisodeWriter(path, DatasetAttrs.from_env(env, policy.name)) as writer:
        stats = collect_episodes(
            env,
            policy,
            3,
            writer=writer,
            on_step=lambda obs: steps_seen.append(int(obs["image"][0, 0, 0])),
            on_episode=lambda episode, summary: summaries.append(summary),
            seed=11,
        )
    assert stats.episodes == 3 and stats.steps == 12
    assert stats.returns == [2.0, 2.0, 2.0] and stats.mean_return == 2.0
    assert stats.success_rate == 1.0
    assert steps_seen == [1, 2, 3, 4] * 3
    assert [summary.index for summary in summaries] == [0, 1, 2]
    assert summaries[0] == EpisodeSummary(index=0, steps=4, episode_return=2.0, success=True)
    assert env.reset_seeds == [11, None, None]
    with open_dataset(path) as dataset:
        assert len(dataset) == 3 and dataset.num_steps == 15
        assert dataset.attrs.collector == "half" and dataset.attrs.camera == "corner"
        assert dataset.attrs.image_size == (16, 16) and dataset.attrs.action_dim == 4


def test_success_is_success_at_any_step_and_undefined_without_success() -> None:
    env = CounterEnv(episode_steps=2)  # success only from step 3: never reached
    stats = collect_episodes(env, RandomPolicy(4, seed=0), 2)
    assert stats.success_rate == 0.0
    env = CounterEnv(episode_steps=3)
    env.spec = TaskSpec(domain="fake", task="nosuccess", action_repeat=1, episode_steps=3, camera=0, has_success=False)
    stats = collect_episodes(env, RandomPolicy(4, seed=0), 2)
    assert stats.success_rate is None and stats.successes == []
    assert "success" not in run_episode(env, RandomPolicy(4, seed=0))


def test_out_of_range_actions_are_clipped_and_bad_actions_rejected() -> None:
    env = CounterEnv(episode_steps=2)
    episode = run_episode(env, CallablePolicy(lambda obs: np.array([3.0, -2.0, 0.5, 1.0]), name="wild"))
    np.testing.assert_array_equal(episode["action"][1], [1.0, -1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"policy 'short' returned an action of shape \(3,\)"):
        run_episode(env, CallablePolicy(lambda obs: np.zeros(3), name="short"))
    with pytest.raises(ValueError, match="non-finite"):
        run_episode(env, CallablePolicy(lambda obs: np.full(4, np.nan), name="nan"))


def test_environment_that_never_ends_is_reported() -> None:
    env = CounterEnv(episode_steps=10**9)
    with pytest.raises(RuntimeError, match="did not end within 7 steps"):
        run_episode(env, RandomPolicy(4, seed=0), max_steps=7)


def test_random_policy_is_uniform_in_range_and_seeded() -> None:
    first = np.stack([RandomPolicy(3, seed=5)({}) for _ in range(1)])
    policy = RandomPolicy(3, seed=5)
    actions = np.stack([policy({}) for _ in range(4000)])
    np.testing.assert_array_equal(actions[0], first[0])
    assert actions.dtype == np.float32 and actions.shape == (4000, 3)
    assert actions.min() >= -1.0 and actions.max() <= 1.0
    assert abs(actions.mean()) < 0.05 and abs(actions.std() - 1 / np.sqrt(3)) < 0.02
    assert policy.name == "random"


def test_callable_policy_calls_reset_function() -> None:
    resets: list[int] = []
    policy = CallablePolicy(lambda obs: [0.1, 0.2], name="fixed", reset_fn=lambda: resets.append(1))
    policy.reset()
    assert resets == [1] and policy.name == "fixed"
    np.testing.assert_array_equal(policy({}), np.array([0.1, 0.2], np.float32))


def counter_registry(with_expert: bool) -> DomainRegistry:
    def make_env(spec: TaskSpec, seed: int = 0, image_size: int = 64, render: bool = True, fast_render: bool = True) -> CounterEnv:
        env = CounterEnv(episode_steps=spec.episode_steps, image_size=image_size)
        env.spec = spec
        return env

    def make_expert(spec: TaskSpec) -> CallablePolicy:
        return CallablePolicy(lambda obs: np.full(4, 0.25, np.float32), name="expert")

    registry = DomainRegistry()
    registry.register(
        Domain(
            name="fake",
            task_names=lambda: ["counter"],
            task_spec=lambda task: TaskSpec(
                domain="fake", task=task, action_repeat=1, episode_steps=6, camera="corner", has_success=True
            ),
            make_env=make_env,
            make_expert=make_expert if with_expert else None,
        )
    )
    return registry


def test_expert_policy_from_the_domain_or_a_clear_error() -> None:
    spec = counter_registry(True).resolve("fake:counter")
    assert expert_policy(counter_registry(True), spec).name == "expert"
    with pytest.raises(NoExpertError, match="domain 'fake' has no scripted expert for fake:counter"):
        expert_policy(counter_registry(False), spec)


def test_collect_dataset_default_path_append_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    registry = counter_registry(True)
    stats, path = collect_dataset(registry, "counter", 2, policy="expert", image_size=8, episode_steps=3)
    assert path == Path("data/counter.h5") and stats.steps == 6
    with open_dataset(path) as dataset:
        assert len(dataset) == 2 and dataset.attrs.collector == "expert" and dataset.attrs.image_size == (8, 8)
    stats, _ = collect_dataset(registry, "fake:counter", 1, policy="expert", image_size=8, episode_steps=3)
    with open_dataset(path) as dataset:
        assert len(dataset) == 3
    with pytest.raises(DatasetError, match=r"data/counter.h5: collector: file has 'expert', writer was given 'random'"):
        collect_dataset(registry, "counter", 1, policy="random", image_size=8, episode_steps=3)
    with pytest.raises(UnknownTaskError):
        collect_dataset(registry, "countr", 1)
    with pytest.raises(NoExpertError):
        collect_dataset(counter_registry(False), "counter", 1, out=tmp_path / "x.h5")
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        collect_dataset(registry, "counter", 1, policy="greedy")
    assert not (tmp_path / "x.h5").exists()


def test_appending_random_episodes_continues_the_seed(tmp_path: Path) -> None:
    registry = counter_registry(False)
    path = tmp_path / "random.h5"
    collect_dataset(registry, "counter", 1, policy="random", out=path, seed=3, image_size=8, episode_steps=3)
    collect_dataset(registry, "counter", 1, policy="random", out=path, seed=3, image_size=8, episode_steps=3)
    with open_dataset(path) as dataset:
        first, second = dataset[0]["action"], dataset[1]["action"]
    assert not np.array_equal(first, second)
    fresh = tmp_path / "fresh.h5"
    collect_dataset(registry, "counter", 1, policy="random", out=fresh, seed=3, image_size=8, episode_steps=3)
    with open_dataset(fresh) as dataset:
        np.testing.assert_array_equal(dataset[0]["action"], first)
