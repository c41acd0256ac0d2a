"""vid2act_envs.episodes: the one episode check shared by datasets, replay and collection."""

from __future__ import annotations

import numpy as np
import pytest

from episode_fakes import make_episode
from vid2act_envs.episodes import EpisodeError, validate_episode


def test_valid_episode_gets_canonical_dtypes() -> None:
    episode = make_episode(np.random.default_rng(0), 6)
    episode["image"] = episode["image"].astype(np.int64)
    episode["action"] = episode["action"].astype(np.float64)
    episode["is_first"] = episode["is_first"].astype(np.int8)
    episode["teacher_feat"] = np.zeros((6, 2, 3), np.float16)
    checked = validate_episode(episode, "ep")
    assert checked["image"].dtype == np.uint8 and checked["action"].dtype == np.float32
    assert checked["is_first"].dtype == np.bool_ and checked["teacher_feat"].dtype == np.float16
    np.testing.assert_array_equal(checked["image"], episode["image"])


def _broken(change: str) -> dict[str, np.ndarray]:
    episode = make_episode(np.random.default_rng(0), 6)
    if change == "no action":
        del episode["action"]
    elif change == "float image":
        episode["image"] = episode["image"].astype(np.float32)
    elif change == "short reward":
        episode["reward"] = episode["reward"][:-1]
    elif change == "action out of range":
        episode["action"][2, 0] = 1.5
    elif change == "nan reward":
        episode["reward"][1] = np.nan
    elif change == "empty":
        episode = {key: value[:0] for key, value in episode.items()}
    return episode


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no action", r"^ep/action: missing field$"),
        ("float image", r"^ep/image: dtype float32 cannot be stored as uint8$"),
        ("short reward", r"^ep/reward: shape \(5,\), expected \(6,\)$"),
        ("action out of range", r"^ep/action: values in \[.*, 1.5\], outside \[-1, 1\]$"),
        ("nan reward", r"^ep/reward: contains NaN$"),
        ("empty", r"^ep/image: episode has no steps$"),
    ],
)
def test_invalid_episode_raises_one_line_naming_source_and_field(change: str, message: str) -> None:
    with pytest.raises(EpisodeError, match=message):
        validate_episode(_broken(change), "ep")


def test_file_attributes_are_enforced_when_given() -> None:
    episode = make_episode(np.random.default_rng(0), 6)
    height, width = episode["image"].shape[1:3]
    action_dim = episode["action"].shape[1]
    validate_episode(episode, "ep", (height, width), action_dim)
    with pytest.raises(EpisodeError, match=rf"^ep/image: shape .*, expected \(T, {height + 1}, {width}, 3\)$"):
        validate_episode(episode, "ep", (height + 1, width), action_dim)
    with pytest.raises(EpisodeError, match=rf"^ep/action: action size {action_dim} differs from the file's action_dim {action_dim + 1}$"):
        validate_episode(episode, "ep", (height, width), action_dim + 1)
