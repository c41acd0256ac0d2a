"""Teacher registry: every kind of damaged teacher fails with one line naming it and the problem,
and a failed add or import leaves every other teacher untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import vid2act_teachers.teacher_storage as storage_module
from registry_fakes import add_teacher, tree_snapshot
from vid2act_teachers.registry import TeacherError, TeacherRegistry, sha256_of_file


def rewrite_teacher(
    directory: Path,
    edit_tensors: Callable[[dict[str, torch.Tensor]], None] = lambda tensors: None,
    edit_metadata: Callable[[dict[str, str]], None] = lambda metadata: None,
    update_sha: bool = True,
) -> None:
    """Rewrite model.safetensors with edited tensors/metadata; keep config.json's sha in step unless told."""
    file = directory / "model.safetensors"
    with safe_open(str(file), framework="pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(str(file))
    edit_tensors(tensors)
    edit_metadata(metadata)
    save_file(tensors, str(file), metadata=metadata)
    if update_sha:
        stored = json.loads((directory / "config.json").read_text())
        stored["weights_sha256"] = sha256_of_file(file)
        (directory / "config.json").write_text(json.dumps(stored))


def expect_one_line_error(action: Callable[[], object], name: str, fragment: str) -> str:
    with pytest.raises(TeacherError) as raised:
        action()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"teacher {name!r}"), message
    assert fragment in message, message
    return message


@pytest.fixture()
def registry() -> TeacherRegistry:
    """A registry holding `good` and `victim` (the one the test damages)."""
    registry = TeacherRegistry(include_plugins=False)
    add_teacher(registry, "good", seed=0)
    add_teacher(registry, "victim", seed=1)
    return registry


def check_only_victim_fails(registry: TeacherRegistry, fragment: str) -> None:
    results = dict((name, (ok, message)) for name, ok, message in registry.verify())
    assert results["good"] == (True, "ok")
    ok, message = results["victim"]
    assert not ok and fragment in message and message.startswith("teacher 'victim'"), message
    registry.load("good")


def renamed(tensors: dict[str, torch.Tensor]) -> None:
    tensors["decoder.linear.weights"] = tensors.pop("decoder.linear.weight")


def reshaped(tensors: dict[str, torch.Tensor]) -> None:
    tensors["encoder.net.0.bias"] = torch.zeros(5)


def retyped(tensors: dict[str, torch.Tensor]) -> None:
    tensors["encoder.net.0.bias"] = tensors["encoder.net.0.bias"].double()


def extra(tensors: dict[str, torch.Tensor]) -> None:
    tensors["zzz.extra"] = torch.zeros(1)


def drop_task(metadata: dict[str, str]) -> None:
    del metadata["vid2act.task"]


def change_architecture(metadata: dict[str, str]) -> None:
    config = json.loads(metadata["vid2act.config"])
    config["world_model"]["deter"] = 48
    metadata["vid2act.config"] = json.dumps(config)


def newer_format(metadata: dict[str, str]) -> None:
    metadata["vid2act.format_version"] = "2"


def list_source_expert(metadata: dict[str, str]) -> None:
    metadata["vid2act.source_expert"] = "[1, 2]"


@pytest.mark.parametrize(
    ("edit_tensors", "edit_metadata", "fragment"),
    [
        (renamed, None, "weights lack tensor 'decoder.linear.weight' that the stated architecture has"),
        (extra, None, "weights have tensor 'zzz.extra' that the stated architecture does not have"),
        (reshaped, None, "tensor 'encoder.net.0.bias' has shape [5], the stated architecture needs [4]"),
        (retyped, None, "tensor 'encoder.net.0.bias' has dtype F64, the stated architecture needs F32"),
        (None, drop_task, "model.safetensors lacks header metadata key vid2act.task"),
        (None, change_architecture, "config hash mismatch: the header states model hash"),
        (None, newer_format, "format version 2, newer than this library reads (1); upgrade vid2act-teachers"),
        (None, list_source_expert, "metadata vid2act.source_expert is not a JSON object: '[1, 2]'"),
    ],
    ids=[
        "renamed-tensor", "extra-tensor", "reshaped-tensor", "wrong-dtype", "missing-metadata", "config-hash", "newer-format",
        "source-expert-not-object",
    ],
)
def test_damaged_header_or_tensors(
    registry: TeacherRegistry,
    edit_tensors: Callable[[dict[str, torch.Tensor]], None] | None,
    edit_metadata: Callable[[dict[str, str]], None] | None,
    fragment: str,
) -> None:
    rewrite_teacher(
        registry.teachers_dir / "victim",
        edit_tensors or (lambda tensors: None),
        edit_metadata or (lambda metadata: None),
    )
    expect_one_line_error(lambda: registry.load("victim"), "victim", fragment)
    check_only_victim_fails(registry, fragment)


