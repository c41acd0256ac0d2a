"""OnlineTrainer on a seeded pixel environment: prefill actions, the pretrain burst, train_every, action alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from loop_fakes import EPISODE_STEPS, loop_config, make_trainer

POLICY_ACTION = np.array([0.5, -0.25], np.float32)


def test_prefill_updates_and_action_alignment(tmp_path: Path) -> None:
    config = loop_config(steps=72)
    trainer, env = make_trainer(tmp_path / "run", config)
    agent = trainer.agent

    # The agent always proposes POLICY_ACTION; the loop replaces it by a uniform draw during the prefill.
    real_policy = agent.policy

    def constant_policy(obs, state, mode="explore"):
        _, new_state = real_policy(obs, state, mode)
        action = torch.from_numpy(POLICY_ACTION)[None]
        new_state["action"] = action
        return action, new_state

    agent.policy = constant_policy
    update_steps: list[tuple[int, int]] = []
    real_train_step = agent.train_step

    def recording_train_step(batch):
        update_steps.append((trainer.state.env_steps, trainer.state.agent_steps))
        assert batch["image"].shape[:2] == (config.train.batch_size, config.train.batch_length)
        return real_train_step(batch)

    agent.train_step = recording_train_step
    state = trainer.run()

    # Every action the environment received: random (never the policy's) before the prefill, the policy's after.
    taken = [action for episode in env.actions for action in episode]
    assert len(taken) == 72
    prefill = config.train.prefill
    assert all(not np.array_equal(action, POLICY_ACTION) and np.abs(action).max() <= 1 for action in taken[:prefill])
    assert all(np.array_equal(action, POLICY_ACTION) for action in taken[prefill:])
    # The first episode's actions are the loop generator's first uniform draws (seeded by config.seed).
    expected = np.random.default_rng(config.seed).uniform(-1, 1, (EPISODE_STEPS, env.action_dim)).astype(np.float32)
    np.testing.assert_array_equal(np.stack(env.actions[0]), expected)

    # The pretrain burst: `pretrain_updates` updates at the first step where env_steps >= prefill, then
    # one update every `train_every` agent steps.
    burst = config.train.pretrain_updates
    assert update_steps[:burst] == [(prefill, prefill)] * burst
    later = [agent_steps for _, agent_steps in update_steps[burst:]]
    assert later == [step for step in range(prefill + 1, 73) if step % config.train.train_every == 0]
    assert state.updates == len(update_steps) == burst + len(later)

    # Alignment in the replay: action[t] led to image[t]; action[0] is zeros on the reset step.
    episodes = list(trainer.replay.episodes())
    assert len(episodes) == 72 // EPISODE_STEPS - 1  # the last one is unfinished (saved as partial.npz)
    for index, episode in enumerate(episodes):
        np.testing.assert_array_equal(episode["action"][0], np.zeros(env.action_dim, np.float32))
        np.testing.assert_array_equal(episode["action"][1:], np.stack(env.actions[index]))
        assert episode["is_first"][0] and not episode["is_first"][1:].any() and episode["is_last"][-1]
    # Environment seeds come from the episode counter: seed * 100003 + episode index, never reused.
    assert env.reset_seeds == [config.seed * 100_003 + index for index in range(len(env.reset_seeds))]


def test_updates_wait_for_a_batch_length_of_replay_even_without_prefill(tmp_path: Path) -> None:
    config = loop_config(steps=30)
    config.train.prefill = 0
    trainer, _ = make_trainer(tmp_path / "run", config)
    first_update: list[int] = []
    real_train_step = trainer.agent.train_step

    def recording_train_step(batch):
        first_update.append(trainer.replay.num_steps)
        return real_train_step(batch)

    trainer.agent.train_step = recording_train_step
    trainer.run()
    # The first finished episode (13 frames) is the first time the replay can fill a window of 8.
    assert first_update and first_update[0] == EPISODE_STEPS + 1 >= config.train.batch_length
