"""What vid2act plugins register: domains, prebuilt teachers, and the `vid2act plugins` report.

The plugin manager (loading, allow/block variables, failures) is `vid2act_teachers.plugin_manager`,
re-exported here; adding plugin commands to the Typer app is CLI glue
(`vid2act_cli.commands.plugin_glue`). Each `register(...)` hook runs one plugin at a time; a
plugin whose hook raises is reported and everything that call registered is dropped. Two plugins
registering the same domain or teacher name are a conflict: `domain_registry()` /
`registered_teachers()` raise `PluginConflictError` naming both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from vid2act_envs.base import Domain
from vid2act_envs.tasks import DomainRegistry

from vid2act_teachers.plugin_manager import (
    DISABLE_PLUGINS_ENV,
    ENTRY_POINT_GROUP,
    PLUGINS_ENV,
    SOURCE_BUILTIN,
    SOURCE_ENTRY_POINT,
    SOURCE_REGISTERED,
    STATUS_BLOCKED,
    STATUS_FAILED,
    STATUS_LOADED,
    STATUS_NOT_SELECTED,
    STATUS_REFUSED,
    PluginFailure,
    PluginRecord,
    PluginSource,
    Vid2actPluginManager,
    build_plugin_manager,
    clear_plugin_manager_cache,
    declared_hook_api,
    describe_plugin_object,
    get_plugin_manager,
    hook_api_problem,
    parse_plugin_names,
)

TEACHER_FILES = ("model.safetensors", "config.json")
"""Files a teacher directory registered by a plugin must contain."""

_TEACHER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class PluginError(Exception):
    """A problem with what plugins registered (the message is one line naming the plugins)."""


class PluginConflictError(PluginError):
    """Two plugins (or one plugin twice) registered the same domain or teacher name."""


@dataclass(frozen=True)
class PluginInfo:
    """What `vid2act plugins` shows for one plugin."""

    name: str
    source: PluginSource
    status: str
    domains: tuple[str, ...] = ()
    """Domain names it registered (accepted ones only)."""
    teachers: tuple[str, ...] = ()
    """Teacher names it registered (accepted ones only)."""
    commands: tuple[str, ...] = ()
    """CLI commands and groups it added in the last `register_cli_commands` call."""
    errors: tuple[str, ...] = ()
    """One line per failure, refusal or conflict."""
    hook_api: str | None = None
    """Hook API version the plugin declares (`VID2ACT_HOOK_API`); None when undeclared."""


@dataclass
class _Collected:
    """Items registered through one hook: name -> (plugin, item), plus conflicts found."""

    items: dict[str, tuple[str, Any]] = field(default_factory=dict)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    """(plugin, message) for every rejected duplicate."""


def _collect(
    pm: Vid2actPluginManager,
    hook_name: str,
    kind: str,
    make_register: Callable[[list[tuple[str, Any]]], Callable[..., None]],
) -> _Collected:
    """Run a `register(...)` hook on every plugin, keeping each successful plugin's items."""
    collected = _Collected()
    buffers: dict[str, list[tuple[str, Any]]] = {}

    def make_kwargs(plugin_name: str) -> dict[str, Any]:
        buffers[plugin_name] = []
        return {"register": make_register(buffers[plugin_name])}

    for plugin_name, succeeded in pm.call_each(hook_name, make_kwargs):
        if not succeeded:
            continue
        for item_name, item in buffers[plugin_name]:
            if item_name in collected.items:
                owner = collected.items[item_name][0]
                if owner == plugin_name:
                    message = f"{kind} {item_name!r} is registered twice by plugin {plugin_name!r}"
                else:
                    message = f"{kind} {item_name!r} is registered by both plugin {owner!r} and plugin {plugin_name!r}"
                collected.conflicts.append((plugin_name, message))
            else:
                collected.items[item_name] = (plugin_name, item)
    return collected


def _domain_register(buffer: list[tuple[str, Any]]) -> Callable[[Domain], None]:
    def register(domain: Domain) -> None:
        """Add one `vid2act_envs.base.Domain`."""
        if not isinstance(domain, Domain):
            raise TypeError(f"register() takes a vid2act_envs.base.Domain, got {type(domain).__name__}")
        if not isinstance(domain.name, str) or not domain.name or ":" in domain.name:
            raise ValueError(f"domain name must be a non-empty string without ':', got {domain.name!r}")
        buffer.append((domain.name, domain))

    return register


