"""docs/data-format.md: the h5py-only writing example produces a file vid2act reads and samples."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from vid2act_envs.dataset import open_dataset

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-format.md"


def test_the_documented_h5py_example_is_a_valid_dataset(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    path = tmp_path / "third_party.h5"
    exec(compile(code, str(DOC), "exec"), {"path": path})
    with open_dataset(path) as dataset:
        assert (dataset.attrs.domain, dataset.attrs.task, dataset.attrs.action_dim) == ("dmc", "cartpole_swingup", 1)
        assert dataset.attrs.image_size == (64, 64) and dataset.attrs.camera == 0
        assert dataset.episode_lengths.tolist() == [12, 7, 30]
        assert dataset[1]["is_terminal"][-1] and not dataset[0]["is_terminal"].any()
        batch = dataset.sampler(rng=0).sample(8, 16)
    assert batch["image"].shape == (8, 16, 64, 64, 3) and batch["action"].dtype == np.float32
