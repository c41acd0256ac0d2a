"""SequenceSampler: batch shapes and dtypes, windows inside episodes long enough for them, uniform over windows.

Windows of episodes shorter than the window (which continue into the next episode) are tested in
tests/envs/test_short_episodes_sampler.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from episode_fakes import make_episode
from vid2act_envs.sampler import SequenceSampler


def labelled_episodes(lengths: list[int]) -> list[dict[str, np.ndarray]]:
    """Episodes whose `label` array holds (episode index, step index) at every step."""
    episodes = []
    rng = np.random.default_rng(0)
    for index, length in enumerate(lengths):
        episode = make_episode(rng, length, image_size=4)
        episode["label"] = np.stack([np.full(length, index), np.arange(length)], axis=1).astype(np.int64)
        episode["teacher_feat"] = rng.normal(size=(length, 3, 7)).astype(np.float16)
        episodes.append(episode)
    return episodes


def test_batch_shapes_and_dtypes() -> None:
    episodes = labelled_episodes([12, 30, 8])
    batch = SequenceSampler(episodes, rng=0).sample(5, 6)
    assert set(batch) == set(episodes[0])
    for key, array in batch.items():
        assert array.shape == (5, 6, *episodes[0][key].shape[1:]), key
        assert array.dtype == episodes[0][key].dtype, key
    assert batch["image"].dtype == np.uint8 and batch["action"].dtype == np.float32
    assert batch["teacher_feat"].dtype == np.float16 and batch["is_first"].dtype == bool


def test_windows_of_long_enough_episodes_stay_inside_and_are_consecutive() -> None:
    episodes = labelled_episodes([7, 3, 15, 9, 6])
    sampler = SequenceSampler(episodes, rng=1)
    batch = sampler.sample(2000, 6)
    labels = batch["label"]
    from_long = labels[:, 0, 0] != 1  # episode 1 (3 steps) is shorter than the window
    assert (labels[from_long, :, 0] == labels[from_long, :1, 0]).all(), "a window mixes two episodes"
    assert (np.diff(labels[from_long, :, 1], axis=1) == 1).all(), "steps inside a window are not consecutive"
    # Every other array comes from the same place as the label.
    for row in np.flatnonzero(from_long)[::97]:
        episode_index, start = labels[row, 0]
        np.testing.assert_array_equal(batch["image"][row], episodes[episode_index]["image"][start : start + 6])
        np.testing.assert_array_equal(batch["teacher_feat"][row], episodes[episode_index]["teacher_feat"][start : start + 6])


def test_uniform_over_all_windows_not_over_episodes() -> None:
    lengths = [5, 10, 20]  # windows of length 5: 1, 6 and 16 -> 23 in total
    sampler = SequenceSampler(labelled_episodes(lengths), rng=2)
    assert sampler.num_windows(5) == 23
    samples = 46_000
    labels = sampler.sample(samples, 5)["label"][:, 0]
    window_ids = {(0, 0): 0}
    for offset in range(6):
        window_ids[(1, offset)] = 1 + offset
    for offset in range(16):
        window_ids[(2, offset)] = 7 + offset
    counts = np.zeros(23)
    for (episode_index, start), count in zip(*np.unique(labels, axis=0, return_counts=True)):
        counts[window_ids[(int(episode_index), int(start))]] = count
    expected = samples / 23
    assert (counts > 0).all()
    # Binomial standard deviation is about 44; 5 sigma bounds.
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected), counts
    assert abs(counts[0] / samples - 1 / 23) < 0.01  # not 1/3, as per-episode sampling would give


def test_seeded_generator_reproduces_batches() -> None:
    episodes = labelled_episodes([20, 20])
    first = SequenceSampler(episodes).sample(4, 5, np.random.default_rng(7))
    second = SequenceSampler(episodes).sample(4, 5, np.random.default_rng(7))
    np.testing.assert_array_equal(first["label"], second["label"])
    own_rng_a = SequenceSampler(episodes, rng=3).sample(4, 5)
    own_rng_b = SequenceSampler(episodes, rng=3).sample(4, 5)
    np.testing.assert_array_equal(own_rng_a["label"], own_rng_b["label"])


def test_window_as_long_as_an_episode_takes_it_whole() -> None:
    episodes = labelled_episodes([4, 9])
    labels = SequenceSampler(episodes, rng=0).sample(200, 9)["label"]
    whole = labels[:, 0, 0] == 1
    assert whole.any()
    assert (labels[whole, :, 0] == 1).all()
    assert (labels[whole, 0, 1] == 0).all()


def test_fewer_steps_than_one_window_raises() -> None:
    sampler = SequenceSampler(labelled_episodes([4, 2]))
    with pytest.raises(ValueError, match="hold 6 steps in total, fewer than one window of 7"):
        sampler.sample(2, 7)


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="no episodes"):
        SequenceSampler([])
    sampler = SequenceSampler(labelled_episodes([5]))
    with pytest.raises(ValueError, match="batch_size"):
        sampler.sample(0, 2)
    with pytest.raises(ValueError, match="window length"):
        sampler.sample(2, 0)


def test_mismatched_keys_need_an_explicit_subset() -> None:
    episodes = labelled_episodes([6, 6])
    del episodes[1]["teacher_feat"]
    with pytest.raises(ValueError, match="differing: teacher_feat"):
        SequenceSampler(episodes)
    batch = SequenceSampler(episodes, keys=["image", "action"], rng=0).sample(3, 4)
    assert set(batch) == {"image", "action"}
    with pytest.raises(ValueError, match="lacks key"):
        SequenceSampler(episodes, keys=["teacher_feat"])


def test_large_collection_index() -> None:
    # ~1e6 frames in 2000 episodes of varying length (tiny frames to keep memory small).
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 1000, size=2000)
    episodes = [
        {"frame_id": np.arange(length, dtype=np.int32) + offset, "is_first": np.arange(length) == 0}
        for length, offset in zip(lengths, np.cumsum(lengths) - lengths)
    ]
    sampler = SequenceSampler(episodes, rng=0)
    assert sampler.num_steps == int(lengths.sum())
    assert sampler.num_windows(50) == int(np.where(lengths >= 50, lengths - 49, lengths).sum())
    # frame_id numbers the steps of all episodes in order, so windows read consecutive ids, and
    # one that starts in an episode of at least 50 steps ends in it.
    batch = sampler.sample(256, 50)["frame_id"]
    assert (np.diff(batch, axis=1) == 1).all()
    episode_of_first = np.searchsorted(np.cumsum(lengths), batch[:, 0], side="right")
    episode_of_last = np.searchsorted(np.cumsum(lengths), batch[:, -1], side="right")
    starts_long = lengths[episode_of_first] >= 50
    np.testing.assert_array_equal(episode_of_first[starts_long], episode_of_last[starts_long])
