"""Plugin commands on the `vid2act` Typer app: the `vid2act_register_commands` hook's CLI side.

Each plugin's hook receives the app and adds commands or groups to it; this module runs the hook
one plugin at a time (`Vid2actPluginManager.call_each`) and checks what it added. A plugin that
raises, or adds a command whose name is already taken, is reported by name and its additions are
removed again, so the app stays usable. What each plugin added is recorded for the app it was added
to (`plugin_commands`) and on the manager (`command_registrations`), for `vid2act plugins`: the
commands are the app's, whichever manager a later call builds. A plugin command that raises when it runs prints
one `error: plugin NAME, command CMD: ...` line (exit 1), not a traceback (`guard_plugin_command`).
"""

from __future__ import annotations

import functools
import sys
import traceback
import weakref
from pathlib import Path
from typing import Any, Callable

import typer

from vid2act_teachers.plugins import Vid2actPluginManager, get_plugin_manager


def _typer_command_name(info: Any) -> str:
    if isinstance(info.name, str) and info.name:
        return info.name
    callback_name = getattr(info.callback, "__name__", "") or "(unnamed)"
    return callback_name.lower().replace("_", "-")  # typer's own rule for a callback name


def _typer_group_name(info: Any) -> str:
    for candidate in (info.name, getattr(getattr(info, "typer_instance", None), "info", None)):
        name = getattr(candidate, "name", candidate)
        if isinstance(name, str) and name:
            return name
    return "(unnamed group)"


def command_names(app: typer.Typer) -> list[str]:
    """Names of the commands and groups registered on a typer.Typer app so far."""
    names = [_typer_command_name(info) for info in app.registered_commands]
    names += [_typer_group_name(info) for info in app.registered_groups]
    return names


_ADDED_TO_APP: "weakref.WeakKeyDictionary[typer.Typer, dict[str, tuple[str, ...]]]" = weakref.WeakKeyDictionary()
"""Per app: plugin name -> the commands it added (the last `register_cli_commands` on that app)."""


def plugin_commands(app: typer.Typer) -> dict[str, tuple[str, ...]]:
    """Plugin name -> names of the commands and groups it added to `app`."""
    return dict(_ADDED_TO_APP.get(app, {}))


PLUGIN_COMMAND_FAILED = 1
"""Exit status of a plugin command that raised."""

_CLICK_EXCEPTION = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException")
_PASS_THROUGH = (typer.Exit, typer.Abort, _CLICK_EXCEPTION, KeyboardInterrupt)
"""Exceptions a command raises on purpose (exit codes, usage errors): not a plugin failure."""


def guard_plugin_command(plugin_name: str, command_name: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    """`callback` that turns an exception into one line naming the plugin and command, and exit 1."""

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except Exception as error:
            lines = str(error).strip().splitlines()
            text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
            frames = traceback.extract_tb(error.__traceback__)
            where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
            print(f"error: plugin {plugin_name!r}, command {command_name!r}: {text}{where}", file=sys.stderr)
            raise typer.Exit(PLUGIN_COMMAND_FAILED) from None

    return guarded


def _guard_all(plugin_name: str, commands: list[Any], groups: list[Any]) -> None:
    """Guard the callbacks of `commands` and, recursively, of every command inside `groups`."""
    for info in commands:
        if info.callback is not None:
            info.callback = guard_plugin_command(plugin_name, _typer_command_name(info), info.callback)
    for group in groups:
        instance = getattr(group, "typer_instance", None)
        if instance is not None:
            instance.rich_markup_mode = None  # the app's plain help (commands/help_text.py), not rich's panels
            _guard_all(plugin_name, list(instance.registered_commands), list(instance.registered_groups))


def register_cli_commands(app: typer.Typer, pm: Vid2actPluginManager | None = None) -> dict[str, tuple[str, ...]]:
    """Let every plugin add commands to `app`; return plugin name -> names added.

    A plugin that raises, or adds a command whose name is already taken, is reported and its
    additions are removed again; the app stays usable.
    """
    if not isinstance(app, typer.Typer):
        raise TypeError(f"register_cli_commands() takes a typer.Typer app, got {type(app).__name__}")
    pm = pm or get_plugin_manager()
    taken = set(command_names(app))
    added_by_plugin: dict[str, tuple[str, ...]] = {}
    sizes: tuple[int, int] = (0, 0)

    def make_kwargs(plugin_name: str) -> dict[str, Any]:
        nonlocal sizes
        sizes = (len(app.registered_commands), len(app.registered_groups))
        return {"app": app}

    for plugin_name, succeeded in pm.call_each("vid2act_register_commands", make_kwargs):
        new_commands = app.registered_commands[sizes[0] :]
        new_groups = app.registered_groups[sizes[1] :]
        names = [_typer_command_name(info) for info in new_commands] + [_typer_group_name(info) for info in new_groups]
        clashes = sorted({name for name in names if name in taken} | {name for name in names if names.count(name) > 1})
        if succeeded and clashes:
            pm.report_failure(
                plugin_name,
                "vid2act_register_commands",
                f"command name {', '.join(map(repr, clashes))} is already taken",
            )
        if not succeeded or clashes:
            del app.registered_commands[sizes[0] :]
            del app.registered_groups[sizes[1] :]
            continue
        _guard_all(plugin_name, list(new_commands), list(new_groups))
        taken.update(names)
        added_by_plugin[plugin_name] = added_by_plugin.get(plugin_name, ()) + tuple(names)
    pm.command_registrations = added_by_plugin
    _ADDED_TO_APP[app] = dict(added_by_plugin)
    return added_by_plugin
