"""`vid2act teachers list/show/remove/export/import/verify` through the Typer app."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from registry_fakes import add_teacher
from vid2act_cli.app import app
from vid2act_cli.commands import COMMAND_MODULES, teachers_cmd
from vid2act_teachers.registry import TeacherRegistry


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run `vid2act teachers ARGS` in-process with a wide terminal (rich tables do not wrap)."""
    return CliRunner().invoke(app, ["teachers", *args], input=input, env={"COLUMNS": "250", **(env or {})})


@pytest.fixture()
def registry() -> TeacherRegistry:
    """The per-test $VID2ACT_HOME registry holding walker_walk and cheetah_run."""
    registry = TeacherRegistry()
    assert registry.root == Path(os.environ["VID2ACT_HOME"])
    add_teacher(registry, "walker_walk", seed=0)
    add_teacher(registry, "cheetah_run", seed=1, task="cheetah_run")
    return registry


def test_teachers_group_is_registered_and_extendable() -> None:
    assert teachers_cmd in COMMAND_MODULES
    assert isinstance(teachers_cmd.teachers_app, typer.Typer)
    assert any(group.typer_instance is teachers_cmd.teachers_app for group in app.registered_groups)
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("list", "show", "remove", "export", "import", "verify"):
        assert command in result.output


def test_list_shows_local_and_plugin_teachers(registry: TeacherRegistry) -> None:
    result = invoke("list")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 7}
    assert set(rows) == {"cheetah_run", "walker_walk", "toy_reach"}
    assert "dmc:walker_walk" in rows["walker_walk"] and "64x64" in rows["walker_walk"] and "registry" in rows["walker_walk"]
    assert "│ 100 " in rows["walker_walk"] and "KiB" in rows["walker_walk"]
    assert "toy:reach" in rows["toy_reach"] and "plugin:example" in rows["toy_reach"] and "│ 2 " in rows["toy_reach"]


def test_list_of_an_empty_registry_and_an_unreadable_teacher(registry: TeacherRegistry) -> None:
    for name in ("walker_walk", "cheetah_run"):
        registry.remove(name)
    result = invoke("list", env={"VID2ACT_DISABLE_PLUGINS": "example"})
    assert result.exit_code == 0 and "No teachers in" in result.output
    add_teacher(registry, "walker_walk")
    (registry.teachers_dir / "walker_walk" / "model.safetensors").write_bytes(b"garbage")
    result = invoke("list", env={"VID2ACT_DISABLE_PLUGINS": "example"})
    assert result.exit_code == 0
    assert "unreadable: teacher 'walker_walk': model.safetensors is corrupt or truncated" in result.output
    assert "1 teacher(s) unreadable" in result.output


def test_show(registry: TeacherRegistry) -> None:
    info = registry.info("walker_walk")
    result = invoke("show", "walker_walk")
    assert result.exit_code == 0, result.output
    assert "teacher walker_walk (dmc:walker_walk)" in result.output
    for value in (info.model_hash, info.dataset_sha256, info.weights_sha256, info.created, "64x64x3", "registry"):
        assert value in result.output
    assert "world_model: latent=gaussian, stoch=8" in result.output and "use_reward_head=False" in result.output
    shown = json.loads(invoke("show", "walker_walk", "--json").output)
    assert shown["info"] == info.to_json_dict()
    assert shown["config"]["preset"] == "tiny"


def test_unknown_name_is_one_error_line(registry: TeacherRegistry) -> None:
    result = invoke("show", "walker_wlak")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown teacher 'walker_wlak'; did you mean walker_walk? (known: cheetah_run, toy_reach, walker_walk)"
    ]


def test_remove(registry: TeacherRegistry) -> None:
    declined = invoke("remove", "cheetah_run", input="n\n")
    assert declined.exit_code == 1 and "not removed" in declined.output
    assert "cheetah_run" in registry.names()
    confirmed = invoke("remove", "cheetah_run", input="y\n")
    assert confirmed.exit_code == 0 and "removed teacher cheetah_run" in confirmed.output
    assert invoke("remove", "walker_walk", "--yes").exit_code == 0
    assert TeacherRegistry(include_plugins=False).names() == []
    plugin = invoke("remove", "toy_reach", "--yes")
    assert plugin.exit_code == 2
    assert "error: teacher 'toy_reach': is shipped by plugin 'example' and cannot be removed" in plugin.stderr
    assert invoke("remove", "walker_walk", "--yes").exit_code == 2


def test_export_and_import(registry: TeacherRegistry, tmp_path: Path) -> None:
    file = tmp_path / "walker.safetensors"
    exported = invoke("export", "walker_walk", str(file))
    assert exported.exit_code == 0 and file.is_file(), exported.output
    again = invoke("export", "walker_walk", str(file))
    assert again.exit_code == 2 and "the file exists" in again.stderr
    assert invoke("export", "walker_walk", str(file), "--overwrite").exit_code == 0

    imported = invoke("import", str(file), "--name", "walker_copy")
    assert imported.exit_code == 0, imported.output
    assert "imported teacher walker_copy (dmc:walker_walk)" in imported.output
    clash = invoke("import", str(file))
    assert clash.exit_code == 2
    assert clash.stderr.strip().startswith("error: teacher 'walker_walk': already exists")
    assert invoke("import", str(file), "--overwrite").exit_code == 0
    original = registry.load("walker_walk")[0].state_dict()
    copy = registry.load("walker_copy")[0].state_dict()
    assert all((original[key] == copy[key]).all() for key in original)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x01" * 100)
    broken = invoke("import", str(garbage), "--name", "broken")
    assert broken.exit_code == 2 and len(broken.stderr.strip().splitlines()) == 1
    assert "error: teacher 'broken': file garbage.safetensors is corrupt or truncated" in broken.stderr
    assert "broken" not in registry.names()


def test_verify(registry: TeacherRegistry) -> None:
    everything = invoke("verify")
    assert everything.exit_code == 0, everything.output
    assert everything.output.count(" ok ") == 3 and "FAILED" not in everything.output
    model_file = registry.teachers_dir / "cheetah_run" / "model.safetensors"
    model_file.write_bytes(model_file.read_bytes()[:-64])
    failing = invoke("verify")
    assert failing.exit_code == 1
    assert "FAILED" in failing.output and "teacher 'cheetah_run': model.safetensors is corrupt or truncated" in failing.output
    assert "1 of 3 teacher(s) failed verification: cheetah_run" in failing.output
    assert invoke("verify", "walker_walk").exit_code == 0
    assert invoke("verify", "cheetah_run").exit_code == 1
    unknown = invoke("verify", "nobody")
    assert unknown.exit_code == 2 and "error: unknown teacher 'nobody'" in unknown.stderr


def test_list_fits_an_80_column_terminal(registry: TeacherRegistry) -> None:
    result = CliRunner().invoke(app, ["teachers", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines()[1:] if not line.startswith("note:")]
    assert len(lines) == 6 and max(len(line) for line in lines) <= 80, result.output
    walker = lines.index(next(line for line in lines if line.startswith("walker_walk")))
    assert "dmc:walker_walk" in lines[walker]
    assert "64x64 px" in lines[walker + 1] and "100 steps" in lines[walker + 1] and "registry" in lines[walker + 1]
