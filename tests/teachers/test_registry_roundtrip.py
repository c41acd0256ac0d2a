"""Teacher registry: save/load round trip, frozen loading, export/import, plugin teachers, names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from registry_fakes import ACTION_DIM, add_teacher, dataset_hash, tiny_world_model
from vid2act_teachers.registry import (
    FORMAT_VERSION,
    REQUIRED_METADATA_KEYS,
    TeacherError,
    TeacherRegistry,
    check_compatible,
    sha256_of_file,
    vid2act_home,
)


def random_batch(seed: int = 0, batch: int = 2, length: int = 5) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    is_first = torch.zeros(batch, length, dtype=torch.bool)
    is_first[:, 0] = True
    return {
        "image": torch.randint(0, 256, (batch, length, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(batch, length, ACTION_DIM, generator=generator) * 2 - 1,
        "is_first": is_first,
    }


def model_outputs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Deterministic outputs: embeddings, posterior features (sample=False) and decoded images."""
    model.eval()
    with torch.no_grad():
        output = model.observe(batch, sample=False)
        features = model.rssm.feature(output.posts)
        return {"embeds": output.embeds, "features": features, "decoded": model.decoder(features)}


def test_vid2act_home_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VID2ACT_HOME", str(tmp_path / "home"))
    assert vid2act_home() == tmp_path / "home"
    assert TeacherRegistry().teachers_dir == tmp_path / "home" / "teachers"
    monkeypatch.delenv("VID2ACT_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert vid2act_home() == tmp_path / "cache" / "vid2act"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert vid2act_home() == Path.home() / ".cache" / "vid2act"


def test_round_trip_is_bit_identical_and_gives_the_same_outputs() -> None:
    registry = TeacherRegistry(include_plugins=False)
    model, info = add_teacher(registry, "walker_walk", seed=3)
    loaded, config, loaded_info = registry.load("walker_walk", frozen=False)

    original_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert list(original_state) == list(loaded_state)
    for key, tensor in original_state.items():
        assert loaded_state[key].dtype == tensor.dtype
        assert torch.equal(loaded_state[key], tensor), key
        assert loaded_state[key].numpy().tobytes() == tensor.numpy().tobytes(), key

    batch = random_batch()
    expected, actual = model_outputs(model, batch), model_outputs(loaded, batch)
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key

    assert config.world_model_hash() == info.model_hash == loaded_info.model_hash
    assert config.world_model.use_reward_head is False
    assert (info.domain, info.task, info.image_size, info.action_dim) == ("dmc", "walker_walk", 64, ACTION_DIM)
    assert info.obs_shape == (64, 64, 3)
    assert info.train_steps == 103 and info.dataset_sha256 == dataset_hash("walker_walk")
    assert info.format_version == FORMAT_VERSION and info.source == "registry"
    assert info.path == registry.teachers_dir / "walker_walk"
    assert info.weights_sha256 == sha256_of_file(info.path / "model.safetensors")


def test_files_on_disk_hold_the_documented_metadata() -> None:
    registry = TeacherRegistry(include_plugins=False)
    _, info = add_teacher(registry, "cheetah_run", task="cheetah_run")
    assert sorted(entry.name for entry in registry.teachers_dir.iterdir() if not entry.name.startswith(".")) == ["cheetah_run"]
    with safe_open(str(info.path / "model.safetensors"), framework="pt") as handle:
        metadata = handle.metadata()
    assert set(REQUIRED_METADATA_KEYS) <= set(metadata)
    assert all(isinstance(value, str) for value in metadata.values())
    assert metadata["vid2act.task"] == "cheetah_run" and metadata["vid2act.obs_shape"] == "[64, 64, 3]"
    stored = json.loads((info.path / "config.json").read_text())
    assert stored["weights_sha256"] == info.weights_sha256
    assert stored["config"] == json.loads(metadata["vid2act.config"])
    assert stored["info"]["model_hash"] == info.model_hash and stored["info"]["train_steps"] == 100


def test_loading_for_transfer_freezes_the_teacher() -> None:
    registry = TeacherRegistry(include_plugins=False)
    add_teacher(registry, "walker_walk")
    model, _, _ = registry.load("walker_walk")
    assert not model.training
    assert all(not module.training for module in model.modules())
    parameters = list(model.parameters())
    assert parameters and not any(parameter.requires_grad for parameter in parameters)
    trainable, _, _ = registry.load("walker_walk", frozen=False)
    assert all(parameter.requires_grad for parameter in trainable.parameters())


def test_export_import_round_trip(tmp_path: Path) -> None:
    registry = TeacherRegistry(include_plugins=False)
    model, info = add_teacher(registry, "walker_walk", seed=1)
    exported = registry.export("walker_walk", tmp_path / "out" / "walker.safetensors")
    assert exported.is_file() and sha256_of_file(exported) == info.weights_sha256
    with pytest.raises(TeacherError, match="the file exists"):
        registry.export("walker_walk", exported)

    other = TeacherRegistry(tmp_path / "other_home", include_plugins=False)
    imported = other.import_file(exported)
    assert imported.name == "walker_walk"
    renamed = other.import_file(exported, name="walker_copy")
    for name in ("walker_walk", "walker_copy"):
        loaded, _, loaded_info = other.load(name)
        for key, tensor in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], tensor), (name, key)
        assert (loaded_info.created, loaded_info.train_steps, loaded_info.dataset_sha256) == (
            info.created, info.train_steps, info.dataset_sha256,
        )
    assert renamed.path.name == "walker_copy"
    with pytest.raises(TeacherError, match="teacher 'walker_walk': already exists"):
        other.import_file(exported)
    assert other.import_file(exported, overwrite=True).name == "walker_walk"
    assert other.verify() == [("walker_copy", True, "ok"), ("walker_walk", True, "ok")]


