"""DeepMind Control pixel environments: every task the paper uses, with real simulators."""

from __future__ import annotations

import numpy as np
import pytest
from vid2act_envs.base import Env, TaskSpec, check_step_counts
from vid2act_envs.dmc import DMCEnv, dmc_task_names, split_task_name, step_repeated
from vid2act_envs.rendering import mean_abs_pixel_difference
from vid2act_teachers.plugins import domain_registry

PAPER_DMC_TASKS = ["cheetah_run", "hopper_stand", "walker_walk", "walker_run", "quadruped_walk", "quadruped_run"]
ACTION_SIZES = {"cheetah": 6, "hopper": 4, "walker": 6, "quadruped": 12}
IMAGE_SIZE = 32
MIN_IMAGE_STD = 5.0


@pytest.mark.parametrize("task", PAPER_DMC_TASKS)
def test_paper_task_builds_steps_renders_and_ends_on_time_limit(task: str) -> None:
    env = domain_registry().make_env(task, seed=0, image_size=IMAGE_SIZE, episode_steps=6)
    try:
        assert isinstance(env, Env)
        assert env.action_dim == ACTION_SIZES[task.split("_")[0]]
        first = env.reset()
        assert first["image"].shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        assert first["image"].dtype == np.uint8
        assert first["image"].std() > MIN_IMAGE_STD
        assert first["state"].dtype == np.float32 and first["state"].ndim == 1
        assert first["reward"] == 0.0 and first["reward"].dtype == np.float32
        assert first["is_first"] and not first["is_last"] and not first["is_terminal"]
        assert first["success"] is False
        steps = []
        rng = np.random.default_rng(0)
        while not (steps and steps[-1]["is_last"]):
            steps.append(env.step(rng.uniform(-1, 1, env.action_dim)))
        # 6 simulator steps with action repeat 2 -> 3 agent steps.
        assert len(steps) == 3
        assert [obs["is_first"] for obs in steps] == [False, False, False]
        assert [obs["is_last"] for obs in steps] == [False, False, True]
        assert not any(obs["is_terminal"] for obs in steps), "time limit must not be a termination"
        assert all(obs["image"].shape == (IMAGE_SIZE, IMAGE_SIZE, 3) for obs in steps)
        assert not np.array_equal(steps[-1]["image"], first["image"])
        with pytest.raises(RuntimeError, match="call reset"):
            env.step(np.zeros(env.action_dim))
    finally:
        env.close()


def test_quadruped_actions_are_normalised_to_its_bounds() -> None:
    env = domain_registry().make_env("quadruped_walk", seed=0, image_size=IMAGE_SIZE, render=False)
    try:
        assert isinstance(env, DMCEnv)
        low, high = env.action_bounds
        assert not (np.allclose(low, -1.0) and np.allclose(high, 1.0)), "quadruped bounds are not [-1, 1]"
        np.testing.assert_allclose(env.to_simulator_action(np.ones(12)), high)
        np.testing.assert_allclose(env.to_simulator_action(-np.ones(12)), low)
        np.testing.assert_allclose(env.to_simulator_action(np.zeros(12)), (low + high) / 2)
        np.testing.assert_allclose(env.to_simulator_action(5 * np.ones(12)), high)  # clipped
        env.reset()
        env.step(np.ones(12, dtype=np.float32))
        np.testing.assert_allclose(env.physics.data.ctrl, high)
        with pytest.raises(ValueError, match="shape"):
            env.step(np.ones(6))
    finally:
        env.close()


def test_default_episode_lengths_and_cameras_match_the_paper() -> None:
    walker = domain_registry().resolve("walker_walk")
    assert (walker.action_repeat, walker.episode_steps, walker.agent_steps) == (2, 1000, 500)
    assert walker.camera == 0 and not walker.has_success
    assert domain_registry().resolve("quadruped_run").camera == 2


def test_real_time_limit_is_500_agent_steps_without_rendering() -> None:
    env = domain_registry().make_env("cheetah_run", seed=0, render=False)
    try:
        obs = env.reset()
        count = 0
        while not obs["is_last"]:
            obs = env.step(np.zeros(env.action_dim))
            count += 1
        assert count == 500
        assert not obs["is_terminal"]
        assert not obs["image"].any() and obs["image"].shape == (64, 64, 3)
    finally:
        env.close()


