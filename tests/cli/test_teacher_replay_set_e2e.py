"""End to end: a teacher registered on one machine transfers with guidance on another, without its dataset.

pretrain (registers with the action-replay set) -> export -> delete the source dataset -> import under
another VID2ACT_HOME -> `transfer --teachers all` with guidance, which also takes the example plugin's
shipped teacher `toy_reach`. Also: an old teacher without a set, and `teachers attach-data`.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from pretrain_helpers import write_synthetic_dataset
from vid2act_cli.app import app


def _run(args: list[str], home: Path) -> Result:
    """`vid2act ARGS` in-process with VID2ACT_HOME=home (the example plugin installed and loaded)."""
    return CliRunner().invoke(app, args, env={"VID2ACT_HOME": str(home), "COLUMNS": "200"})


def test_exported_teacher_guides_transfer_without_its_dataset(tmp_path: Path) -> None:
    first, second = tmp_path / "machine_a", tmp_path / "machine_b"
    data = write_synthetic_dataset(tmp_path / "walker.h5", task="walker_walk", domain="dmc", episodes=2, steps=20)
    pretrain = _run(["pretrain", "--data", str(data), "--name", "walker_src", "--preset", "tiny", "--steps", "2",
                     "--device", "cpu", "--no-progress", "--logdir", str(tmp_path / "pretrain")], first)
    assert pretrain.exit_code == 0, pretrain.output[-3000:]
    assert "action-replay set: 38 pairs from 2 episodes" in pretrain.output
    exported = _run(["teachers", "export", "walker_src", str(tmp_path / "walker_src.safetensors")], first)
    assert exported.exit_code == 0, exported.output
    data.unlink()

    imported = _run(["teachers", "import", str(tmp_path / "walker_src.safetensors")], second)
    assert imported.exit_code == 0, imported.output
    verified = _run(["teachers", "verify"], second)
    assert verified.exit_code == 0 and "toy_reach" in verified.output and "walker_src" in verified.output, verified.output
    assert "no action-replay set" not in verified.output

    run_dir = tmp_path / "run"
    transfer = _run(["transfer", "--target", "toy:reach", "--teachers", "all", "--preset", "tiny", "--device", "cpu",
                     "--no-progress", "--steps", "50", "--set", "train.prefill=30", "--set", "train.eval_every=100000", "--set", "train.log_every=10",
                     "--logdir", str(run_dir)], second)
    assert transfer.exit_code == 0, transfer.output[-3000:]
    config_text = (run_dir / "config.yaml").read_text()
    assert "replay_sets" in config_text and "walker_src" in config_text and "toy_reach" in config_text
    keys = set().union(*[json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()])
    assert {"losses/vae_loss", "losses/weight/walker_src", "losses/weight/toy_reach"} <= keys


def test_old_teacher_gets_a_one_line_hint_and_attach_data_fixes_it(tmp_path: Path) -> None:
    import torch

    from registry_fakes import tiny_world_model
    from vid2act_envs.dataset import open_dataset
    from vid2act_teachers.registry import TeacherRegistry

    home = tmp_path / "home"
    data = write_synthetic_dataset(tmp_path / "door.h5", episodes=2, steps=16)
    with open_dataset(data) as dataset:
        sha = dataset.sha256()
    model, config = tiny_world_model(action_dim=4)
    TeacherRegistry(home, include_plugins=False).add(
        "door_old", model, config, domain="metaworld", task="button-press-topdown", train_steps=1, dataset_sha256=sha
    )
    transfer = _run(["transfer", "--target", "toy:reach", "--teachers", "door_old", "--preset", "tiny", "--device", "cpu",
                     "--no-progress", "--steps", "10", "--logdir", str(tmp_path / "refused")], home)
    assert transfer.exit_code == 2
    [line] = transfer.stderr.strip().splitlines()
    assert "door_old" in line and "vid2act teachers attach-data door_old --data FILE.h5" in line and "--no-guidance" in line
    assert not (tmp_path / "refused").exists()

    bad = _run(["teachers", "attach-data", "door_old", "--data", str(data), "--replay-set-mb", "-1"], home)
    assert bad.exit_code == 2 and "--replay-set-mb" in bad.output
    attached = _run(["teachers", "attach-data", "door_old", "--data", str(data), "--device", "cpu"], home)
    assert attached.exit_code == 0, attached.output
    assert "30 pairs" in attached.output
    replay_set = TeacherRegistry(home, include_plugins=False).load_replay_set("door_old")
    assert replay_set is not None and replay_set.pairs == 30 and replay_set.dataset_sha256 == sha
    assert torch.isfinite(replay_set.features.float()).all()
    wrong_task = write_synthetic_dataset(tmp_path / "walker.h5", task="walker_walk", domain="dmc", episodes=1, steps=12)
    refused = _run(["teachers", "attach-data", "door_old", "--data", str(wrong_task)], home)
    assert refused.exit_code == 2 and "walker.h5" in refused.output and "dmc:walker_walk" in refused.output
