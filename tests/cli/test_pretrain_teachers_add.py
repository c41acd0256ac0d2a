"""`vid2act teachers add`: scripted expert -> dataset -> pretraining -> registry, resumable stages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vid2act_envs.collect import collect_dataset
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.plugins import domain_registry

VID2ACT = Path(sys.executable).parent / "vid2act"


def run_vid2act(*args: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, COLUMNS="160", OMP_NUM_THREADS="1")
    return subprocess.run([str(VID2ACT), *args], capture_output=True, text=True, env=environment, timeout=300)


@pytest.mark.slow
def test_teachers_add_metaworld_door_open_continues_an_interrupted_collection() -> None:
    home = Path(os.environ["VID2ACT_HOME"])
    dataset = home / "datasets" / "metaworld_door_open.h5"
    # An interrupted earlier run left one of the two episodes (tiny preset: 40-step episodes).
    collect_dataset(domain_registry(), "metaworld:door-open", 1, out=dataset, seed=0, episode_steps=40)

    result = run_vid2act("teachers", "add", "metaworld:door-open", "--episodes", "2", "--steps", "50",
                         "--preset", "tiny", "--device", "cpu", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[1/4] expert: the scripted metaworld expert" in result.stderr
    assert "collecting 1 episode(s)" in result.stderr and "1 already there" in result.stderr
    assert "teacher metaworld_door_open (metaworld:door-open, 50 steps) is registered" in result.stdout
    with open_dataset(dataset) as data:
        assert len(data) == 2 and data.attrs.collector == "expert"
    assert (home / "pretrain" / "metaworld_door_open" / "checkpoints" / "latest.pt").exists()

    listing = run_vid2act("teachers", "list")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if "metaworld_door_open" in line)
    assert "metaworld:door-open" in row and "50" in row

    again = run_vid2act("teachers", "add", "metaworld:door-open", "--episodes", "2", "--steps", "50",
                        "--preset", "tiny", "--device", "cpu", "--no-progress")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already holds 2 episodes" in again.stderr
    assert "already registered with this data and 50 steps" in again.stderr


def test_teachers_add_and_list_see_the_example_plugins_domain_and_teacher() -> None:
    result = run_vid2act("teachers", "add", "toy:reach", "--name", "toy_reach_local", "--episodes", "2", "--steps", "10",
                         "--preset", "tiny", "--device", "cpu", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "teacher toy_reach_local (toy:reach, 10 steps) is registered" in result.stdout
    listing = run_vid2act("teachers", "list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split("│")[1].strip(): line for line in listing.stdout.splitlines() if line.count("│") > 3}
    assert "toy:reach" in rows["toy_reach_local"] and "registry" in rows["toy_reach_local"]
    assert "plugin:example" in rows["toy_reach"]
