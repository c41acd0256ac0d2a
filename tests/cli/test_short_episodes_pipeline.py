"""A plugin domain whose episodes end after 8-12 steps with `is_terminal` (tests/short_domain.py),
registered through the public hook API, through collect, teacher pretraining and a short transfer
with train.batch_length 16: longer than every episode."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import yaml

import short_domain
from vid2act_core.config import preset
from vid2act_envs.collect import collect_dataset
from vid2act_envs.dataset import open_dataset
from vid2act_teachers import plugins
from vid2act_teachers.plugins import domain_registry, get_plugin_manager
from vid2act_teachers.testing import check_domain_conformance

from vid2act_cli.compose.pretraining import pretrain_teacher
from vid2act_cli.compose.transfer import TransferRequest, transfer_to_target

BATCH_LENGTH = 16


@pytest.fixture
def short_plugin() -> Iterator[None]:
    """The `short` plugin added to the process's plugin manager, as an installed plugin would be."""
    plugins.clear_plugin_manager_cache()
    assert get_plugin_manager().add_plugin(short_domain, "short")
    yield
    plugins.clear_plugin_manager_cache()


def test_fall_task_conforms_terminates_and_truncates(short_plugin: None) -> None:
    check_domain_conformance(short_domain.short_domain(), "fall")
    registry = domain_registry()
    spec = registry.resolve("short:fall")
    assert spec.can_terminate and not registry.resolve("dmc:cartpole_balance").can_terminate
    env = registry.make_env("short:fall", seed=3)
    lengths = []
    for episode in range(6):
        obs, steps = env.reset(seed=episode), 0
        while not obs["is_last"]:
            obs, steps = env.step(np.array([(-1.0, 1.0)[episode % 2]], np.float32)), steps + 1
        assert obs["is_terminal"]
        lengths.append(steps)
    assert min(lengths) >= 8 and max(lengths) <= 12 and len(set(lengths)) > 1
    # A time limit before the ground: the episode ends by truncation, not termination.
    limited = registry.make_env("short:fall", seed=3, episode_steps=5)
    obs = limited.reset()
    for _ in range(5):
        obs = limited.step(np.zeros(1, np.float32))
    assert obs["is_last"] and not obs["is_terminal"]


def test_collect_pretrain_and_transfer_on_episodes_shorter_than_the_window(
    short_plugin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = Path(os.environ["VID2ACT_HOME"])
    data = home / "datasets" / "fall_teacher.h5"
    collect_dataset(domain_registry(), "short:fall", 6, policy="random", out=data, seed=0)
    with open_dataset(data) as dataset:
        lengths = dataset.episode_lengths.tolist()
        episodes = dataset.load()
    assert all(9 <= length <= 13 for length in lengths), lengths  # reset step + 8-12 transitions
    assert max(lengths) < BATCH_LENGTH
    for episode in episodes:
        assert episode["is_terminal"][-1] and episode["is_last"][-1] and not episode["is_terminal"][:-1].any()

    config = preset("tiny")
    config.train.batch_length = BATCH_LENGTH
    config.pretrain.steps, config.pretrain.eval_every, config.pretrain.log_every = 4, 2, 2
    info = pretrain_teacher([data], "fall_teacher", config, tmp_path / "pretrain", "cpu")
    assert info.name == "fall_teacher"
    records = [json.loads(line) for line in (tmp_path / "pretrain" / "metrics.jsonl").read_text().splitlines()]
    model_losses = [record[key] for record in records for key in record if key.endswith("model_loss")]
    assert model_losses and np.isfinite(model_losses).all()
    errors = [record["eval/open_loop_error"] for record in records if "eval/open_loop_error" in record]
    assert errors and np.isfinite(errors).all()

    config = preset("tiny")
    config.env.task = "short:fall"
    config.train.batch_length = BATCH_LENGTH
    config.train.steps, config.train.prefill, config.train.eval_every = 70, 40, 100_000
    config.train.checkpoint_every, config.train.log_every = 70, 10
    assert not config.world_model.use_cont_head
    capsys.readouterr()
    request = TransferRequest(
        teachers="fall_teacher", init_from=None, source_data=[], device="cpu", logdir=tmp_path / "run", root=tmp_path
    )
    state, run_dir, _ = transfer_to_target(config, request)
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "world_model.use_cont_head: on, because short:fall can terminate" in output
    assert state.updates > 0 and state.env_steps >= 70
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["world_model"]["use_cont_head"] is True
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    cont_losses = [record[key] for record in records for key in record if key.endswith("cont_loss")]
    distill_losses = [record[key] for record in records for key in record if key.endswith("distill_loss")]
    assert cont_losses and np.isfinite(cont_losses).all()
    assert distill_losses and np.isfinite(distill_losses).all()
    stored = sorted((run_dir / "episodes").glob("ep-*.npz"))
    assert len(stored) >= 5
    with np.load(stored[0]) as episode:
        assert len(episode["image"]) < BATCH_LENGTH and episode["is_terminal"][-1]


def test_pretraining_data_of_short_episodes_holds_out_trailing_ones(tmp_path: Path) -> None:
    from pretrain_helpers import write_synthetic_dataset

    from vid2act_cli.compose.pretrain_data import load_pretrain_data

    path = write_synthetic_dataset(tmp_path / "short.h5", episodes=6, steps=9)
    data = load_pretrain_data([path], BATCH_LENGTH)
    assert [len(episode["image"]) for episode in data.train_episodes] == [9] * 4
    assert [len(episode["image"]) for episode in data.eval_episodes] == [9, 9]  # 18 steps fill a window of 16
    few = write_synthetic_dataset(tmp_path / "few.h5", episodes=1, steps=9)
    with pytest.raises(ValueError, match=r"few.h5: the 1 episode\(s\) hold 9 steps in total, fewer than one window of train.batch_length=16; collect more"):
        load_pretrain_data([few], BATCH_LENGTH)
    single = write_synthetic_dataset(tmp_path / "single.h5", episodes=20, steps=1)
    with pytest.raises(ValueError, match=r"single.h5: every episode has a single step"):
        load_pretrain_data([single], BATCH_LENGTH)
