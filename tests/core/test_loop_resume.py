"""Resume equivalence: a run killed after a checkpoint and resumed equals a run that was never stopped.

The resume rule (docs/testing.md): episodes stored after the checkpoint are moved aside, so the
episode counter, the environment seeds and the replay agree; on the CPU with the same threads the
resumed run ends with the same replay, counters and bit-identical weights and optimiser states.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from loop_fakes import EPISODE_STEPS, SimulatedKill, loop_config, make_trainer
from vid2act_core.runtime.checkpoint import load_checkpoint


def _episode_files(run_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    files = {}
    for path in sorted((run_dir / "episodes").glob("*.npz")):
        with np.load(path) as archive:
            files[path.name] = {key: archive[key] for key in archive.files}
    return files


def _assert_same_files(left: dict[str, dict[str, np.ndarray]], right: dict[str, dict[str, np.ndarray]]) -> None:
    assert sorted(left) == sorted(right)
    for name in left:
        assert left[name].keys() == right[name].keys(), name
        for key in left[name]:
            np.testing.assert_array_equal(left[name][key], right[name][key], err_msg=f"{name}:{key}")


def _assert_same_tensors(left, right, where: str = "") -> None:
    if isinstance(left, torch.Tensor):
        assert torch.equal(left, right), where
    elif isinstance(left, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            _assert_same_tensors(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right)):
            _assert_same_tensors(a, b, f"{where}[{index}]")
    else:
        assert left == right, where


def test_a_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    config = loop_config(steps=96)
    straight, straight_env = make_trainer(tmp_path / "straight", config)
    straight.run()

    # Killed at step 80: the last checkpoint is at the episode boundary at 60 (5 episodes), but the
    # replay has already stored episode 5 (finished at step 72).
    killed, _ = make_trainer(tmp_path / "resumed", config, kill_at_step=80)
    with pytest.raises(SimulatedKill):
        killed.run()
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")["loop"]["episodes"] == 5
    assert (tmp_path / "resumed" / "episodes" / f"ep-00000005-{EPISODE_STEPS + 1}.npz").exists()

    resumed, resumed_env = make_trainer(tmp_path / "resumed", config)
    assert resumed.replay.num_episodes == 6
    assert resumed.try_resume()
    quarantine = tmp_path / "resumed" / "episodes" / "quarantine" / "resume-000"
    assert resumed.quarantined == [quarantine / f"ep-00000005-{EPISODE_STEPS + 1}.npz"]
    assert resumed.replay.num_episodes == 5 and resumed.state.episodes == 5
    resumed.run()

    assert dataclasses.asdict(resumed.state) == dataclasses.asdict(straight.state)
    # The resumed session starts with episode 5's seed, as the uninterrupted run did.
    assert resumed_env.reset_seeds == straight_env.reset_seeds[5:]
    straight_files, resumed_files = _episode_files(tmp_path / "straight"), _episode_files(tmp_path / "resumed")
    _assert_same_files(straight_files, resumed_files)
    # The quarantined episode is the one the resumed run collected again, step for step.
    with np.load(resumed.quarantined[0]) as archive:
        _assert_same_files({"5": dict(archive)}, {"5": straight_files[f"ep-00000005-{EPISODE_STEPS + 1}.npz"]})
    _assert_same_tensors(resumed.agent.checkpoint(), straight.agent.checkpoint(), "agent")
    final = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")
    reference = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    _assert_same_tensors(final["agent"], reference["agent"], "checkpoint")
    assert final["loop"] == reference["loop"] and final["numpy_rng"] == reference["numpy_rng"]
    assert torch.equal(final["torch_rng"], reference["torch_rng"])


def test_a_finished_run_extended_keeps_its_last_episode_and_never_reuses_a_seed(tmp_path: Path) -> None:
    config = loop_config(steps=30)
    first, first_env = make_trainer(tmp_path / "run", config)
    state = first.run()
    # Stopped mid-episode (step 30 of 12-step episodes): that episode is saved and counted, truncated.
    assert state.episodes == 3 and state.env_steps == 30
    assert (tmp_path / "run" / "episodes" / "partial.npz").exists()

    config.train.steps = 50
    second, second_env = make_trainer(tmp_path / "run", config)
    assert second.try_resume() and second.quarantined == []
    assert second.replay.num_episodes == second.state.episodes == 3
    truncated = list(second.replay.episodes())[-1]
    assert len(truncated["image"]) == 30 - 2 * EPISODE_STEPS and truncated["is_last"][-1] and not truncated["is_terminal"].any()
    second.run()
    seeds = first_env.reset_seeds + second_env.reset_seeds
    assert len(seeds) == len(set(seeds)), seeds
    assert second.state.env_steps == 50 and second.state.episodes == 5

    # Re-running the finished run changes nothing; its replay (restored from disk) holds the 5 episodes.
    third, _ = make_trainer(tmp_path / "run", config)
    assert third.try_resume() and third.quarantined == []
    before = dataclasses.asdict(third.state)
    assert third.replay.num_episodes == third.state.episodes == 5
    third.run()
    assert dataclasses.asdict(third.state) == before and third.replay.num_episodes == 5
