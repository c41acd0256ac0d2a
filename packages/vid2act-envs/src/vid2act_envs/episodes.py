"""The episode convention, checked in one place for datasets, the replay and collection.

An episode is a dict of arrays with time first (docs/architecture.md, "Episode arrays"):
`image` (T, H, W, 3) uint8 and `action` (T, A) float32 in [-1, 1] are required, where `action[t]`
led to `image[t]` and `action[0]` is zeros; optional `reward` (T,) float32, the flags
`EPISODE_FLAG_KEYS` (T,) bool, and any numeric per-step array with leading length T (for example
`state` or float16 `teacher_feat`). Every error is one line naming the source and the field.

The flags, where present, must tell one episode's story (docs/data-format.md): `is_first` only at
step 0; `is_last` and `is_terminal` at most at the final step; `is_terminal` (the task ended, no
future value: discount 0) implies `is_last`, while `is_last` without `is_terminal` is a time-limit
or otherwise truncated ending (the future still has value). A one-step episode (the reset
observation alone, holding no transition) is valid; samplers read it as a boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

REQUIRED_KEYS: tuple[str, ...] = ("image", "action")
"""Fields every episode has."""

EPISODE_FLAG_KEYS: tuple[str, ...] = ("is_first", "is_last", "is_terminal", "success")
"""Per-step boolean arrays of the episode convention."""

ACTION_RANGE_TOLERANCE = 1e-4
"""Actions may exceed [-1, 1] by at most this much (float rounding of rescaled actions)."""


class EpisodeError(ValueError):
    """An episode that violates the convention; the message names its source and the field."""


def check_field_layout(
    key: str,
    dtype: np.dtype,
    shape: tuple[int, ...],
    length: int,
    source: str,
    image_size: tuple[int, int] | None = None,
    action_dim: int | None = None,
) -> None:
    """Check one array's dtype and shape (not its values) for an episode of `length` steps.

    image_size (height, width) and action_dim, when given, must match too. Works on shapes alone,
    so a reader can check an HDF5 array without reading it.
    """
    if key == "image":
        if dtype != np.uint8:
            raise EpisodeError(f"{source}/image: dtype {dtype}, expected uint8")
        height, width = image_size if image_size is not None else ("H", "W")
        if len(shape) != 4 or shape[-1] != 3 or (image_size is not None and shape[1:3] != tuple(image_size)):
            raise EpisodeError(f"{source}/image: shape {shape}, expected (T, {height}, {width}, 3)")
    elif key == "action":
        if dtype != np.float32:
            raise EpisodeError(f"{source}/action: dtype {dtype}, expected float32")
        if len(shape) != 2:
            raise EpisodeError(f"{source}/action: shape {shape}, expected (T, {action_dim if action_dim is not None else 'A'})")
        if shape[0] != length:
            raise EpisodeError(f"{source}/action: length {shape[0]} differs from image length {length}")
        if action_dim is not None and shape[1] != action_dim:
            raise EpisodeError(f"{source}/action: action size {shape[1]} differs from the file's action_dim {action_dim}")
    elif key == "reward":
        if dtype != np.float32:
            raise EpisodeError(f"{source}/reward: dtype {dtype}, expected float32")
        if shape != (length,):
            raise EpisodeError(f"{source}/reward: shape {shape}, expected ({length},)")
    elif key in EPISODE_FLAG_KEYS:
        if dtype != np.bool_:
            raise EpisodeError(f"{source}/{key}: dtype {dtype}, expected bool")
        if shape != (length,):
            raise EpisodeError(f"{source}/{key}: shape {shape}, expected ({length},)")
    else:
        if len(shape) == 0 or shape[0] != length:
            raise EpisodeError(f"{source}/{key}: shape {shape}, expected a leading length of {length}")
        if dtype.kind not in "biuf":
            raise EpisodeError(f"{source}/{key}: dtype {dtype}, expected a numeric or bool array")


def check_field_values(key: str, values: np.ndarray, source: str) -> None:
    """Check finiteness (action, reward) and range (action) of an array already read."""
    if key not in ("action", "reward"):
        return
    if np.isnan(values).any():
        raise EpisodeError(f"{source}/{key}: contains NaN")
    if np.isinf(values).any():
        raise EpisodeError(f"{source}/{key}: contains inf")
    if key == "action" and values.size:
        low, high = float(values.min()), float(values.max())
        if low < -1.0 - ACTION_RANGE_TOLERANCE or high > 1.0 + ACTION_RANGE_TOLERANCE:
            raise EpisodeError(f"{source}/action: values in [{low:.4g}, {high:.4g}], outside [-1, 1]")


def check_episode_flags(flags: Mapping[str, np.ndarray], length: int, source: str) -> None:
    """Check that the boolean flags present in `flags` describe one episode of `length` steps."""
    is_first = flags.get("is_first")
    if is_first is not None:
        if not bool(is_first[0]):
            raise EpisodeError(f"{source}/is_first: step 0 is False; an episode starts at step 0 (its reset observation)")
        later = np.flatnonzero(is_first[1:])
        if later.size:
            raise EpisodeError(
                f"{source}/is_first: True at step {int(later[0]) + 1}; one episode per group, split it there"
            )
    for key in ("is_last", "is_terminal"):
        values = flags.get(key)
        if values is not None:
            early = np.flatnonzero(values[:-1])
            if early.size:
                raise EpisodeError(
                    f"{source}/{key}: True at step {int(early[0])} before the final step {length - 1}; "
                    "an episode ends at its final step"
                )
    is_last, is_terminal = flags.get("is_last"), flags.get("is_terminal")
    if is_last is not None and is_terminal is not None and bool(is_terminal[-1]) and not bool(is_last[-1]):
        raise EpisodeError(f"{source}/is_last: False at the final step, which is_terminal marks as the episode's end")


def _canonical(key: str, array: np.ndarray, source: str) -> np.ndarray:
    """`array` in the convention's dtype for `key` (lossless conversions only for images)."""
    if key == "image" and array.dtype != np.uint8:
        if array.dtype.kind not in "ui" or array.min(initial=0) < 0 or array.max(initial=0) > 255:
            raise EpisodeError(f"{source}/image: dtype {array.dtype} cannot be stored as uint8")
        return array.astype(np.uint8)
    if key in ("action", "reward") and array.dtype != np.float32:
        return array.astype(np.float32)
    if key in EPISODE_FLAG_KEYS and array.dtype != np.bool_:
        return array.astype(bool)
    return array


def validate_episode(
    arrays: Mapping[str, Any],
    source: str,
    image_size: tuple[int, int] | None = None,
    action_dim: int | None = None,
) -> dict[str, np.ndarray]:
    """Check an episode dict against the convention; return it with the canonical dtypes.

    `image` becomes uint8 (from integer arrays in range), `action` and `reward` float32, flags
    bool; other keys keep their dtype. source: names the episode in errors (a file, a group).
    image_size, action_dim: also require these (a dataset file's attributes). Raises EpisodeError.
    """
    episode = {key: _canonical(key, np.asarray(value), source) for key, value in arrays.items()}
    for key in REQUIRED_KEYS:
        if key not in episode:
            raise EpisodeError(f"{source}/{key}: missing field")
    length = episode["image"].shape[0] if episode["image"].ndim else 0
    if length < 1:
        raise EpisodeError(f"{source}/image: episode has no steps")
    for key, array in episode.items():
        check_field_layout(key, array.dtype, array.shape, length, source, image_size, action_dim)
        check_field_values(key, array, source)
    check_episode_flags(episode, length, source)
    return episode

