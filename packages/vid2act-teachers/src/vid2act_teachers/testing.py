"""Conformance checks for vid2act domains and environments, shipped for plugin authors.

A plugin's test suite needs one line per task it wants covered:

    from vid2act_teachers.testing import check_domain_conformance
    from my_plugin.plugin import my_domain

    def test_my_domain_conforms():
        check_domain_conformance(my_domain(), "my-task")

The checks follow `vid2act_envs.base`: the TaskSpec, the observation dict (keys, dtypes,
shapes, flags), actions at the bounds of [-1, 1], determinism of a reset with the same seed
(first image and state equal, states equal after the same actions), finite state and reward, and
the scripted expert's actions if the domain has one. A failure raises `ConformanceError` (an
AssertionError, so pytest shows it as a test failure) whose message names the task and the
field.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vid2act_envs.base import Domain, Env, Observation, Policy, TaskSpec

OBSERVATION_KEYS = ("image", "state", "reward", "success", "is_first", "is_last", "is_terminal")
"""Keys every observation must have (extra keys are allowed)."""

FLAG_KEYS = ("success", "is_first", "is_last", "is_terminal")


class ConformanceError(AssertionError):
    """A domain or environment breaks the vid2act environment interface."""


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise ConformanceError(f"{where}: {problem}")


def check_task_spec(domain: Domain, task: str) -> TaskSpec:
    """Check `domain.task_spec(task)` against the domain and return it."""
    where = f"{domain.name}:{task}"
    spec = domain.task_spec(task)
    _require(isinstance(spec, TaskSpec), where, f"task_spec() returned {type(spec).__name__}, not a TaskSpec")
    _require(spec.domain == domain.name, where, f"spec.domain is {spec.domain!r}, expected {domain.name!r}")
    _require(spec.task == task, where, f"spec.task is {spec.task!r}, expected {task!r}")
    _require(
        isinstance(spec.action_repeat, int) and spec.action_repeat >= 1,
        where,
        f"spec.action_repeat must be an int >= 1, got {spec.action_repeat!r}",
    )
    _require(
        isinstance(spec.episode_steps, int) and spec.episode_steps >= spec.action_repeat,
        where,
        f"spec.episode_steps must be an int >= action_repeat, got {spec.episode_steps!r}",
    )
    _require(isinstance(spec.camera, (str, int)), where, f"spec.camera must be a name or id, got {spec.camera!r}")
    return spec


def check_observation(obs: Observation, env: Env, *, first: bool, rendered: bool = True) -> None:
    """Check one observation of `env`: keys, image (H, W, 3) uint8, finite float32 state, flags.

    `first` says whether it came from reset(); `rendered=False` skips the non-blank image check
    (for environments built with render=False).
    """
    where = env.spec.name
    _require(isinstance(obs, dict), where, f"observation must be a dict, got {type(obs).__name__}")
    missing = [key for key in OBSERVATION_KEYS if key not in obs]
    _require(not missing, where, f"observation lacks {', '.join(missing)}")
    image = obs["image"]
    expected_shape = (*env.image_size, 3)
    _require(isinstance(image, np.ndarray), where, f"image must be a numpy array, got {type(image).__name__}")
    _require(image.dtype == np.uint8, where, f"image dtype must be uint8, got {image.dtype}")
    _require(image.shape == expected_shape, where, f"image shape must be {expected_shape}, got {image.shape}")
    if rendered:
        _require(int(image.max()) > int(image.min()), where, "image is one flat colour (did rendering fail?)")
    state = obs["state"]
    _require(isinstance(state, np.ndarray), where, f"state must be a numpy array, got {type(state).__name__}")
    _require(state.ndim == 1 and state.size > 0, where, f"state must be a non-empty vector, got shape {state.shape}")
    _require(state.dtype == np.float32, where, f"state dtype must be float32, got {state.dtype}")
    _require(bool(np.all(np.isfinite(state))), where, f"state has non-finite values: {state.tolist()}")
    reward = obs["reward"]
    _require(np.ndim(reward) == 0, where, f"reward must be a scalar, got shape {np.shape(reward)}")
    _require(bool(np.isfinite(reward)), where, f"reward must be finite, got {reward!r}")
    for key in FLAG_KEYS:
        _require(isinstance(obs[key], (bool, np.bool_)), where, f"{key} must be a bool, got {type(obs[key]).__name__}")
    _require(bool(obs["is_first"]) == first, where, f"is_first must be {first} here, got {obs['is_first']}")
    if first:
        _require(float(reward) == 0.0, where, f"reward on reset must be 0.0, got {reward!r}")
        _require(not obs["is_last"], where, "is_last is True on the observation returned by reset()")
    if obs["is_terminal"]:
        _require(bool(obs["is_last"]), where, "is_terminal is True but is_last is False")
    if not env.spec.has_success:
        _require(not obs["success"], where, "success is True but the task spec says has_success=False")


def check_env_conformance(env: Env, *, seed: int = 0, steps: int = 3, rendered: bool = True) -> list[Observation]:
    """Reset `env` with `seed` and take `steps` steps (first at -1, then +1, then seeded random actions).

    Checks the Env protocol attributes and every observation; returns the observations.
    """
    where = env.spec.name if isinstance(getattr(env, "spec", None), TaskSpec) else type(env).__name__
    _require(isinstance(env, Env), where, f"{type(env).__name__} does not implement vid2act_envs.base.Env")
    _require(isinstance(env.spec, TaskSpec), where, f"env.spec must be a TaskSpec, got {type(env.spec).__name__}")
    _require(
        isinstance(env.action_dim, int) and env.action_dim >= 1,
        where,
        f"action_dim must be a positive int, got {env.action_dim!r}",
    )
    _require(
        isinstance(env.image_size, tuple) and len(env.image_size) == 2 and all(int(s) > 0 for s in env.image_size),
        where,
        f"image_size must be a (height, width) tuple, got {env.image_size!r}",
    )
    observations = [env.reset(seed=seed)]
    check_observation(observations[0], env, first=True, rendered=rendered)
    state_size = observations[0]["state"].shape
    rng = np.random.default_rng(seed)
    bound_actions = [-np.ones(env.action_dim, np.float32), np.ones(env.action_dim, np.float32)]
    for index in range(steps):
        if observations[-1]["is_last"]:
            break
        if index < len(bound_actions):
            action = bound_actions[index]
        else:
            action = rng.uniform(-1.0, 1.0, env.action_dim).astype(np.float32)
        obs = env.step(action)
        check_observation(obs, env, first=False, rendered=rendered)
        _require(obs["state"].shape == state_size, where, f"state shape changed from {state_size} to {obs['state'].shape}")
        observations.append(obs)
    return observations


def check_determinism(first_env: Env, second_env: Env, *, seed: int = 0, steps: int = 3) -> None:
    """Two environments of one task reset with the same seed give the same first image and state,
    and the same states after the same actions; a second reset(seed) repeats the first."""
    where = first_env.spec.name
    first, second = first_env.reset(seed=seed), second_env.reset(seed=seed)
    _require(np.array_equal(first["image"], second["image"]), where, f"first images differ for seed {seed}")
    _require(np.array_equal(first["state"], second["state"]), where, f"first states differ for seed {seed}")
    rng = np.random.default_rng(seed + 1)
    for step in range(1, steps + 1):
        action = rng.uniform(-1.0, 1.0, first_env.action_dim).astype(np.float32)
        first, second = first_env.step(action), second_env.step(action)
        _require(
            np.allclose(first["state"], second["state"], atol=1e-6),
            where,
            f"states differ after {step} identical actions with seed {seed}",
        )
        if first["is_last"]:
            break
    again = first_env.reset(seed=seed)
    _require(
        np.array_equal(again["image"], second_env.reset(seed=seed)["image"]),
        where,
        f"reset(seed={seed}) after an episode gives another first image",
    )


def check_expert(policy: Any, env: Env, observations: list[Observation]) -> None:
    """A scripted expert implements Policy and maps each observation to a finite action in [-1, 1]."""
    where = env.spec.name
    _require(isinstance(policy, Policy), where, f"expert {type(policy).__name__} does not implement vid2act_envs.base.Policy")
    _require(isinstance(policy.name, str) and policy.name != "", where, f"expert name must be a non-empty string, got {policy.name!r}")
    policy.reset()
    for obs in observations:
        action = np.asarray(policy(obs))
        _require(action.shape == (env.action_dim,), where, f"expert action shape must be ({env.action_dim},), got {action.shape}")
        _require(bool(np.all(np.isfinite(action))), where, f"expert action is not finite: {action.tolist()}")
        _require(
            bool(np.all(np.abs(action) <= 1.0 + 1e-6)),
            where,
            f"expert action leaves [-1, 1]: {action.tolist()}",
        )


def check_domain_conformance(
    domain: Domain,
    task: str | None = None,
    *,
    seed: int = 0,
    steps: int = 3,
    image_size: int = 64,
) -> None:
    """Run every check on one task of `domain` (its first task when `task` is None).

    Builds two environments with `seed` and `image_size`, steps one of them `steps` times
    (actions -1, +1, then random), compares the two for determinism, and checks the expert's
    actions when the domain has one. Raises ConformanceError naming the task and the problem.
    """
    _require(isinstance(domain, Domain), repr(domain), f"expected a vid2act_envs.base.Domain, got {type(domain).__name__}")
    names = domain.task_names()
    _require(
        isinstance(names, list) and len(names) > 0 and all(isinstance(name, str) for name in names),
        domain.name,
        "task_names() must return a non-empty list of str",
    )
    _require(len(set(names)) == len(names), domain.name, "task_names() lists a task twice")
    task = names[0] if task is None else task
    _require(task in names, domain.name, f"task {task!r} is not in task_names()")
    spec = check_task_spec(domain, task)
    # The keywords DomainRegistry.make_env passes to every domain's factory.
    env = domain.make_env(spec, seed=seed, image_size=image_size, render=True, fast_render=True)
    twin = domain.make_env(spec, seed=seed, image_size=image_size, render=True, fast_render=True)
    try:
        _require(env.spec == spec, spec.name, f"env.spec {env.spec!r} differs from the spec it was built with")
        _require(
            tuple(env.image_size) == (image_size, image_size),
            spec.name,
            f"image_size must be ({image_size}, {image_size}), got {env.image_size!r}",
        )
        observations = check_env_conformance(env, seed=seed, steps=steps)
        check_determinism(env, twin, seed=seed, steps=steps)
        if domain.has_expert(spec) and domain.make_expert is not None:
            check_expert(domain.make_expert(spec), env, observations)
    finally:
        env.close()
        twin.close()
