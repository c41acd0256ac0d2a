"""The hook specs are documented, and the built-in and example plugins implement only real hooks."""

from __future__ import annotations

import inspect

import pluggy
import pytest

from vid2act_teachers import builtin, hookspecs

HOOK_NAMES = sorted(name for name, value in vars(hookspecs).items() if name.startswith("vid2act_") and callable(value))


def test_hookspec_module_declares_the_three_hooks() -> None:
    assert HOOK_NAMES == ["vid2act_register_commands", "vid2act_register_domains", "vid2act_register_teachers"]
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    assert sorted(name for name in vars(manager.hook) if not name.startswith("_")) == HOOK_NAMES


@pytest.mark.parametrize("hook_name", HOOK_NAMES)
def test_every_hook_is_a_spec_with_a_one_line_docstring(hook_name: str) -> None:
    function = getattr(hookspecs, hook_name)
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    assert manager.parse_hookspec_opts(hookspecs, hook_name) is not None, f"{hook_name} lacks @hookspec"
    docstring = inspect.getdoc(function)
    assert docstring, f"{hook_name} has no docstring"
    assert len(docstring.splitlines()) == 1, f"{hook_name}: docstring must be one line, got {docstring!r}"


def test_hook_arguments_are_register_callbacks_or_the_app() -> None:
    arguments = {name: list(inspect.signature(getattr(hookspecs, name)).parameters) for name in HOOK_NAMES}
    assert arguments == {
        "vid2act_register_commands": ["app"],
        "vid2act_register_domains": ["register"],
        "vid2act_register_teachers": ["register"],
    }


@pytest.mark.parametrize("module_name", ["vid2act_teachers.builtin", "vid2act_plugin_example.plugin"])
def test_shipped_plugins_implement_only_specified_hooks(module_name: str) -> None:
    """A typo in a hook name would otherwise be silently ignored by pluggy until check_pending()."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    module = __import__(module_name, fromlist=["_"])
    plugins = [plugin for _, plugin in builtin.builtin_plugins()] if module is builtin else [module]
    for plugin in plugins:
        manager.register(plugin)
    manager.check_pending()
    implemented = {caller.name for plugin in plugins for caller in manager.get_hookcallers(plugin) or []}
    assert implemented and implemented <= set(HOOK_NAMES)
