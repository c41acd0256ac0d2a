"""State-expert training: learns, caches, reuses, resumes, refuses a checkpoint of other settings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from vid2act_teachers.experts import ExpertConfig, ExpertError, train_expert
from vid2act_teachers.experts import train as train_module
from vid2act_teachers.experts.evaluate import evaluate_state_policy, random_action_fn
from vid2act_teachers.experts.policy import actor_weights_from_sb3, build_actor
from vid2act_teachers.experts.store import POLICY_FILE, load_expert

TINY = ExpertConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=50, checkpoint_every=100, eval_episodes=1)


def test_training_beats_a_random_policy_on_cartpole_balance(tmp_path: Path) -> None:
    config = ExpertConfig(hidden_sizes=(64, 64), batch_size=64, learning_starts=300, checkpoint_every=10_000, eval_episodes=2)
    result = train_expert("cartpole_balance", tmp_path, steps=1200, seed=0, config=config)
    random_returns = evaluate_state_policy("cartpole_balance", random_action_fn(1, seed=0), episodes=2, seed=0)
    meta = result.metadata
    assert not result.reused and meta.agent_steps == 1200 and meta.env_steps == 2400
    assert len(meta.eval_returns) == 2
    assert meta.eval_mean > np.mean(random_returns) + 50.0, (meta.eval_returns, random_returns)
    # The stored artefact acts like the evaluated policy: re-evaluating gives the same returns.
    policy, _ = load_expert(result.directory)
    again = evaluate_state_policy("cartpole_balance", policy.act, episodes=2, seed=0)
    assert np.allclose(again, meta.eval_returns, atol=1e-3)


def test_second_call_reuses_the_cached_expert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = train_expert("cartpole_balance", tmp_path, steps=100, config=TINY)
    weights = first.directory / POLICY_FILE
    mtime = os.stat(weights).st_mtime_ns

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached expert must not be retrained")

    monkeypatch.setattr(train_module, "_new_model", no_training)
    monkeypatch.setattr(train_module, "_load_checkpoint", no_training)
    second = train_expert("cartpole_balance", tmp_path, steps=100, config=TINY)
    assert second.reused and second.metadata == first.metadata
    assert os.stat(weights).st_mtime_ns == mtime


def test_more_steps_continue_from_the_checkpoint(tmp_path: Path) -> None:
    first = train_expert("cartpole_balance", tmp_path, steps=100, config=TINY)
    more = train_expert("cartpole_balance", tmp_path, steps=200, config=TINY)
    assert not more.reused and more.resumed_from == 100
    assert more.metadata.agent_steps == 200 and more.metadata.sha256 != first.metadata.sha256
    assert more.metadata.train_seconds >= first.metadata.train_seconds
    # The checkpoint's actor (what `experts evaluate --checkpoint` runs) is the stored expert's.
    actor, progress = train_module.checkpoint_actor(more.directory)
    policy, _ = load_expert(more.directory)
    state = np.linspace(-1.0, 1.0, 5, dtype=np.float32)
    with torch.no_grad():
        from_checkpoint = actor(torch.from_numpy(state)[None])[0].numpy()
    assert progress["agent_steps"] == 200 and np.allclose(from_checkpoint, policy.act(state), atol=1e-6)


def test_checkpoint_of_other_settings_is_refused_in_one_line(tmp_path: Path) -> None:
    train_expert("cartpole_balance", tmp_path, steps=100, config=TINY)
    with pytest.raises(ExpertError) as caught:
        train_expert("cartpole_balance", tmp_path, steps=200, config=TINY.updated(batch_size=64))
    message = str(caught.value)
    assert "\n" not in message and "checkpoint" in message and "batch_size" in message and "--force" in message


def test_stored_actor_matches_sb3_deterministic_actions(tmp_path: Path) -> None:
    from vid2act_envs.dmc_state import DMCStateEnv

    env = DMCStateEnv("cartpole_balance", seed=0)
    try:
        model = train_module._new_model(env, TINY, steps=100, seed=0)
        actor = build_actor(actor_weights_from_sb3(model), TINY.hidden_sizes)
        states = np.random.default_rng(0).normal(size=(8, env.observation_space.shape[0])).astype(np.float32)
        expected, _ = model.predict(states, deterministic=True)
        with torch.no_grad():
            actual = actor(torch.from_numpy(states)).numpy()
    finally:
        env.close()
    assert np.allclose(actual, expected, atol=1e-5)


def test_state_env_reports_time_limit_as_truncation() -> None:
    from vid2act_envs.dmc_state import DMCStateEnv

    env = DMCStateEnv("cartpole_balance", seed=0, episode_steps=10)
    try:
        state, _ = env.reset(seed=3)
        assert state.shape == env.observation_space.shape == (5,) and state.dtype == np.float32
        flags = [env.step(np.zeros(1, dtype=np.float32))[2:4] for _ in range(5)]
    finally:
        env.close()
    assert flags[:4] == [(False, False)] * 4 and flags[4] == (False, True)


def test_state_env_observation_is_the_pixel_envs_state_vector() -> None:
    from vid2act_envs.dmc import dmc_task_spec, make_dmc_env
    from vid2act_envs.dmc_state import DMCStateEnv

    state_env = DMCStateEnv("walker_walk", seed=0)
    pixel_env = make_dmc_env(dmc_task_spec("walker_walk"), seed=0, render=False)
    try:
        state, _ = state_env.reset(seed=7)
        obs = pixel_env.reset(seed=7)
        assert np.array_equal(state, obs["state"])
        action = np.linspace(-1.0, 1.0, 6, dtype=np.float32)
        state, reward, *_ = state_env.step(action)
        obs = pixel_env.step(action)
        assert np.array_equal(state, obs["state"]) and reward == pytest.approx(float(obs["reward"]))
    finally:
        state_env.close()
        pixel_env.close()
