"""A teacher's action-replay set: stored with the weights, checked, exported, imported, attached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from registry_fakes import add_teacher, dataset_hash, tiny_world_model
from vid2act_core.transfer import SourcePairs
from vid2act_teachers.registry import TeacherError, TeacherRegistry
from vid2act_teachers.teacher_replay_set import (
    DEFAULT_REPLAY_SET_MB,
    REPLAY_SET_FILE,
    budget_bytes_from_mb,
    make_replay_set,
    pairs_within_budget,
    weights_digest,
)

from vid2act_cli.compose.replay_sets import build_replay_set


def _episodes(count: int = 2, steps: int = 12, action_dim: int = 3, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(count):
        actions = rng.uniform(-1, 1, (steps, action_dim)).astype(np.float32)
        actions[0] = 0
        images = rng.integers(0, 255, (steps, 64, 64, 3), dtype=np.uint8)
        episodes.append({"image": images, "action": actions})
    return episodes


def _teacher_with_set(registry: TeacherRegistry, name: str, budget_mb: float = DEFAULT_REPLAY_SET_MB, seed: int = 0):
    model, config = tiny_world_model(seed)
    episodes = _episodes(seed=seed)
    replay_set = build_replay_set(name, model, episodes, dataset_sha256=dataset_hash(name), budget_mb=budget_mb)
    info = registry.add(name, model, config, domain="dmc", task="walker_walk", train_steps=5,
                        dataset_sha256=dataset_hash(name), replay_set=replay_set)
    return model, episodes, replay_set, info


def test_registered_set_equals_source_pairs_and_round_trips(tmp_path: Path) -> None:
    registry = TeacherRegistry(tmp_path, include_plugins=False)
    model, episodes, replay_set, info = _teacher_with_set(registry, "walker")
    expected = SourcePairs.from_episodes("walker", model.eval(), episodes, "cpu")
    assert replay_set.pairs == replay_set.pairs_total == 2 * 11 and replay_set.episodes == 2
    torch.testing.assert_close(replay_set.features.float(), expected.features, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(replay_set.actions, expected.actions)
    # Each pair's action is the one taken from its state: the episode's next stored action a_{t+1}.
    assert torch.equal(replay_set.actions, torch.from_numpy(np.concatenate([episode["action"][1:] for episode in episodes])))
    document = json.loads((info.path / "config.json").read_text())
    assert document["replay_set"]["pairs"] == 22 and len(document["replay_set"]["sha256"]) == 64
    assert info.replay_set == document["replay_set"]
    loaded = registry.load_replay_set("walker")
    assert torch.equal(loaded.features, replay_set.features) and torch.equal(loaded.actions, replay_set.actions)
    assert loaded.dataset_sha256 == dataset_hash("walker")
    assert registry.verify() == [("walker", True, "ok")]


def test_budget_subsamples_deterministically_and_is_respected() -> None:
    features, actions = torch.randn(500, 40), torch.rand(500, 3) * 2 - 1
    budget = 100 * (2 * 40 + 4 * 3)
    assert pairs_within_budget(40, 3, budget) == 100
    first = make_replay_set("t", features, actions, episodes=5, dataset_sha256="a" * 64, budget_bytes=budget, weights_digest="d")
    second = make_replay_set("t", features, actions, episodes=5, dataset_sha256="a" * 64, budget_bytes=budget, weights_digest="d")
    assert first.pairs == 100 and first.pairs_total == 500
    assert torch.equal(first.features, second.features) and torch.equal(first.actions, second.actions)
    assert first.features.numel() * 2 + first.actions.numel() * 4 <= budget
    # The kept pairs are real pairs, in dataset order: each action row is found in the source at increasing indices.
    positions = [int(torch.nonzero((actions == row).all(1))[0]) for row in first.actions]
    assert positions == sorted(positions) and len(set(positions)) == 100
    whole = make_replay_set("t", features, actions, episodes=5, dataset_sha256="a" * 64, budget_bytes=10**7, weights_digest="d")
    assert whole.pairs == 500
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="--replay-set-mb"):
            budget_bytes_from_mb(bad)


def test_verify_names_a_tampered_or_foreign_set(tmp_path: Path) -> None:
    registry = TeacherRegistry(tmp_path, include_plugins=False)
    _teacher_with_set(registry, "walker")
    file = registry.info("walker").path / REPLAY_SET_FILE
    data = bytearray(file.read_bytes())
    data[-4:] = b"\xff\xff\xff\xff"
    file.write_bytes(bytes(data))
    [(name, ok, message)] = registry.verify("walker")
    assert not ok and REPLAY_SET_FILE in message and "sha256" in message

    # A set computed with other weights is refused when stored.
    model, config = tiny_world_model(seed=1)
    other, _ = tiny_world_model(seed=2)
    foreign = build_replay_set("x", other, _episodes(), dataset_sha256=dataset_hash("x"), budget_mb=1)
    with pytest.raises(TeacherError, match="other weights"):
        registry.add("x", model, config, domain="dmc", task="walker_walk", train_steps=1,
                     dataset_sha256=dataset_hash("x"), replay_set=foreign)
    assert "x" not in registry.names()


def test_export_import_carry_the_set(tmp_path: Path) -> None:
    source = TeacherRegistry(tmp_path / "a", include_plugins=False)
    _, _, replay_set, _ = _teacher_with_set(source, "walker")
    exported = source.export("walker", tmp_path / "walker.safetensors")
    target = TeacherRegistry(tmp_path / "b", include_plugins=False)
    info = target.import_file(exported, name="walker_copy")
    assert info.replay_set is not None and info.replay_set["pairs"] == replay_set.pairs
    copy = target.load_replay_set("walker_copy")
    assert torch.equal(copy.features, replay_set.features) and torch.equal(copy.actions, replay_set.actions)
    assert target.verify() == [("walker_copy", True, "ok")]
    # A teacher without a set still exports as its model file, byte for byte.
    add_teacher(source, "plain")
    plain = source.export("plain", tmp_path / "plain.safetensors")
    assert plain.read_bytes() == (source.info("plain").path / "model.safetensors").read_bytes()
    assert target.import_file(plain).replay_set is None


def test_attach_to_an_old_teacher_keeps_its_weights(tmp_path: Path) -> None:
    registry = TeacherRegistry(tmp_path, include_plugins=False)
    model, info = add_teacher(registry, "old")
    assert info.replay_set is None and registry.load_replay_set("old") is None
    replay_set = build_replay_set("old", model, _episodes(), dataset_sha256=info.dataset_sha256, budget_mb=1)
    updated = registry.attach_replay_set("old", replay_set)
    assert updated.replay_set["pairs"] == replay_set.pairs
    reloaded, _, _ = registry.load("old")
    assert weights_digest(reloaded.state_dict()) == weights_digest(model.state_dict())
    assert (updated.created, updated.train_steps) == (info.created, info.train_steps)
    assert registry.verify() == [("old", True, "ok")]


def test_export_for_plugin_writes_a_directory_a_plugin_registers(tmp_path: Path) -> None:
    from vid2act_teachers.hookspecs import hookimpl
    from vid2act_teachers.plugins import build_plugin_manager, registered_teachers

    registry = TeacherRegistry(tmp_path / "home", include_plugins=False)
    _teacher_with_set(registry, "walker")
    directory = registry.export_for_plugin("walker", tmp_path / "pkg" / "teachers")
    assert sorted(path.name for path in directory.iterdir()) == ["config.json", "model.safetensors", REPLAY_SET_FILE]
    with pytest.raises(TeacherError, match="exists"):
        registry.export_for_plugin("walker", tmp_path / "pkg" / "teachers")

    class ShipsWalker:
        @hookimpl
        def vid2act_register_teachers(self, register):  # noqa: ANN001, ANN202
            register("shipped_walker", directory)

    pm = build_plugin_manager(entry_points=False)
    pm.add_plugin(ShipsWalker(), "ships")
    assert registered_teachers(pm) == {"shipped_walker": directory.resolve()}


def test_every_replay_set_mb_option_defaults_to_the_library_budget() -> None:
    import inspect

    from vid2act_cli.commands import teachers_add_cmd, teachers_cmd
    from vid2act_cli.commands.app import app

    pretrain = next(info.callback for info in app.registered_commands if info.name == "pretrain")
    for function in (teachers_add_cmd.add_command, teachers_cmd.attach_data_command, pretrain):
        option = inspect.signature(function).parameters["replay_set_mb"].default
        assert option.default == DEFAULT_REPLAY_SET_MB and "--replay-set-mb" in option.param_decls, function
