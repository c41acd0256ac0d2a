"""One conformance test parametrised over every registered domain (plugins included), plus the toy task in depth."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from vid2act_envs.base import Domain, Env, TaskSpec
from vid2act_plugin_example.plugin import toy_domain
from vid2act_teachers.plugins import build_plugin_manager, domain_registry
from vid2act_teachers.testing import ConformanceError, check_domain_conformance

# Every domain's first task, collected through the plugin hooks (built-ins + installed plugins).
# Meta-World has 50 tasks and DMC dozens: building them all belongs to the envs test suite.
REGISTERED_DOMAINS = domain_registry(build_plugin_manager()).domain_names()


def test_the_installed_domains_include_builtins_and_the_example() -> None:
    assert {"dmc", "metaworld", "toy"} <= set(REGISTERED_DOMAINS)


@pytest.mark.parametrize("domain_name", REGISTERED_DOMAINS)
def test_first_task_of_every_registered_domain_conforms(domain_name: str) -> None:
    check_domain_conformance(domain_registry(build_plugin_manager()).domain(domain_name), steps=3)


def test_toy_reach_runs_a_full_episode_and_the_expert_succeeds() -> None:
    registry = domain_registry(build_plugin_manager())
    env = registry.make_env("toy:reach", seed=3)
    expert = registry.domain("toy").make_expert(env.spec)
    try:
        obs = env.reset(seed=3)
        assert obs["image"].shape == (64, 64, 3) and obs["state"].shape == (6,)
        expert.reset()
        steps, total_reward, succeeded = 0, 0.0, False
        while not obs["is_last"]:
            obs = env.step(expert(obs))
            steps += 1
            total_reward += float(obs["reward"])
            succeeded |= bool(obs["success"])
        assert steps == env.spec.agent_steps == 125
        assert not obs["is_terminal"]
        assert succeeded and total_reward > 0.8 * steps  # the PD expert reaches and stays
        with pytest.raises(RuntimeError, match="call reset"):
            env.step(np.zeros(2, np.float32))
    finally:
        env.close()


def test_toy_reach_random_actions_rarely_succeed_and_images_move() -> None:
    env = toy_domain().make_env(toy_domain().task_spec("reach"), seed=0)
    try:
        first = env.reset(seed=0)
        rng = np.random.default_rng(0)
        later = first
        for _ in range(10):
            later = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        assert not np.array_equal(first["image"], later["image"])  # the point mass is visible and moves
        assert not np.array_equal(first["state"][:2], later["state"][:2])
        assert np.array_equal(first["state"][4:], later["state"][4:])  # the target stays put
        with pytest.raises(ValueError, match=r"action must have shape \(2,\)"):
            env.step(np.zeros(3, np.float32))
    finally:
        env.close()


def test_toy_reach_honours_overrides_and_other_image_sizes() -> None:
    registry = domain_registry(build_plugin_manager())
    env = registry.make_env("toy:reach", seed=1, image_size=32, episode_steps=20, action_repeat=4)
    try:
        assert env.image_size == (32, 32) and env.spec.agent_steps == 5
        obs = env.reset()
        assert obs["image"].shape == (32, 32, 3)
        for _ in range(5):
            obs = env.step(np.zeros(2, np.float32))
        assert obs["is_last"]
    finally:
        env.close()


# -- the conformance checks themselves catch broken environments --------------------------------


class _Broken:
    """Wraps a toy env and corrupts one aspect of it."""

    def __init__(self, env: Env, fault: str) -> None:
        self._env, self._fault = env, fault
        self.spec, self.action_dim, self.image_size = env.spec, env.action_dim, env.image_size
        self._rng = np.random.default_rng()

    def _corrupt(self, obs: dict[str, Any]) -> dict[str, Any]:
        obs = dict(obs)
        if self._fault == "float_image":
            obs["image"] = obs["image"].astype(np.float32)
        elif self._fault == "nan_state":
            obs["state"] = np.full_like(obs["state"], np.nan)
        elif self._fault == "nondeterministic":
            obs["state"] = obs["state"] + self._rng.normal(size=obs["state"].shape).astype(np.float32)
        elif self._fault == "no_is_first":
            obs["is_first"] = False
        return obs

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        return self._corrupt(self._env.reset(seed=seed))

    def step(self, action: np.ndarray) -> dict[str, Any]:
        return self._corrupt(self._env.step(action))

    def close(self) -> None:
        self._env.close()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("float_image", "image dtype must be uint8"),
        ("nan_state", "state has non-finite values"),
        ("nondeterministic", "first states differ"),
        ("no_is_first", "is_first must be True"),
    ],
)
def test_conformance_check_rejects_a_broken_domain(fault: str, message: str) -> None:
    good = toy_domain()

    def make_broken_env(spec: TaskSpec, **kwargs: Any) -> Env:
        return _Broken(good.make_env(spec, **kwargs), fault)

    broken = dataclasses.replace(good, make_env=make_broken_env)
    with pytest.raises(ConformanceError, match=f"toy:reach: {message}"):
        check_domain_conformance(broken)


def test_conformance_check_rejects_a_spec_from_another_domain() -> None:
    good = toy_domain()
    wrong = Domain(
        name="other",
        task_names=good.task_names,
        task_spec=good.task_spec,
        make_env=good.make_env,
    )
    with pytest.raises(ConformanceError, match="spec.domain is 'toy', expected 'other'"):
        check_domain_conformance(wrong)