@pytest.mark.parametrize("keep_bytes", [100, 4000, -1000], ids=["in-header", "in-data", "last-kilobyte"])
def test_truncated_weights(registry: TeacherRegistry, keep_bytes: int) -> None:
    file = registry.teachers_dir / "victim" / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(data[:keep_bytes])
    fragment = "model.safetensors is corrupt or truncated"
    expect_one_line_error(lambda: registry.load("victim"), "victim", fragment)
    expect_one_line_error(lambda: registry.info("victim"), "victim", fragment)
    check_only_victim_fails(registry, fragment)
    assert [info.name for info in registry.list()] == ["good"]


def test_garbage_bytes(registry: TeacherRegistry) -> None:
    file = registry.teachers_dir / "victim" / "model.safetensors"
    file.write_bytes(bytes(range(256)) * 64)
    expect_one_line_error(lambda: registry.load("victim"), "victim", "model.safetensors is corrupt or truncated")
    check_only_victim_fails(registry, "corrupt or truncated")


def test_weights_sha_mismatch_is_found_by_verify_and_load(registry: TeacherRegistry) -> None:
    rewrite_teacher(registry.teachers_dir / "victim", edit_tensors=lambda t: t["encoder.net.0.bias"].add_(1.0), update_sha=False)
    check_only_victim_fails(registry, "model.safetensors sha256")
    expect_one_line_error(lambda: registry.load("victim"), "victim", "does not match config.json's")


def test_nan_weights_are_found_by_verify(registry: TeacherRegistry) -> None:
    rewrite_teacher(registry.teachers_dir / "victim", edit_tensors=lambda t: t["rssm.cell.linear.weight"].fill_(float("nan")))
    check_only_victim_fails(registry, "tensor 'rssm.cell.linear.weight' contains NaN or infinity")
    expect_one_line_error(lambda: registry.export("victim", registry.root / "out.safetensors"), "victim", "NaN")
    assert not (registry.root / "out.safetensors").exists()


@pytest.mark.parametrize("missing", ["model.safetensors", "config.json"])
def test_missing_files(registry: TeacherRegistry, missing: str) -> None:
    (registry.teachers_dir / "victim" / missing).unlink()
    expect_one_line_error(lambda: registry.load("victim"), "victim", f"{missing} is missing")
    check_only_victim_fails(registry, f"{missing} is missing")


def test_config_json_disagreeing_with_the_header(registry: TeacherRegistry) -> None:
    path = registry.teachers_dir / "victim" / "config.json"
    stored = json.loads(path.read_text())
    stored["info"]["train_steps"] = 999
    path.write_text(json.dumps(stored))
    check_only_victim_fails(registry, "config.json says train_steps=999, the header says '101'")


def test_failed_imports_touch_nothing(registry: TeacherRegistry, tmp_path: Path) -> None:
    exported = registry.export("victim", tmp_path / "victim.safetensors")
    before = tree_snapshot(registry.teachers_dir)

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(exported.read_bytes()[:-500])
    expect_one_line_error(lambda: registry.import_file(truncated, name="newcomer"), "newcomer", "file truncated.safetensors is corrupt")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 8 + b"not json at all")
    expect_one_line_error(lambda: registry.import_file(garbage, name="newcomer"), "newcomer", "is corrupt or truncated")
    reshaped_file = tmp_path / "reshaped.safetensors"
    tensors = load_file(str(exported))
    reshaped(tensors)
    with safe_open(str(exported), framework="pt") as handle:
        save_file(tensors, str(reshaped_file), metadata=handle.metadata())
    expect_one_line_error(lambda: registry.import_file(reshaped_file, name="good", overwrite=True), "good", "has shape [5]")
    expect_one_line_error(lambda: registry.import_file(tmp_path / "absent.safetensors", name="x"), "x", "is missing")
    expect_one_line_error(lambda: registry.import_file(exported, name="good"), "good", "already exists")

    assert tree_snapshot(registry.teachers_dir) == before
    assert registry.verify() == [("good", True, "ok"), ("victim", True, "ok")]


def test_a_write_that_fails_midway_keeps_the_old_teacher(registry: TeacherRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_snapshot(registry.teachers_dir)

    def failing_save_file(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str] | None = None) -> None:
        Path(filename).write_bytes(b"half a file")
        raise OSError(28, "No space left on device", filename)

    monkeypatch.setattr(storage_module, "save_file", failing_save_file)
    with pytest.raises(OSError, match="No space left"):
        add_teacher(registry, "good", seed=5, overwrite=True)
    with pytest.raises(OSError, match="No space left"):
        add_teacher(registry, "brand_new", seed=5)
    assert tree_snapshot(registry.teachers_dir) == before
    assert sorted(path.name for path in registry.teachers_dir.iterdir() if path.is_dir()) == ["good", "victim"]
    assert registry.verify() == [("good", True, "ok"), ("victim", True, "ok")]