def _teacher_register(buffer: list[tuple[str, Any]]) -> Callable[[str, Path], None]:
    def register(name: str, path: Path) -> None:
        """Add one prebuilt teacher directory (model.safetensors + config.json)."""
        if not isinstance(name, str) or not _TEACHER_NAME.match(name):
            raise ValueError(f"teacher name must be letters, digits, '_', '-' or '.', got {name!r}")
        directory = Path(path)
        missing = [file for file in TEACHER_FILES if not (directory / file).is_file()]
        if missing:
            raise FileNotFoundError(f"teacher {name!r}: {directory} lacks {', '.join(missing)}")
        buffer.append((name, directory.resolve()))

    return register


def _collect_domains(pm: Vid2actPluginManager) -> _Collected:
    return _collect(pm, "vid2act_register_domains", "domain", _domain_register)


def _collect_teachers(pm: Vid2actPluginManager) -> _Collected:
    return _collect(pm, "vid2act_register_teachers", "teacher", _teacher_register)


# -- what the rest of vid2act asks for -----------------------------------------------------


def _raise_conflicts(collected: _Collected) -> None:
    if collected.conflicts:
        raise PluginConflictError("; ".join(message for _, message in collected.conflicts))


def domain_registry(pm: Vid2actPluginManager | None = None) -> DomainRegistry:
    """A `DomainRegistry` holding every domain the loaded plugins register (built-ins included).

    Raises PluginConflictError when two plugins register the same domain name.
    """
    pm = pm or get_plugin_manager()
    collected = _collect_domains(pm)
    _raise_conflicts(collected)
    registry = DomainRegistry()
    for plugin_name, domain in collected.items.values():
        try:
            registry.register(domain)
        except Exception as error:
            pm.report_failure(plugin_name, "vid2act_register_domains", error)
    return registry


def registered_teachers(pm: Vid2actPluginManager | None = None) -> dict[str, Path]:
    """Teacher name -> directory (model.safetensors + config.json) for every plugin-shipped teacher.

    Raises PluginConflictError when two plugins register the same teacher name.
    """
    pm = pm or get_plugin_manager()
    collected = _collect_teachers(pm)
    _raise_conflicts(collected)
    return {name: path for name, (_, path) in collected.items.items()}


def plugin_report(
    pm: Vid2actPluginManager | None = None, commands: Mapping[str, tuple[str, ...]] | None = None
) -> list[PluginInfo]:
    """One `PluginInfo` per plugin seen (loaded, failed, refused, blocked or not selected), built-ins first.

    Runs the domain and teacher hooks to list what each plugin registers (conflicts appear as
    errors, nothing raises); `commands` (plugin name -> command names, e.g. what the running CLI app
    holds) defaults to the manager's record of its last `register_cli_commands` call.
    """
    pm = pm or get_plugin_manager()
    commands = pm.command_registrations if commands is None else commands
    domains = _collect_domains(pm)
    teachers = _collect_teachers(pm)
    records = list(pm.records)
    recorded = {record.name for record in records if record.status == STATUS_LOADED}
    for name, plugin in pm.list_name_plugin():  # plugins put in with pluggy's own register()
        if plugin is not None and name not in recorded:
            source = PluginSource(SOURCE_REGISTERED, describe_plugin_object(plugin))
            records.append(PluginRecord(name, source, STATUS_LOADED, declared_hook_api(plugin)))

    def names_from(collected: _Collected, plugin_name: str) -> tuple[str, ...]:
        return tuple(name for name, (owner, _) in collected.items.items() if owner == plugin_name)

    report: list[PluginInfo] = []
    for record in records:
        loaded = record.status == STATUS_LOADED
        errors = [failure.message() for failure in pm.failures if failure.plugin == record.name]
        if loaded:
            errors += [message for owner, message in domains.conflicts + teachers.conflicts if owner == record.name]
        report.append(
            PluginInfo(
                name=record.name,
                source=record.source,
                status=record.status,
                domains=names_from(domains, record.name) if loaded else (),
                teachers=names_from(teachers, record.name) if loaded else (),
                commands=tuple(commands.get(record.name, ())) if loaded else (),
                errors=tuple(dict.fromkeys(errors)),
                hook_api=record.hook_api,
            )
        )
    return report


__all__ = [
    "DISABLE_PLUGINS_ENV",
    "ENTRY_POINT_GROUP",
    "PLUGINS_ENV",
    "SOURCE_BUILTIN",
    "SOURCE_ENTRY_POINT",
    "SOURCE_REGISTERED",
    "STATUS_BLOCKED",
    "STATUS_FAILED",
    "STATUS_LOADED",
    "STATUS_NOT_SELECTED",
    "STATUS_REFUSED",
    "PluginConflictError",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PluginRecord",
    "PluginSource",
    "Vid2actPluginManager",
    "build_plugin_manager",
    "clear_plugin_manager_cache",
    "domain_registry",
    "get_plugin_manager",
    "hook_api_problem",
    "parse_plugin_names",
    "plugin_report",
    "registered_teachers",
]
