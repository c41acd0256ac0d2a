"""Plugin loading: built-ins first, entry points, allow/block variables, failures, conflicts, teachers, commands."""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import typer

from vid2act_envs.base import Domain
from vid2act_envs.tasks import UnknownTaskError
from vid2act_plugin_example import plugin as example_plugin
from vid2act_teachers import plugins
from vid2act_teachers.hookspecs import hookimpl
from vid2act_teachers.plugins import (
    DISABLE_PLUGINS_ENV,
    PLUGINS_ENV,
    PluginConflictError,
    build_plugin_manager,
    domain_registry,
    get_plugin_manager,
    plugin_report,
    registered_teachers,
)
from vid2act_cli.commands.plugin_glue import register_cli_commands

LOG_NAME = "vid2act.plugins"


@pytest.fixture(autouse=True)
def fresh_plugin_managers() -> Iterator[None]:
    """Each test starts from the suite's plugins (built-ins and the example, tests/conftest.py) and leaves no cached manager behind."""
    plugins.clear_plugin_manager_cache()
    yield
    plugins.clear_plugin_manager_cache()


def fake_domain(name: str) -> Domain:
    """A Domain record for registration tests (never built into an environment here)."""

    def task_spec(task: str) -> Any:
        raise AssertionError("not used")

    def make_env(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not used")

    return Domain(name=name, task_names=lambda: ["task"], task_spec=task_spec, make_env=make_env)


class DomainPlugin:
    """In-test plugin registering the given domain names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def vid2act_register_domains(self, register: Callable[[Domain], None]) -> None:
        for name in self.names:
            register(fake_domain(name))


class RaisingDomainPlugin:
    """Registers one domain, then raises: nothing of it may be kept."""

    @hookimpl
    def vid2act_register_domains(self, register: Callable[[Domain], None]) -> None:
        register(fake_domain("half_done"))
        raise RuntimeError("simulator missing\nsecond line of the message")


def builtins_only() -> plugins.Vid2actPluginManager:
    return build_plugin_manager(allow=frozenset())


# -- built-ins and entry points --------------------------------------------------------------


def test_builtin_domains_load_first_then_the_example_entry_point() -> None:
    manager = get_plugin_manager()
    assert manager.loaded_plugin_names()[:2] == ["dmc", "metaworld"]
    assert "example" in manager.loaded_plugin_names()
    registry = domain_registry()
    assert registry.domain_names()[:2] == ["dmc", "metaworld"]
    assert "toy" in registry.domain_names()
    assert get_plugin_manager() is manager  # cached while the variables do not change


def test_example_is_discovered_through_its_entry_point_with_distribution_and_version() -> None:
    info = {entry.name: entry for entry in plugin_report()}["example"]
    assert info.status == "loaded"
    assert info.source.kind == "entry point"
    assert info.source.target == "vid2act_plugin_example.plugin"
    assert info.source.distribution == "vid2act-plugin-example"
    assert info.source.version == importlib.metadata.version("vid2act-plugin-example")
    assert info.domains == ("toy",)
    assert info.errors == ()
    builtin = {entry.name: entry for entry in plugin_report()}["dmc"]
    assert (builtin.source.kind, builtin.domains) == ("builtin", ("dmc",))


def test_example_domain_resolves_qualified_and_bare_when_unambiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = domain_registry().resolve("toy:reach")
    assert (spec.domain, spec.task, spec.has_success) == ("toy", "reach", True)
    # Meta-World also has a task called "reach": the bare name is ambiguous while it is loaded...
    with pytest.raises(UnknownTaskError, match="metaworld:reach.*toy:reach"):
        domain_registry().resolve("reach")
    # ...and resolves to the toy task once Meta-World is blocked.
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, "metaworld")
    assert domain_registry().resolve("reach") == spec


def test_empty_allow_list_hides_external_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PLUGINS_ENV, "")
    assert domain_registry().domain_names() == ["dmc", "metaworld"]
    statuses = {info.name: info.status for info in plugin_report()}
    installed = {entry_point.name for entry_point in importlib.metadata.entry_points(group="vid2act")}
    assert "example" in installed
    assert statuses == {"dmc": "loaded", "metaworld": "loaded", **{name: "not selected" for name in installed}}


def test_allow_list_naming_the_example_loads_it_and_warns_about_unknown_names(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(PLUGINS_ENV, " example , no_such_plugin")
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        assert "toy" in domain_registry().domain_names()
    assert "'no_such_plugin' but no installed vid2act plugin has that name" in caplog.text


def test_disable_list_blocks_the_example_and_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, "example")
    assert "toy" not in domain_registry().domain_names()
    assert {info.name: info.status for info in plugin_report()}["example"] == "blocked"
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, "example,dmc")
    assert domain_registry().domain_names() == ["metaworld"]


def test_task_shortcuts_resolve_builtin_and_plugin_domains_through_the_same_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    assert domain_registry().resolve("walker_walk").domain == "dmc"  # built-in plugin "dmc"
    assert domain_registry().resolve("toy:reach").domain == "toy"  # external plugin "example"
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, "dmc")
    assert domain_registry().domain_names() == ["metaworld", "toy"]
    with pytest.raises(UnknownTaskError, match="unknown domain 'dmc'"):
        domain_registry().resolve("dmc:walker_walk")
    with pytest.raises(UnknownTaskError, match="unknown domain 'dmc'"):
        domain_registry().make_env("dmc:walker_walk", seed=0, render=False)


# -- failures are reported by name and skipped -------------------------------------------------


def test_plugin_raising_in_a_hook_is_reported_by_name_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    manager = builtins_only()
    assert manager.add_plugin(RaisingDomainPlugin(), "broken")
    assert manager.add_plugin(DomainPlugin("fine"), "healthy")
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        names = domain_registry(manager).domain_names()
    assert names == ["dmc", "metaworld", "fine"]  # "half_done" from the failing call is dropped
    warnings = [record.getMessage() for record in caplog.records if record.name == LOG_NAME]
    assert len(warnings) == 1
    assert "'broken'" in warnings[0] and "vid2act_register_domains" in warnings[0]
    assert "RuntimeError: simulator missing" in warnings[0] and "\n" not in warnings[0]
    assert "Traceback" not in caplog.text
    info = {entry.name: entry for entry in plugin_report(manager)}["broken"]
    assert info.domains == () and len(info.errors) == 1


def test_plugin_failing_to_import_is_reported_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = importlib.metadata.EntryPoint(name="broken_import", value="vid2act_no_such_module_xyz", group="vid2act")
    real = importlib.metadata.entry_points(group="vid2act")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken, *real])
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        manager = build_plugin_manager()
    assert "broken_import" not in manager.loaded_plugin_names()
    assert "example" in manager.loaded_plugin_names()
    assert "vid2act plugin 'broken_import' failed to load: ModuleNotFoundError" in caplog.text
    assert {entry.name: entry.status for entry in plugin_report(manager)}["broken_import"] == "failed"


def test_misspelled_hook_and_bad_registrations_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    class Misspelled:
        @hookimpl
        def vid2act_register_domain(self, register: Callable[[Domain], None]) -> None:
            register(fake_domain("never"))

    class WrongType:
        @hookimpl
        def vid2act_register_domains(self, register: Callable[[Domain], None]) -> None:
            register("not a domain")  # type: ignore[arg-type]

    manager = builtins_only()
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        assert not manager.add_plugin(Misspelled(), "typo")
        assert manager.add_plugin(WrongType(), "wrong_type")
        assert domain_registry(manager).domain_names() == ["dmc", "metaworld"]
    assert "'typo' failed to load: unknown hook vid2act_register_domain" in caplog.text
    assert "'wrong_type' failed in vid2act_register_domains: TypeError: register() takes a vid2act_envs.base.Domain, got str" in caplog.text
    assert not manager.add_plugin(DomainPlugin("x"), "dmc")  # names are unique
    assert "the plugin name 'dmc' is already used by builtin" in caplog.text


def test_domain_registered_by_two_plugins_names_both() -> None:
    manager = builtins_only()
    manager.add_plugin(DomainPlugin("shared"), "first_plugin")
    manager.add_plugin(DomainPlugin("shared"), "second_plugin")
    with pytest.raises(PluginConflictError, match="domain 'shared' is registered by both plugin 'first_plugin' and plugin 'second_plugin'"):
        domain_registry(manager)
    report = {entry.name: entry for entry in plugin_report(manager)}  # listing still works
    assert report["first_plugin"].domains == ("shared",)
    assert report["second_plugin"].domains == () and "registered by both" in report["second_plugin"].errors[0]


def test_plugin_cannot_replace_a_builtin_domain() -> None:
    manager = builtins_only()
    manager.add_plugin(DomainPlugin("dmc"), "impostor")
    with pytest.raises(PluginConflictError, match="plugin 'dmc' and plugin 'impostor'"):
        domain_registry(manager)


# -- teachers ----------------------------------------------------------------------------------


def make_teacher_dir(root: Path, files: tuple[str, ...] = ("model.safetensors", "config.json")) -> Path:
    root.mkdir(parents=True)
    for file in files:
        (root / file).write_bytes(b"{}")
    return root


def test_teachers_are_collected_and_validated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = make_teacher_dir(tmp_path / "good")
    incomplete = make_teacher_dir(tmp_path / "incomplete", files=("model.safetensors",))

    class Teachers:
        def __init__(self, name: str, path: Path) -> None:
            self.name, self.path = name, path

        @hookimpl
        def vid2act_register_teachers(self, register: Callable[[str, Path], None]) -> None:
            register(self.name, self.path)

    manager = builtins_only()
    manager.add_plugin(Teachers("walker_pro", good), "ships_good")
    manager.add_plugin(Teachers("half", incomplete), "ships_incomplete")
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        assert registered_teachers(manager) == {"walker_pro": good.resolve()}
    assert "'ships_incomplete' failed in vid2act_register_teachers: FileNotFoundError: teacher 'half'" in caplog.text
    assert "lacks config.json" in caplog.text
    manager.add_plugin(Teachers("walker_pro", good), "ships_again")
    with pytest.raises(PluginConflictError, match="teacher 'walker_pro' is registered by both plugin 'ships_good' and plugin 'ships_again'"):
        registered_teachers(manager)


def test_example_registers_its_teacher_only_when_the_weights_are_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = (example_plugin.TEACHERS_DIR / "toy_reach" / "model.safetensors").is_file()
    assert ("toy_reach" in registered_teachers()) == shipped
    monkeypatch.setattr(example_plugin, "TEACHERS_DIR", tmp_path / "empty")
    assert "toy_reach" not in registered_teachers()
    monkeypatch.setattr(example_plugin, "TEACHERS_DIR", tmp_path)
    teacher = make_teacher_dir(tmp_path / "toy_reach")
    assert registered_teachers()["toy_reach"] == teacher.resolve()
    assert {entry.name: entry for entry in plugin_report()}["example"].teachers == ("toy_reach",)


# -- CLI commands ------------------------------------------------------------------------------


def test_plugin_commands_are_added_and_failures_or_clashes_removed(caplog: pytest.LogCaptureFixture) -> None:
    class HalfThenRaise:
        @hookimpl
        def vid2act_register_commands(self, app: typer.Typer) -> None:
            @app.command("half-added")
            def half_added() -> None:
                """Never reachable: the plugin raises right after."""

            raise ValueError("command setup failed")

    class Clashing:
        @hookimpl
        def vid2act_register_commands(self, app: typer.Typer) -> None:
            @app.command("envs")
            def envs() -> None:
                """Would shadow the built-in command."""

    app = typer.Typer()

    @app.command("envs")
    def builtin_envs() -> None:
        """Stands in for a built-in command."""

    manager = build_plugin_manager(allow={"example"})
    manager.add_plugin(HalfThenRaise(), "half")
    manager.add_plugin(Clashing(), "clash")
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        added = register_cli_commands(app, manager)
    assert added == {"example": ("toy-info",)}
    assert [info.name for info in app.registered_commands] == ["envs", "toy-info"]
    assert "'half' failed in vid2act_register_commands: ValueError: command setup failed" in caplog.text
    assert "'clash' failed in vid2act_register_commands: command name 'envs' is already taken" in caplog.text
    assert {entry.name: entry.commands for entry in plugin_report(manager)}["example"] == ("toy-info",)
