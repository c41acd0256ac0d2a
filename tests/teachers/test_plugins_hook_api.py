"""The versioned hook API: a plugin declares VID2ACT_HOOK_API; another major version is refused by name."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import types
from typing import Any, Callable, Iterator

import pytest
from typer.testing import CliRunner

from vid2act_envs.base import Domain, TaskSpec
from vid2act_plugin_example import plugin as example_plugin
from vid2act_teachers import plugins
from vid2act_teachers.hookspecs import HOOK_API_VERSION, hookimpl
from vid2act_teachers.plugins import (
    PLUGINS_ENV,
    build_plugin_manager,
    domain_registry,
    plugin_report,
)

LOG_NAME = "vid2act.plugins"
REFUSED_2_0 = (
    "vid2act plugin 'future' refused: built for vid2act hook API 2.0, this vid2act provides 1.1 "
    "(major versions differ); install a release of the plugin built for hook API 1.x"
)


@pytest.fixture(autouse=True)
def fresh_plugin_managers() -> Iterator[None]:
    """Each test starts from the suite's plugins (built-ins and the example, tests/conftest.py) and leaves no cached manager behind."""
    plugins.clear_plugin_manager_cache()
    yield
    plugins.clear_plugin_manager_cache()


def one_task_domain(name: str) -> Domain:
    def task_spec(task: str) -> TaskSpec:
        return TaskSpec(domain=name, task=task, action_repeat=1, episode_steps=10, camera=0, has_success=False)

    return Domain(name=name, task_names=lambda: ["task"], task_spec=task_spec, make_env=lambda *a, **k: None)


def versioned_plugin(domain_name: str, api: object) -> Any:
    """A plugin object registering one domain; `api` None leaves VID2ACT_HOOK_API undeclared."""

    class Plugin:
        calls = 0

        @hookimpl
        def vid2act_register_domains(self, register: Callable[[Domain], None]) -> None:
            type(self).calls += 1
            register(one_task_domain(domain_name))

    if api is not None:
        Plugin.VID2ACT_HOOK_API = api  # type: ignore[attr-defined]
    return Plugin()


def test_the_hook_api_version_is_major_dot_minor_and_shipped_plugins_declare_it() -> None:
    assert HOOK_API_VERSION == "1.1"
    assert example_plugin.VID2ACT_HOOK_API == "1.0"
    report = {info.name: info for info in plugin_report(build_plugin_manager())}
    assert report["dmc"].hook_api == report["metaworld"].hook_api == HOOK_API_VERSION
    assert (report["example"].status, report["example"].hook_api) == ("loaded", "1.0")


@pytest.mark.parametrize("declared", ["1.0", "1", "1.7", 1])
def test_same_major_version_is_accepted(declared: object) -> None:
    manager = build_plugin_manager(entry_points=False)
    assert manager.add_plugin(versioned_plugin("ok_domain", declared), "compatible")
    assert "ok_domain" in domain_registry(manager).domain_names()
    info = {entry.name: entry for entry in plugin_report(manager)}["compatible"]
    assert (info.status, info.hook_api, info.errors) == ("loaded", str(declared), ())


def test_another_major_version_is_refused_with_one_line_naming_the_plugin(caplog: pytest.LogCaptureFixture) -> None:
    manager = build_plugin_manager(entry_points=False)
    future = versioned_plugin("future_domain", "2.0")
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        assert manager.add_plugin(future, "future") is False
    assert [record.getMessage() for record in caplog.records if record.name == LOG_NAME] == [REFUSED_2_0]
    assert domain_registry(manager).domain_names() == ["dmc", "metaworld"]
    assert type(future).calls == 0  # a refused plugin's hooks never run
    info = {entry.name: entry for entry in plugin_report(manager)}["future"]
    assert (info.status, info.hook_api, info.errors) == ("refused", "2.0", (REFUSED_2_0,))
    older = versioned_plugin("older_domain", "0.9")
    assert manager.add_plugin(older, "older") is False
    assert "built for vid2act hook API 0.9, this vid2act provides 1.1" in plugin_report(manager)[-1].errors[0]


@pytest.mark.parametrize("declared", ["one", "1.0.0", "", "v1"])
def test_a_malformed_declaration_is_refused(declared: str) -> None:
    manager = build_plugin_manager(entry_points=False)
    assert manager.add_plugin(versioned_plugin("odd_domain", declared), "odd") is False
    info = {entry.name: entry for entry in plugin_report(manager)}["odd"]
    assert info.status == "refused"
    assert info.errors == (f"vid2act plugin 'odd' refused: VID2ACT_HOOK_API = {declared!r} is not a version like '1.1'",)


def test_an_undeclared_version_is_accepted_as_the_first_api(caplog: pytest.LogCaptureFixture) -> None:
    manager = build_plugin_manager(entry_points=False)
    with caplog.at_level(logging.WARNING, logger=LOG_NAME):
        assert manager.add_plugin(versioned_plugin("legacy_domain", None), "legacy")
    assert "legacy_domain" in domain_registry(manager).domain_names()
    info = {entry.name: entry for entry in plugin_report(manager)}["legacy"]
    assert (info.status, info.hook_api, info.errors) == ("loaded", None, ())
    assert not caplog.records


def test_vid2act_plugins_shows_an_installed_plugin_for_another_major_as_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("vid2act_future_plugin_for_test")
    module.VID2ACT_HOOK_API = "2.0"  # type: ignore[attr-defined]
    module.vid2act_register_domains = hookimpl(lambda register: register(one_task_domain("future_domain")))  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, module.__name__, module)
    entry = importlib.metadata.EntryPoint(name="future", value=module.__name__, group="vid2act")
    real = importlib.metadata.entry_points(group="vid2act")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [*real, entry])
    monkeypatch.setenv(PLUGINS_ENV, "example,future")
    from vid2act_cli.commands.app import app

    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["future"]["status"] == "refused" and rows["future"]["domains"] == []
    assert rows["future"]["errors"] == [REFUSED_2_0]
    assert (rows["example"]["status"], rows["example"]["hook_api"]) == ("loaded", "1.0")
    assert rows["future"]["hook_api"] == "2.0"
    table = CliRunner().invoke(app, ["plugins"], terminal_width=200)
    assert table.exit_code == 0, table.output
    future_row = next(line for line in table.output.splitlines() if "future" in line and "│" in line)
    assert "refused" in future_row
    assert REFUSED_2_0 in " ".join(table.output.split())
