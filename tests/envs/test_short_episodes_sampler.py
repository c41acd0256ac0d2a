"""Episodes shorter than the training window: sampler windows continue into the next episode with
`is_first` at every boundary; one-step episodes; flags that contradict the convention are refused;
the replay and HDF5 datasets of short, terminating episodes sample full windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from episode_fakes import make_attrs, make_episode
from vid2act_envs.dataset import DatasetError, EpisodeWriter, open_dataset
from vid2act_envs.episodes import EpisodeError, validate_episode
from vid2act_envs.replay import Replay
from vid2act_envs.sampler import SequenceSampler


def labelled(lengths: list[int], terminal: bool = True) -> list[dict[str, np.ndarray]]:
    """Episodes whose `label` holds (episode index, step index); each ends terminal (or truncated)."""
    rng = np.random.default_rng(0)
    episodes = []
    for index, length in enumerate(lengths):
        episode = make_episode(rng, length, image_size=4, with_success=False)
        episode["is_terminal"][-1] = terminal
        episode["label"] = np.stack([np.full(length, index), np.arange(length)], axis=1).astype(np.int64)
        episodes.append(episode)
    return episodes


def expected_window(lengths: list[int], episode: int, start: int, length: int) -> list[tuple[int, int]]:
    """(episode, step) labels of a window, walking the episodes in order and wrapping around."""
    steps = []
    while len(steps) < length:
        steps.extend((episode, step) for step in range(start, lengths[episode]))
        episode, start = (episode + 1) % len(lengths), 0
    return steps[:length]


def test_short_episodes_fill_the_window_with_the_following_episodes() -> None:
    lengths = [7, 12, 9, 10, 8]
    episodes = labelled(lengths)
    batch = SequenceSampler(episodes, rng=0).sample(400, 16)
    for row in range(400):
        episode, start = (int(value) for value in batch["label"][row, 0])
        window = expected_window(lengths, episode, start, 16)
        assert [tuple(pair) for pair in batch["label"][row].tolist()] == window
        np.testing.assert_array_equal(batch["is_first"][row], [step == 0 for _, step in window])
        np.testing.assert_array_equal(batch["is_terminal"][row], [step == lengths[e] - 1 for e, step in window])
        np.testing.assert_array_equal(batch["image"][row], np.stack([episodes[e]["image"][s] for e, s in window]))
        # The action at an episode start is the reset step's zero action, never the previous episode's.
        assert not batch["action"][row][batch["is_first"][row]].any()


def test_all_short_episodes_make_every_step_an_equally_likely_window_start() -> None:
    lengths = [7, 12, 9]
    sampler = SequenceSampler(labelled(lengths), rng=1)
    assert sampler.num_windows(16) == sum(lengths)
    samples = 28_000
    starts = sampler.sample(samples, 16)["label"][:, 0]
    _, counts = np.unique(starts, axis=0, return_counts=True)
    assert len(counts) == sum(lengths)
    expected = samples / sum(lengths)
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected), counts


def test_long_episodes_keep_their_windows_inside_beside_short_ones() -> None:
    lengths = [30, 5, 20]
    sampler = SequenceSampler(labelled(lengths), rng=2)
    assert sampler.num_windows(16) == (30 - 15) + 5 + (20 - 15)
    labels = sampler.sample(3000, 16)["label"]
    from_long = labels[:, 0, 0] != 1
    assert (labels[from_long, :, 0] == labels[from_long, :1, 0]).all()
    from_short = ~from_long
    assert from_short.any() and (labels[from_short, -1, 0] == 2).all()


def test_one_step_episodes_are_boundaries_in_a_window() -> None:
    lengths = [1, 9, 1, 8]
    episodes = labelled(lengths)
    batch = SequenceSampler(episodes, rng=3).sample(300, 12)
    for row in range(300):
        episode, start = (int(value) for value in batch["label"][row, 0])
        window = expected_window(lengths, episode, start, 12)
        assert [tuple(pair) for pair in batch["label"][row].tolist()] == window
        np.testing.assert_array_equal(batch["is_first"][row], [step == 0 for _, step in window])
    # Two one-step episodes in a row: two consecutive resets, both flagged.
    batch = SequenceSampler(labelled([1, 1, 6]), rng=0).sample(200, 8)
    from_first = batch["label"][:, 0, 0] == 0
    assert from_first.any() and batch["is_first"][from_first, :3].all()


def test_collections_that_cannot_fill_a_window_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"^SequenceSampler: the 2 episode\(s\) hold 10 steps in total, fewer than one window of 16; collect more episodes or lower train.batch_length$"):
        SequenceSampler(labelled([7, 3])).sample(2, 16)
    with pytest.raises(ValueError, match=r"^SequenceSampler: all 20 episode\(s\) have a single step .*no transition to learn from$"):
        SequenceSampler(labelled([1] * 20)).sample(2, 16)
    without_flags = [{"image": episode["image"], "action": episode["action"]} for episode in labelled([7, 12])]
    with pytest.raises(ValueError, match=r"^SequenceSampler: episodes shorter than the window of 10 steps .*'is_first' key"):
        SequenceSampler(without_flags).sample(2, 10)
    # Long enough episodes need no flag.
    assert SequenceSampler(without_flags, rng=0).sample(2, 7)["image"].shape == (2, 7, 4, 4, 3)


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("is_first", [False, False, False, False], r"^ep/is_first: step 0 is False; an episode starts at step 0"),
        ("is_first", [True, False, True, False], r"^ep/is_first: True at step 2; one episode per group, split it there$"),
        ("is_last", [False, True, False, True], r"^ep/is_last: True at step 1 before the final step 3;"),
        ("is_terminal", [False, False, True, False], r"^ep/is_terminal: True at step 2 before the final step 3;"),
        ("is_last", [False, False, False, False], r"^ep/is_last: False at the final step, which is_terminal marks"),
    ],
)
def test_contradictory_flags_are_refused(field: str, values: list[bool], message: str) -> None:
    episode = make_episode(np.random.default_rng(0), 4)
    episode["is_terminal"][-1] = True
    episode[field] = np.asarray(values)
    with pytest.raises(EpisodeError, match=message):
        validate_episode(episode, "ep")


def test_one_step_and_truncated_episodes_are_valid() -> None:
    one_step = make_episode(np.random.default_rng(0), 1)
    one_step["is_terminal"][:] = True
    assert validate_episode(one_step, "ep")["is_last"].tolist() == [True]
    truncated = make_episode(np.random.default_rng(1), 5)
    checked = validate_episode(truncated, "ep")
    assert checked["is_last"][-1] and not checked["is_terminal"].any()


def _write(path: Path, lengths: list[int]) -> None:
    rng = np.random.default_rng(4)
    with EpisodeWriter(path, make_attrs()) as writer:
        for length in lengths:
            episode = make_episode(rng, length)
            episode["is_terminal"][-1] = True
            writer.write_episode(episode)


@pytest.mark.parametrize("in_memory", [True, False])
def test_dataset_of_short_terminating_episodes_samples_full_windows(tmp_path: Path, in_memory: bool) -> None:
    path = tmp_path / "short.h5"
    lengths = [7, 1, 11, 9]
    _write(path, lengths)
    with open_dataset(path) as dataset:
        assert dataset.episode_lengths.tolist() == lengths
        episodes = dataset.load()
        sampler = dataset.sampler(in_memory=in_memory)
        episode_ids, offsets = sampler.sample_indices(64, 16, np.random.default_rng(0))
        batch = sampler.sample(64, 16, np.random.default_rng(0))
    assert batch["image"].shape == (64, 16, 16, 16, 3)
    for row, (episode, start) in enumerate(zip(episode_ids.tolist(), offsets.tolist())):
        window = expected_window(lengths, episode, start, 16)
        for key in ("image", "action", "is_first", "is_terminal"):
            np.testing.assert_array_equal(batch[key][row], np.stack([episodes[e][key][s] for e, s in window]), err_msg=key)
    assert not (batch["is_terminal"][:, :-1] & ~batch["is_first"][:, 1:]).any(), "a terminal step not followed by a reset"


def test_dataset_with_a_flag_error_is_refused_naming_the_episode(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "bad.h5"
    _write(path, [6, 6])
    with h5py.File(path, "r+") as file:
        file["episodes/000001/is_first"][3] = True
    with pytest.raises(DatasetError, match=r"bad.h5: episodes/000001/is_first: True at step 3; one episode per group"):
        open_dataset(path)


def test_replay_of_short_terminating_episodes_samples_full_windows(tmp_path: Path) -> None:
    replay = Replay(tmp_path / "replay")
    rng = np.random.default_rng(5)
    for length in (8, 12, 7):
        for step in range(length):
            replay.add_step({
                "image": np.full((4, 4, 3), step, np.uint8),
                "action": np.zeros(2, np.float32) if step == 0 else rng.uniform(-1, 1, 2).astype(np.float32),
                "reward": np.float32(step > 0),
                "is_first": step == 0,
                "is_last": step == length - 1,
                "is_terminal": step == length - 1,
            })
    assert replay.num_episodes == 3 and replay.num_steps == 27
    batch = replay.sample(32, 16, np.random.default_rng(0))
    assert batch["image"].shape == (32, 16, 4, 4, 3)
    # The image encodes the step inside its episode: it restarts at 0 exactly where is_first is set.
    step_index = batch["image"][:, :, 0, 0, 0].astype(int)
    np.testing.assert_array_equal(batch["is_first"], step_index == 0)
    restarts = np.diff(step_index, axis=1) != 1
    np.testing.assert_array_equal(restarts, batch["is_first"][:, 1:])
    np.testing.assert_array_equal(restarts, batch["is_terminal"][:, :-1])
    restored = Replay(tmp_path / "replay")
    assert restored.sample(4, 16, np.random.default_rng(0))["image"].shape == (4, 16, 4, 4, 3)
