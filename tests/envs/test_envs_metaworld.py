"""Meta-World v3 pixel environments: every task the paper uses, with real simulators."""

from __future__ import annotations

import numpy as np
import pytest
from vid2act_envs.base import Env, Policy
from vid2act_envs.metaworld_env import MetaWorldEnv, metaworld_task_names
from vid2act_teachers.plugins import domain_registry

PAPER_SOURCES = ["button-press-topdown", "door-open", "drawer-close", "peg-insert-side", "pick-place", "push"]
PAPER_TARGETS = ["button-press", "coffee-push", "drawer-open", "door-lock", "window-open", "door-close"]
IMAGE_SIZE = 32
MIN_IMAGE_STD = 5.0


@pytest.mark.parametrize("task", PAPER_SOURCES + PAPER_TARGETS)
def test_paper_task_builds_steps_renders_and_ends_on_time_limit(task: str) -> None:
    env = domain_registry().make_env(f"metaworld:{task}", seed=0, image_size=IMAGE_SIZE, episode_steps=3)
    try:
        assert isinstance(env, Env)
        assert env.action_dim == 4
        first = env.reset()
        assert first["image"].shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        assert first["image"].dtype == np.uint8
        assert first["image"].flags["C_CONTIGUOUS"]
        assert first["image"].std() > MIN_IMAGE_STD
        assert first["state"].shape == (39,) and first["state"].dtype == np.float32
        assert first["is_first"] and not first["is_last"] and first["success"] is False
        steps = [env.step(np.full(4, 0.5, dtype=np.float32)) for _ in range(3)]
        assert [obs["is_last"] for obs in steps] == [False, False, True]
        assert not any(obs["is_first"] or obs["is_terminal"] for obs in steps)
        assert all(isinstance(obs["success"], bool) for obs in steps)
        assert all(obs["reward"].dtype == np.float32 for obs in steps)
        with pytest.raises(RuntimeError, match="call reset"):
            env.step(np.zeros(4))
    finally:
        env.close()


def test_corner_camera_is_flipped_upright() -> None:
    env = domain_registry().make_env("door-open", seed=0, image_size=IMAGE_SIZE)
    try:
        assert isinstance(env, MetaWorldEnv)
        image = env.reset()["image"]
        gymnasium_frame = env._env.render()  # gymnasium's own frame of the same state
        assert np.array_equal(image, np.flipud(gymnasium_frame))
        assert not np.array_equal(image, gymnasium_frame)
    finally:
        env.close()


def test_default_lengths_camera_and_success_flag() -> None:
    spec = domain_registry().resolve("metaworld:door-open")
    assert (spec.action_repeat, spec.episode_steps, spec.agent_steps) == (1, 500, 500)
    assert spec.camera == "corner" and spec.has_success


def test_seeds_reproduce_and_positions_change_per_reset() -> None:
    envs = [domain_registry().make_env("pick-place", seed=seed, image_size=IMAGE_SIZE) for seed in (7, 7, 8)]
    try:
        first = [env.reset() for env in envs]
        assert np.array_equal(first[0]["image"], first[1]["image"])
        np.testing.assert_array_equal(first[0]["state"], first[1]["state"])
        assert not np.array_equal(first[0]["image"], first[2]["image"])
        second = envs[0].reset()
        assert not np.allclose(second["state"][4:7], first[0]["state"][4:7]), "object position must be redrawn"
        again = envs[2].reset(seed=7)
        assert np.array_equal(again["image"], first[0]["image"])
    finally:
        for env in envs:
            env.close()


def test_render_false_gives_zero_images_of_the_right_shape() -> None:
    env = domain_registry().make_env("push", seed=0, image_size=48, render=False)
    try:
        obs = env.reset()
        assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
        assert not obs["image"].any()
        assert obs["state"].any()
    finally:
        env.close()


@pytest.mark.parametrize("task", ["button-press-topdown", "door-open", "drawer-close"])
def test_scripted_expert_reaches_success(task: str) -> None:
    registry = domain_registry()
    spec = registry.resolve(task)
    domain = registry.domain(spec.domain)
    assert domain.make_expert is not None
    expert = domain.make_expert(spec)
    assert isinstance(expert, Policy) and expert.name == "expert"
    env = registry.make_env(spec, seed=1, render=False)
    try:
        obs = env.reset()
        expert.reset()
        succeeded = False
        while not obs["is_last"] and not succeeded:
            action = expert(obs)
            assert action.shape == (4,) and np.all(np.abs(action) <= 1.0)
            obs = env.step(action)
            succeeded = obs["success"]
        assert succeeded, f"scripted expert failed on {task}"
    finally:
        env.close()


def test_all_fifty_v3_tasks_are_listed_without_suffix() -> None:
    names = metaworld_task_names()
    assert len(names) == 50
    assert {"door-open", "button-press-topdown", "peg-insert-side"} <= set(names)
    assert not any(name.endswith("-v3") for name in names)
