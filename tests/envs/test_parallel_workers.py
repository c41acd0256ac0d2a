"""`--workers N`: collection and evaluation in worker processes give the same episodes as one process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import parallel_jobs

from vid2act_cli.app import app
from vid2act_envs.collect import collect_dataset, run_episode
from vid2act_envs.dataset import open_dataset
from vid2act_envs.parallel import check_workers, run_in_workers
from vid2act_envs.policies import RandomPolicy
from vid2act_teachers.plugins import domain_registry

TASK = "cartpole_balance"


def test_jobs_come_back_in_order_from_several_processes() -> None:
    assert list(run_in_workers(parallel_jobs.setup, parallel_jobs.square, [3, 1, 2, 5], workers=2)) == [90, 10, 40, 250]
    assert list(run_in_workers(parallel_jobs.setup, parallel_jobs.square, [], workers=2)) == []


def test_a_failing_job_raises_in_the_parent_and_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="job 2 refused"):
        list(run_in_workers(parallel_jobs.setup, parallel_jobs.fail_on_two, [1, 2, 3], workers=2))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="--workers must be a positive integer"):
            check_workers(bad)  # type: ignore[arg-type]


@pytest.mark.slow
def test_collection_episode_i_is_the_episode_of_seed_plus_i_in_one_or_two_processes(tmp_path: Path) -> None:
    registry = domain_registry()
    env = registry.make_env(TASK, seed=0, image_size=64, episode_steps=24)
    try:
        for workers in (1, 2):
            path = tmp_path / f"balance-{workers}.h5"
            stats, _ = collect_dataset(registry, TASK, 3, policy="random", out=path, seed=5, episode_steps=24,
                                       workers=workers, registry_factory=domain_registry)
            assert stats.episodes == 3
            with open_dataset(path) as dataset:
                assert len(dataset.episode_lengths) == 3
                for index in range(3):
                    stored = dataset.episode(index)
                    expected = run_episode(env, RandomPolicy(env.action_dim, seed=5 + index), seed=5 + index)
                    for key in ("image", "action", "reward", "is_first", "is_last"):
                        np.testing.assert_array_equal(stored[key], expected[key], err_msg=f"workers {workers} episode {index} {key}")
    finally:
        env.close()
    with pytest.raises(ValueError, match="registry_factory"):
        collect_dataset(registry, TASK, 1, policy="random", out=tmp_path / "x.h5", workers=2)
    with pytest.raises(ValueError, match=r"^--workers 2: the policy factory .* does not pickle"):
        collect_dataset(registry, TASK, 1, policy=lambda action_dim, seed: RandomPolicy(action_dim, seed),
                        out=tmp_path / "x.h5", workers=2, registry_factory=domain_registry)
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
def test_parallel_evaluation_matches_one_process(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    runner = CliRunner()
    env = {"VID2ACT_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    trained = runner.invoke(app, ["train", "--task", TASK, "--steps", "60", "--preset", "tiny", "--device", "cpu", "--no-progress",
                                  "--set", "train.eval_every=100000", "--set", "env.action_repeat=4", "--set", "env.episode_steps=200",
                                  "--logdir", str(run_dir)], env=env)
    assert trained.exit_code == 0, trained.output
    results = {}
    for workers in (1, 2):
        evaluated = runner.invoke(app, ["evaluate", str(run_dir), "--episodes", "3", "--device", "cpu", "--workers", str(workers)], env=env)
        assert evaluated.exit_code == 0, evaluated.output
        results[workers] = json.loads((run_dir / "evaluation_deterministic.json").read_text())
    for key in ("return_mean", "return_std", "length_mean", "seed", "episodes"):
        assert results[2][key] == pytest.approx(results[1][key], rel=1e-5), key
    refused = runner.invoke(app, ["evaluate", str(run_dir), "--episodes", "1", "--workers", "0"], env=env)
    assert refused.exit_code != 0 and "--workers must be a positive integer" in refused.output
