"""HDF5 dataset format: round trip, appending, and the validating reader's error messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from episode_fakes import ACTION_DIM, IMAGE_SIZE, make_attrs, make_episode
from vid2act_envs.dataset import FORMAT_VERSION, DatasetAttrs, DatasetError, EpisodeWriter, open_dataset


def write_dataset(path: Path, lengths: list[int], seed: int = 0, **writer_options) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    episodes = [make_episode(rng, length) for length in lengths]
    with EpisodeWriter(path, make_attrs(), **writer_options) as writer:
        for episode in episodes:
            writer.write_episode(episode)
    return episodes


@pytest.mark.parametrize("compression", ["gzip", "lzf", None])
def test_round_trip_is_bit_identical(tmp_path: Path, compression: str | None) -> None:
    path = tmp_path / "data.h5"
    episodes = write_dataset(path, [7, 20, 33], compression=compression, chunk_frames=8)
    with open_dataset(path) as dataset:
        assert len(dataset) == 3
        assert dataset.num_steps == 60
        assert dataset.episode_lengths.tolist() == [7, 20, 33]
        assert dataset.partial_episodes == 0
        assert dataset.attrs == make_attrs()
        assert dataset.attrs.format_version == FORMAT_VERSION
        assert set(dataset.keys) == set(episodes[0])
        for written, read in zip(episodes, dataset, strict=True):
            assert written.keys() == read.keys()
            for key in written:
                assert read[key].dtype == written[key].dtype, key
                assert read[key].shape == written[key].shape, key
                np.testing.assert_array_equal(read[key], written[key], err_msg=key)


def test_file_attributes_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [5, 6], chunk_frames=4)
    with h5py.File(path, "r") as file:
        assert file.attrs["domain"] == "fake"
        assert file.attrs["task"] == "counter"
        assert file.attrs["camera"] == "corner"
        assert file.attrs["collector"] == "random"
        assert file.attrs["action_repeat"] == 1
        assert file.attrs["action_dim"] == ACTION_DIM
        assert file.attrs["image_size"].tolist() == [IMAGE_SIZE, IMAGE_SIZE]
        assert file.attrs["format_version"] == 1
        assert isinstance(file.attrs["library_version"], str)
        assert file.attrs["num_episodes"] == 2
        assert sorted(file["episodes"].keys()) == ["000000", "000001"]
        image = file["episodes/000000/image"]
        assert image.chunks == (4, IMAGE_SIZE, IMAGE_SIZE, 3)
        assert image.compression == "gzip"


def test_sha256_matches_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "data.h5"
    write_dataset(path, [5])
    with open_dataset(path) as dataset:
        assert dataset.sha256() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_reopening_appends(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    first = write_dataset(path, [5, 6], seed=1)
    second = write_dataset(path, [7], seed=2)
    with open_dataset(path) as dataset:
        assert dataset.episode_lengths.tolist() == [5, 6, 7]
        np.testing.assert_array_equal(dataset[0]["image"], first[0]["image"])
        np.testing.assert_array_equal(dataset[2]["action"], second[0]["action"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("task", "other-task"), ("collector", "expert"), ("action_dim", ACTION_DIM + 1), ("image_size", 32), ("camera", 0)],
)
def test_append_refuses_mismatching_attrs(tmp_path: Path, field: str, value: object) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [5])
    values = make_attrs().__dict__ | {field: value}
    with pytest.raises(DatasetError, match=rf"{path}: {field}: file has"):
        EpisodeWriter(path, DatasetAttrs(**values))
    with open_dataset(path) as dataset:
        assert len(dataset) == 1


def test_writer_rejects_invalid_episode_and_keeps_file_valid(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    rng = np.random.default_rng(0)
    with EpisodeWriter(path, make_attrs()) as writer:
        writer.write_episode(make_episode(rng, 5))
        bad = make_episode(rng, 5)
        bad["action"][2, 1] = np.nan
        with pytest.raises(DatasetError, match=r"episodes/000001/action: contains NaN"):
            writer.write_episode(bad)
        missing_success = make_episode(rng, 5, with_success=False)
        with pytest.raises(DatasetError, match=r"episodes/000001: fields differ .*success"):
            writer.write_episode(missing_success)
        writer.write_episode(make_episode(rng, 6))
    with open_dataset(path) as dataset:
        assert dataset.episode_lengths.tolist() == [5, 6]


def test_leftover_partial_group_is_ignored_then_removed_by_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [5, 6])
    with h5py.File(path, "r+") as file:
        # What a writer killed between creating the temporary group and committing leaves behind.
        group = file["episodes"].create_group("partial-000002")
        group.create_dataset("image", data=np.zeros((3, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8))
        # ...and a group renamed but not yet counted in num_episodes.
        file["episodes"].copy("000001", "000003")
    with open_dataset(path) as dataset:
        assert len(dataset) == 2
        assert dataset.partial_episodes == 2
    rng = np.random.default_rng(5)
    with EpisodeWriter(path, make_attrs()) as writer:
        assert writer.removed_partial_episodes == 2
        assert writer.write_episode(make_episode(rng, 4)) == 2
    with open_dataset(path) as dataset:
        assert dataset.episode_lengths.tolist() == [5, 6, 4]
        assert dataset.partial_episodes == 0


def test_sampler_from_dataset_in_memory_and_lazy_agree(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [12, 30])
    with open_dataset(path) as dataset:
        in_memory = dataset.sampler(rng=3).sample(6, 10)
        lazy = dataset.sampler(rng=3, in_memory=False).sample(6, 10)
    assert in_memory.keys() == lazy.keys()
    for key in in_memory:
        assert in_memory[key].shape[:2] == (6, 10)
        np.testing.assert_array_equal(in_memory[key], lazy[key])


# ----------------------------------------------------------------------------- corrupt files
def _replace(file: h5py.File, name: str, data: np.ndarray) -> None:
    del file[name]
    file.create_dataset(name, data=data)


def _set_attr(name: str, value: object) -> Callable[[h5py.File], None]:
    def mutate(file: h5py.File) -> None:
        file.attrs[name] = value

    return mutate


def _delete_attr(name: str) -> Callable[[h5py.File], None]:
    def mutate(file: h5py.File) -> None:
        del file.attrs[name]

    return mutate


def _delete(name: str) -> Callable[[h5py.File], None]:
    def mutate(file: h5py.File) -> None:
        del file[name]

    return mutate


def _transform(name: str, function: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    def mutate(file: h5py.File) -> None:
        _replace(file, name, function(file[name][()]))

    return mutate


def _with_value(index: tuple, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array[index] = value
        return array

    return change


CORRUPTIONS: dict[str, tuple[Callable[[h5py.File], None], str]] = {
    "format_version wrong": (_set_attr("format_version", 2), r"format_version: unsupported version 2"),
    "format_version missing": (_delete_attr("format_version"), r"format_version: missing attribute"),
    "action_dim attr missing": (_delete_attr("action_dim"), r"action_dim: missing attribute"),
    "episode missing": (_delete("episodes/000001"), r"episodes/000001: missing"),
    "action missing": (_delete("episodes/000001/action"), r"episodes/000001/action: missing field"),
    "image missing": (_delete("episodes/000000/image"), r"episodes/000000/image: missing field"),
    "action float64": (
        _transform("episodes/000001/action", lambda a: a.astype(np.float64)),
        r"episodes/000001/action: dtype float64, expected float32",
    ),
    "image float32": (
        _transform("episodes/000001/image", lambda a: a.astype(np.float32)),
        r"episodes/000001/image: dtype float32, expected uint8",
    ),
    "reward int": (
        _transform("episodes/000000/reward", lambda a: a.astype(np.int32)),
        r"episodes/000000/reward: dtype int32, expected float32",
    ),
    "is_first int": (
        _transform("episodes/000000/is_first", lambda a: a.astype(np.int8)),
        r"episodes/000000/is_first: dtype int8, expected bool",
    ),
    "image grayscale": (
        _transform("episodes/000001/image", lambda a: a[..., 0]),
        r"episodes/000001/image: shape \(9, 16, 16\), expected \(T, 16, 16, 3\)",
    ),
    "image wrong size": (
        _transform("episodes/000001/image", lambda a: a[:, :8, :8]),
        r"episodes/000001/image: shape \(9, 8, 8, 3\), expected \(T, 16, 16, 3\)",
    ),
    "action shorter": (
        _transform("episodes/000001/action", lambda a: a[:-1]),
        r"episodes/000001/action: length 8 differs from image length 9",
    ),
    "action_dim mismatch": (
        _transform("episodes/000001/action", lambda a: a[:, :-1]),
        r"episodes/000001/action: action size 3 differs from the file's action_dim 4",
    ),
    "reward shorter": (
        _transform("episodes/000000/reward", lambda a: a[:-1]),
        r"episodes/000000/reward: shape \(6,\), expected \(7,\)",
    ),
    "action out of range": (
        _transform("episodes/000001/action", _with_value((3, 0), 1.5)),
        r"episodes/000001/action: values in \[.*, 1.5\], outside \[-1, 1\]",
    ),
    "action NaN": (_transform("episodes/000001/action", _with_value((3, 0), np.nan)), r"episodes/000001/action: contains NaN"),
    "action inf": (_transform("episodes/000000/action", _with_value((2, 1), -np.inf)), r"episodes/000000/action: contains inf"),
    "reward NaN": (_transform("episodes/000001/reward", _with_value((4,), np.nan)), r"episodes/000001/reward: contains NaN"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_file_raises_dataset_error_naming_file_and_field(tmp_path: Path, case: str) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [7, 9])
    mutate, expected = CORRUPTIONS[case]
    with h5py.File(path, "r+") as file:
        mutate(file)
    with pytest.raises(DatasetError, match=rf"^{path}: {expected}") as caught:
        open_dataset(path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_tiny_action_overshoot_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [7])
    with h5py.File(path, "r+") as file:
        _transform("episodes/000000/action", _with_value((1, 0), 1.0 + 1e-6))(file)
    with open_dataset(path) as dataset:
        assert len(dataset) == 1


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.h5"
    with pytest.raises(DatasetError, match=rf"^{path}: file not found$"):
        open_dataset(path)


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "notes.h5"
    path.write_text("episode 1: a robot pressed a button\n")
    with pytest.raises(DatasetError, match=rf"^{path}: not a readable HDF5 file") as caught:
        open_dataset(path)
    assert "\n" not in str(caught.value)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "data.h5"
    write_dataset(path, [20, 20])
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DatasetError, match=rf"^{path}: ") as caught:
        open_dataset(path)
    assert "\n" not in str(caught.value)


def test_writer_refuses_non_dataset_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.h5"
    path.write_text("not hdf5")
    with pytest.raises(DatasetError, match=rf"^{path}: not a readable HDF5 file"):
        EpisodeWriter(path, make_attrs())
