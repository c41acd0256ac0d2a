"""Replay: step accumulation by the convention, persistence, resume, partial episodes, capacity, extras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from episode_fakes import CounterEnv, make_episode
from vid2act_envs.replay import Replay


def feed_episode(replay: Replay, env: CounterEnv, rng: np.random.Generator, stop_after: int | None = None) -> list[dict]:
    """Run CounterEnv, passing each observation with the action that led to it; return the transitions."""
    obs = env.reset()
    transitions = [{**obs, "action": np.zeros(env.action_dim, np.float32)}]
    replay.add_step(transitions[-1])
    while not obs["is_last"] and (stop_after is None or len(transitions) < stop_after):
        action = rng.uniform(-1, 1, env.action_dim).astype(np.float32)
        obs = env.step(action)
        transitions.append({**obs, "action": action})
        replay.add_step(transitions[-1])
    return transitions


def assert_episodes_equal(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> None:
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].dtype == right[key].dtype, key
        np.testing.assert_array_equal(left[key], right[key], err_msg=key)


def test_add_step_builds_episode_by_the_convention(tmp_path: Path) -> None:
    replay = Replay(tmp_path / "replay")
    env = CounterEnv(episode_steps=6)
    transitions = feed_episode(replay, env, np.random.default_rng(0))
    assert replay.num_episodes == 1 and replay.num_steps == 7 and replay.current_length == 0
    (episode,) = list(replay.episodes())
    assert episode["image"].shape == (7, 16, 16, 3) and episode["image"].dtype == np.uint8
    np.testing.assert_array_equal(episode["image"][:, 0, 0, 0], np.arange(7))
    assert episode["action"].dtype == np.float32 and episode["action"].shape == (7, env.action_dim)
    np.testing.assert_array_equal(episode["action"][0], 0.0)
    np.testing.assert_array_equal(episode["action"][1:], np.stack([t["action"] for t in transitions[1:]]))
    # reward[t] was received on the transition into step t (CounterEnv's reward is action[0]).
    np.testing.assert_array_equal(episode["reward"][1:], episode["action"][1:, 0])
    assert episode["reward"][0] == 0.0 and episode["reward"].dtype == np.float32
    assert episode["is_first"].tolist() == [True] + [False] * 6
    assert episode["is_last"].tolist() == [False] * 6 + [True]
    assert episode["success"].dtype == bool and episode["state"].shape == (7, 1)
    assert len(list((tmp_path / "replay").glob("ep-*.npz"))) == 1


def test_persistence_round_trip_and_resume(tmp_path: Path) -> None:
    directory = tmp_path / "replay"
    rng = np.random.default_rng(0)
    replay = Replay(directory)
    stored = [replay.add_episode(make_episode(rng, length)) for length in (5, 9, 4)]
    replay.close()
    assert sorted(path.name for path in directory.iterdir()) == ["ep-00000000-5.npz", "ep-00000001-9.npz", "ep-00000002-4.npz"]

    resumed = Replay.load(directory)
    assert resumed.num_episodes == 3 and resumed.num_steps == 18
    for original, restored in zip(stored, resumed.episodes(), strict=True):
        assert_episodes_equal(original, restored)
    # New episodes continue the numbering instead of overwriting.
    resumed.add_episode(make_episode(rng, 6))
    assert (directory / "ep-00000003-6.npz").exists()
    assert Replay(directory).num_episodes == 4


def test_load_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Replay.load(tmp_path / "nowhere")


def test_unfinished_episode_saved_by_save_partial_survives_a_restart(tmp_path: Path) -> None:
    directory = tmp_path / "replay"
    env = CounterEnv(episode_steps=8)
    rng = np.random.default_rng(0)
    replay = Replay(directory)
    feed_episode(replay, env, rng)  # one finished episode (9 steps)
    feed_episode(replay, env, rng, stop_after=4)  # 4 steps in progress
    replay.save_partial()
    assert (directory / "partial.npz").exists()
    replay.add_step({**env.step(np.zeros(env.action_dim, np.float32)), "action": np.zeros(env.action_dim, np.float32)})
    # Killed here: the fifth step of the running episode was never saved.
    del replay

    resumed = Replay(directory)
    assert resumed.num_episodes == 2 and resumed.num_steps == 9 + 4
    truncated = list(resumed.episodes())[-1]
    np.testing.assert_array_equal(truncated["image"][:, 0, 0, 0], np.arange(4))
    assert truncated["is_last"].tolist() == [False, False, False, True]
    assert not truncated["is_terminal"].any()
    assert not (directory / "partial.npz").exists()
    assert resumed.current_length == 0
    # Restarting twice does not duplicate the restored steps.
    assert Replay(directory).num_steps == 13


def test_partial_file_of_an_episode_already_stored_is_not_duplicated(tmp_path: Path) -> None:
    directory = tmp_path / "replay"
    env = CounterEnv(episode_steps=5)
    replay = Replay(directory)
    feed_episode(replay, env, np.random.default_rng(0), stop_after=3)
    replay.save_partial()
    stale_partial = (directory / "partial.npz").read_bytes()
    feed_episode_rest = env.step(np.zeros(env.action_dim, np.float32))
    replay.add_step({**feed_episode_rest, "action": np.zeros(env.action_dim, np.float32)})
    while replay.current_length:
        replay.add_step({**env.step(np.zeros(env.action_dim, np.float32)), "action": np.zeros(env.action_dim, np.float32)})
    # Simulate a kill between writing the finished episode and deleting partial.npz.
    (directory / "partial.npz").write_bytes(stale_partial)
    resumed = Replay(directory)
    assert resumed.num_episodes == 1 and resumed.num_steps == 6


def test_is_first_during_an_episode_closes_it_as_truncated() -> None:
    replay = Replay()
    env = CounterEnv(episode_steps=10)
    rng = np.random.default_rng(0)
    feed_episode(replay, env, rng, stop_after=3)
    feed_episode(replay, env, rng)
    lengths = [len(episode["image"]) for episode in replay.episodes()]
    assert lengths == [3, 11]
    assert list(replay.episodes())[0]["is_last"].tolist() == [False, False, True]


def test_capacity_evicts_oldest_episodes_and_their_files(tmp_path: Path) -> None:
    directory = tmp_path / "replay"
    rng = np.random.default_rng(0)
    replay = Replay(directory, capacity_steps=20)
    episodes = [replay.add_episode(make_episode(rng, 8)) for _ in range(4)]
    assert replay.num_steps == 16 and replay.num_episodes == 2 and replay.num_evicted_episodes == 2
    assert sorted(path.name for path in directory.glob("ep-*.npz")) == ["ep-00000002-8.npz", "ep-00000003-8.npz"]
    assert_episodes_equal(list(replay.episodes())[0], episodes[2])
    # The newest episode is kept even if it alone exceeds the capacity.
    replay.add_episode(make_episode(rng, 30))
    assert replay.num_episodes == 1 and replay.num_steps == 30
    # Restoring with a smaller capacity reads and keeps only what fits.
    rng = np.random.default_rng(1)
    other = Replay(tmp_path / "other")
    for length in (5, 6, 7):
        other.add_episode(make_episode(rng, length))
    restored = Replay(tmp_path / "other", capacity_steps=13)
    assert [len(e["image"]) for e in restored.episodes()] == [6, 7]
    assert len(list((tmp_path / "other").glob("ep-*.npz"))) == 2


def test_per_step_extras_persist_and_sample_aligned_with_frames(tmp_path: Path) -> None:
    """Teacher features arrive with each step (as the transfer agent's transition extras do)."""
    directory = tmp_path / "replay"
    replay = Replay(directory)
    env = CounterEnv(episode_steps=12)
    obs = env.reset()
    action = np.zeros(env.action_dim, np.float32)
    rng = np.random.default_rng(0)
    while True:
        features = np.full((2, 5), obs["image"][0, 0, 0], np.float16)
        replay.add_step({**obs, "action": action, "teacher_feat": features})
        if obs["is_last"]:
            break
        action = rng.uniform(-1, 1, env.action_dim).astype(np.float32)
        obs = env.step(action)
    stored = next(replay.episodes())
    assert stored["teacher_feat"].dtype == np.float16 and stored["teacher_feat"].shape == (13, 2, 5)

    resumed = Replay(directory)
    batch = resumed.sample(8, 4, np.random.default_rng(0))
    assert batch["teacher_feat"].shape == (8, 4, 2, 5) and batch["teacher_feat"].dtype == np.float16
    np.testing.assert_array_equal(batch["teacher_feat"][:, :, 1, 3], batch["image"][:, :, 0, 0, 0].astype(np.float16))


def test_added_episode_with_a_short_extra_array_is_rejected_naming_it() -> None:
    episode = make_episode(np.random.default_rng(0), 5)
    episode["teacher_feat"] = np.zeros((2, 3), np.float16)
    replay = Replay()
    with pytest.raises(ValueError, match=r"^replay: added episode/teacher_feat: shape \(2, 3\), expected a leading length of 5$"):
        replay.add_episode(episode)
    assert replay.num_episodes == 0


def test_atomic_write_leaves_no_temporary_files_and_stale_ones_are_cleaned(tmp_path: Path) -> None:
    directory = tmp_path / "replay"
    replay = Replay(directory)
    replay.add_episode(make_episode(np.random.default_rng(0), 5))
    assert [path.name for path in directory.iterdir()] == ["ep-00000000-5.npz"]
    (directory / ".ep-00000001-7.npz.tmp").write_bytes(b"half-written")
    resumed = Replay(directory)
    assert resumed.num_episodes == 1
    assert not list(directory.glob(".*.tmp"))


def test_sampling_empty_replay_raises() -> None:
    with pytest.raises(ValueError, match="no finished episodes"):
        Replay().sample(2, 3, np.random.default_rng(0))


def test_episode_must_start_with_the_reset_step() -> None:
    replay = Replay()
    env = CounterEnv(episode_steps=4)
    env.reset()
    step = {**env.step(np.zeros(env.action_dim, np.float32)), "action": np.zeros(env.action_dim, np.float32)}
    with pytest.raises(ValueError, match="must start with the reset step"):
        replay.add_step(step)
    with pytest.raises(ValueError, match="needs 'image' and 'action'"):
        replay.add_step({key: value for key, value in step.items() if key != "action"})
    assert replay.current_length == 0
