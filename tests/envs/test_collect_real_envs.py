"""Collection from the real simulators and the `vid2act collect` command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vid2act_envs.collect import collect_episodes
from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter, open_dataset
from vid2act_envs.policies import RandomPolicy, expert_policy
from vid2act_teachers.plugins import domain_registry

VID2ACT = Path(sys.executable).parent / "vid2act"
FINAL_LINE = re.compile(
    r"^collected (\d+) episodes?, (\d+) steps into (\S+): mean return (-?[\d.]+), success rate (.+)$"
)


def run_vid2act(*args: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, COLUMNS="120")
    return subprocess.run([str(VID2ACT), *args], capture_output=True, text=True, env=environment, timeout=300)


def test_one_short_metaworld_expert_episode_makes_a_valid_file(tmp_path: Path) -> None:
    env = domain_registry().make_env("metaworld:button-press-topdown", seed=0, episode_steps=10)
    try:
        policy = expert_policy(domain_registry(), env.spec)
        path = tmp_path / "bpt.h5"
        with EpisodeWriter(path, DatasetAttrs.from_env(env, policy.name)) as writer:
            stats = collect_episodes(env, policy, 1, writer=writer, seed=0)
    finally:
        env.close()
    assert stats.episodes == 1 and stats.steps == 10 and stats.success_rate is not None
    with open_dataset(path) as dataset:
        assert dataset.attrs.domain == "metaworld" and dataset.attrs.task == "button-press-topdown"
        assert dataset.attrs.camera == "corner" and dataset.attrs.collector == "expert"
        assert dataset.attrs.image_size == (64, 64) and dataset.attrs.action_dim == 4
        episode = dataset[0]
    assert episode["image"].shape == (11, 64, 64, 3)
    assert len({frame.tobytes() for frame in episode["image"]}) > 1, "the arm should move between frames"
    np.testing.assert_array_equal(episode["action"][0], 0.0)
    assert np.abs(episode["action"][1:]).max() > 0.0
    assert episode["is_first"][0] and episode["is_last"][-1] and not episode["is_last"][:-1].any()
    assert np.isclose(episode["reward"].sum(), stats.returns[0], rtol=1e-5)


def test_short_dmc_random_episode(tmp_path: Path) -> None:
    env = domain_registry().make_env("walker_walk", seed=1, episode_steps=16)  # action repeat 2: 8 agent steps
    try:
        path = tmp_path / "walker.h5"
        with EpisodeWriter(path, DatasetAttrs.from_env(env, "random")) as writer:
            stats = collect_episodes(env, RandomPolicy(env.action_dim, seed=1), 1, writer=writer)
    finally:
        env.close()
    assert stats.steps == 8 and stats.success_rate is None
    with open_dataset(path) as dataset:
        assert dataset.attrs.action_repeat == 2 and dataset.attrs.action_dim == 6
        assert "success" not in dataset.keys
        assert dataset.episode_lengths.tolist() == [9]


def test_cli_collects_a_short_episode(tmp_path: Path) -> None:
    out = tmp_path / "cli.h5"
    result = run_vid2act("collect", "metaworld:button-press-topdown", "--episodes", "1", "--episode-steps", "6", "--out", str(out))
    assert result.returncode == 0, result.stderr
    match = FINAL_LINE.match(result.stdout.strip().splitlines()[-1])
    assert match, result.stdout
    assert match.group(1) == "1" and match.group(2) == "6" and match.group(3) == str(out)
    assert re.match(r"[01]\.\d\d \([01]/1\)", match.group(5))
    # Not a terminal: the progress is plain log lines, a start line and a final one.
    progress = result.stderr.splitlines()
    assert "collect metaworld:button-press-topdown: started, 6 steps" in progress
    assert any(re.match(r"^collect metaworld:button-press-topdown: done at 6/6 after \d+s$", line) for line in progress), result.stderr
    with open_dataset(out) as dataset:
        assert len(dataset) == 1 and dataset.num_steps == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect", "no-such-task", "--episodes", "1"], r"^error: unknown task 'no-such-task'"),
        (["collect", "walker_walk", "--policy", "greedy"], r"^error: unknown policy 'greedy'; choose one of: expert, random$"),
        (["collect", "walker_walk", "--episodes", "1"], r"^error: dmc:walker_walk has no scripted expert: no cached state expert in .*vid2act experts train walker_walk"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_vid2act(*args, "--out", str(tmp_path / "never.h5"))
    assert result.returncode == 2
    assert re.match(message, result.stderr.strip()), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "never.h5").exists()


@pytest.mark.slow
def test_cli_collects_a_full_expert_episode(tmp_path: Path) -> None:
    out = tmp_path / "bpt.h5"
    result = run_vid2act("collect", "metaworld:button-press-topdown", "--episodes", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    match = FINAL_LINE.match(result.stdout.strip().splitlines()[-1])
    assert match and match.group(2) == "500", result.stdout
    assert match.group(5) == "1.00 (1/1)", "the scripted expert presses the button"
    with open_dataset(out) as dataset:
        assert dataset.episode_lengths.tolist() == [501]
        assert dataset[0]["success"].any()