def test_same_seed_gives_identical_first_images_and_reset_seed_reproduces() -> None:
    envs = [domain_registry().make_env("walker_walk", seed=seed, image_size=IMAGE_SIZE) for seed in (3, 3, 4)]
    try:
        first = [env.reset()["image"] for env in envs]
        assert np.array_equal(first[0], first[1])
        assert not np.array_equal(first[0], first[2])
        again = envs[2].reset(seed=3)["image"]
        assert np.array_equal(again, first[0])
    finally:
        for env in envs:
            env.close()


def test_fast_rendering_looks_like_default_rendering() -> None:
    images = []
    for fast_render in (False, True):
        env = domain_registry().make_env("walker_walk", seed=0, image_size=IMAGE_SIZE, fast_render=fast_render)
        try:
            images.append(np.stack([env.reset()["image"], env.step(np.ones(6))["image"]]))
        finally:
            env.close()
    assert mean_abs_pixel_difference(images[0], images[1]) < 1.0


def test_every_suite_task_is_reachable_by_domain_task_name() -> None:
    names = dmc_task_names()
    assert len(names) >= 50
    assert split_task_name("ball_in_cup_catch") == ("ball_in_cup", "catch")
    assert split_task_name("point_mass_easy") == ("point_mass", "easy")
    assert split_task_name("cartpole_balance_sparse") == ("cartpole", "balance_sparse")
    for name in names:
        assert domain_registry().resolve(name).task == name


class _FakeTimeStep:
    def __init__(self, reward: float | None, last: bool, discount: float) -> None:
        self.reward, self._last, self.discount = reward, last, discount

    def last(self) -> bool:
        return self._last


class _FakeSuiteEnv:
    """Gives the scripted time steps in order and records the actions it was stepped with."""

    def __init__(self, steps: list[_FakeTimeStep]) -> None:
        self.steps = list(steps)
        self.actions: list[np.ndarray] = []

    def step(self, action: np.ndarray) -> _FakeTimeStep:
        self.actions.append(action)
        return self.steps.pop(0)


def _spec(action_repeat: int, episode_steps: int) -> TaskSpec:
    return TaskSpec("dmc", "fake_task", action_repeat, episode_steps, camera=0, has_success=False)


def test_step_repeated_sums_rewards_and_stops_at_the_tasks_end() -> None:
    env = _FakeSuiteEnv([_FakeTimeStep(1.0, False, 1.0), _FakeTimeStep(0.5, True, 0.0), _FakeTimeStep(9.0, False, 1.0)])
    outcome = step_repeated(env, np.zeros(1), _spec(action_repeat=3, episode_steps=100), simulator_steps=4)
    assert len(env.actions) == 2  # the third repeat is not taken after the task ended
    assert outcome.reward == 1.5 and outcome.simulator_steps == 6
    assert outcome.terminal and outcome.last


def test_step_repeated_time_limit_ends_the_episode_without_terminal() -> None:
    env = _FakeSuiteEnv([_FakeTimeStep(None, False, 1.0), _FakeTimeStep(2.0, False, 1.0)])
    outcome = step_repeated(env, np.zeros(1), _spec(action_repeat=4, episode_steps=10), simulator_steps=8)
    assert len(env.actions) == 2 and outcome.simulator_steps == 10
    assert outcome.reward == 2.0 and outcome.last and not outcome.terminal
    # The task's own end with a non-zero discount is the episode's end, not a terminal step.
    env = _FakeSuiteEnv([_FakeTimeStep(0.0, True, 1.0)])
    outcome = step_repeated(env, np.zeros(1), _spec(action_repeat=2, episode_steps=10), simulator_steps=0)
    assert outcome.last and not outcome.terminal and outcome.simulator_steps == 1
    env = _FakeSuiteEnv([_FakeTimeStep(0.0, False, 1.0), _FakeTimeStep(0.0, False, 1.0)])
    outcome = step_repeated(env, np.zeros(1), _spec(action_repeat=2, episode_steps=10), simulator_steps=0)
    assert not outcome.last and not outcome.terminal


def test_step_counts_below_one_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="action_repeat must be >= 1, got 0"):
        check_step_counts(_spec(action_repeat=0, episode_steps=10))
    with pytest.raises(ValueError, match="episode_steps must be >= 1, got 0"):
        check_step_counts(_spec(action_repeat=1, episode_steps=0))