def test_wrapped_models_are_saved_unwrapped() -> None:
    registry = TeacherRegistry(include_plugins=False)
    model, config = tiny_world_model(seed=2)
    info = registry.add(
        "wrapped", torch.nn.DataParallel(model), config,
        domain="dmc", task="walker_walk", train_steps=5, dataset_sha256=dataset_hash("wrapped"),
    )
    loaded, _, _ = registry.load(info.name)
    assert list(loaded.state_dict()) == list(model.state_dict())
    assert all(torch.equal(loaded.state_dict()[key], value) for key, value in model.state_dict().items())


def test_add_refuses_an_existing_name_unless_overwrite() -> None:
    registry = TeacherRegistry(include_plugins=False)
    first, _ = add_teacher(registry, "walker_walk", seed=0)
    with pytest.raises(TeacherError, match=r"^teacher 'walker_walk': already exists .*pass overwrite"):
        add_teacher(registry, "walker_walk", seed=1)
    kept, _, _ = registry.load("walker_walk")
    assert all(torch.equal(kept.state_dict()[key], value) for key, value in first.state_dict().items())
    second, info = add_teacher(registry, "walker_walk", seed=1, overwrite=True)
    replaced, _, _ = registry.load("walker_walk")
    assert all(torch.equal(replaced.state_dict()[key], value) for key, value in second.state_dict().items())
    assert info.train_steps == 101
    leftovers = [entry.name for entry in registry.teachers_dir.iterdir() if entry.is_dir() and entry.name != "walker_walk"]
    assert leftovers == []


def test_remove_and_unknown_names_suggest_close_matches() -> None:
    registry = TeacherRegistry(include_plugins=False)
    add_teacher(registry, "walker_walk")
    add_teacher(registry, "walker_run", task="walker_run")
    assert registry.names() == ["walker_run", "walker_walk"]
    assert [info.name for info in registry.list()] == ["walker_run", "walker_walk"]
    with pytest.raises(TeacherError, match=r"unknown teacher 'walker_wlak'; did you mean walker_walk"):
        registry.load("walker_wlak")
    registry.remove("walker_run")
    assert registry.names() == ["walker_walk"]
    with pytest.raises(TeacherError, match="unknown teacher 'walker_run'"):
        registry.remove("walker_run")
    for bad_name in ("../escape", ".hidden", "has space", "", "a/b"):
        with pytest.raises(TeacherError, match="invalid teacher name"):
            add_teacher(registry, bad_name)


def test_add_validates_its_arguments() -> None:
    registry = TeacherRegistry(include_plugins=False)
    model, config = tiny_world_model()
    common = dict(domain="dmc", task="walker_walk", train_steps=1, dataset_sha256=dataset_hash("x"))
    with pytest.raises(TeacherError, match="dataset_sha256 must be 64 hex digits"):
        registry.add("bad", model, config, **{**common, "dataset_sha256": "abc"})  # type: ignore[arg-type]
    with pytest.raises(TeacherError, match="train_steps must be an integer"):
        registry.add("bad", model, config, **{**common, "train_steps": -1})  # type: ignore[arg-type]
    other = config
    other.world_model.deter = 48  # the model was built with deter=32
    with pytest.raises(TeacherError, match=r"teacher 'bad': tensor 'decoder\.linear\.weight' has shape \[128, 40\], the stated architecture needs \[128, 56\]"):
        registry.add("bad", model, other, **common)  # type: ignore[arg-type]
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    model_config = tiny_world_model()[1]
    with pytest.raises(TeacherError, match="refusing to save: tensor .* contains NaN"):
        registry.add("bad", model, model_config, **common)  # type: ignore[arg-type]
    assert registry.names() == []


def test_incompatible_image_size_is_refused() -> None:
    registry = TeacherRegistry(include_plugins=False)
    _, info = add_teacher(registry, "walker_walk")
    check_compatible(info, 64)
    with pytest.raises(TeacherError) as raised:
        check_compatible(info, 84)
    assert str(raised.value) == "teacher 'walker_walk' was trained on 64x64 images, the target uses 84x84"


def test_the_example_plugin_ships_a_loadable_teacher() -> None:
    registry = TeacherRegistry()
    assert "toy_reach" in registry.names()
    info = registry.info("toy_reach")
    assert info.source == "plugin:example"
    assert (info.domain, info.task, info.action_dim, info.image_size) == ("toy", "reach", 2, 64)
    assert sum(path.stat().st_size for path in info.path.iterdir()) < 1_000_000
    model, config, _ = registry.load("toy_reach")
    assert config.world_model.use_reward_head is False and model.reward_head is None
    assert not any(parameter.requires_grad for parameter in model.parameters())
    assert registry.verify("toy_reach") == [("toy_reach", True, "ok")]
    with pytest.raises(TeacherError, match="shipped by plugin 'example' and cannot be removed"):
        registry.remove("toy_reach")
    assert "toy_reach" not in TeacherRegistry(include_plugins=False).names()
