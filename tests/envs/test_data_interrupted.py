"""A collection killed with SIGKILL leaves a readable dataset holding exactly its complete episodes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vid2act_envs.dataset import open_dataset

EPISODE_STEPS = 30
COLLECTOR_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests_dir!r})
    from episode_fakes import CounterEnv
    from vid2act_envs.collect import collect_episodes
    from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter
    from vid2act_envs.policies import RandomPolicy

    class SlowCounterEnv(CounterEnv):
        def step(self, action):
            time.sleep(0.002)  # a little rendering time, so the kill lands mid-episode too
            return super().step(action)

    env = SlowCounterEnv(episode_steps={episode_steps}, image_size=64)
    policy = RandomPolicy(env.action_dim, seed=0)
    with EpisodeWriter(sys.argv[1], DatasetAttrs.from_env(env, policy.name)) as writer:
        collect_episodes(env, policy, 10_000, writer=writer,
                         on_episode=lambda episode, summary: print(summary.index, flush=True))
    """
)


@pytest.mark.parametrize("kill_delay_s", [0.0, 0.013, 0.037])
def test_sigkill_mid_collection_leaves_only_complete_episodes(tmp_path: Path, kill_delay_s: float) -> None:
    path = tmp_path / "collection.h5"
    script = tmp_path / "collector.py"
    script.write_text(COLLECTOR_SCRIPT.format(tests_dir=str(Path(__file__).resolve().parents[1]), episode_steps=EPISODE_STEPS))
    process = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        reported = [process.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        assert reported == ["0\n", "1\n", "2\n"], reported
        time.sleep(kill_delay_s)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL

    with open_dataset(path) as dataset:
        assert len(dataset) >= 3
        assert dataset.attrs.collector == "random"
        steps = np.arange(EPISODE_STEPS + 1)
        for episode in dataset:
            assert len(episode["image"]) == EPISODE_STEPS + 1
            # CounterEnv's image at step t is filled with t: the whole episode is there, in order.
            np.testing.assert_array_equal(episode["image"][:, 0, 0, 0], steps)
            assert episode["is_first"].tolist() == [True] + [False] * EPISODE_STEPS
            assert episode["is_last"].tolist() == [False] * EPISODE_STEPS + [True]
            np.testing.assert_array_equal(episode["action"][0], 0.0)
        complete_episodes = len(dataset)

    # The interrupted file can be appended to: the next writer continues after the last complete episode.
    from episode_fakes import CounterEnv
    from vid2act_envs.collect import collect_episodes
    from vid2act_envs.dataset import DatasetAttrs, EpisodeWriter
    from vid2act_envs.policies import RandomPolicy

    env = CounterEnv(episode_steps=EPISODE_STEPS, image_size=64)
    with EpisodeWriter(path, DatasetAttrs.from_env(env, "random")) as writer:
        collect_episodes(env, RandomPolicy(env.action_dim, seed=1), 1, writer=writer)
    with open_dataset(path) as dataset:
        assert len(dataset) == complete_episodes + 1
        assert dataset.partial_episodes == 0
