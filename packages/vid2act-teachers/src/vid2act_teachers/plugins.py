"""Loading vid2act plugins and collecting what they register.

`get_plugin_manager()` builds (once per value of the two environment variables below) a pluggy
manager holding the built-in plugins (`vid2act_teachers.builtin`) followed by every installed
setuptools entry point of group "vid2act":

    VID2ACT_PLUGINS           comma-separated allow-list of external plugin names; unset loads
                              every installed plugin, an empty string loads none
    VID2ACT_DISABLE_PLUGINS   comma-separated names to block (built-in ones included)

A plugin that raises, while being imported or inside one of its hooks, is reported by name
(one warning line on the "vid2act.plugins" logger, and an entry in `plugin_report()`) and
skipped; everything the failing hook call registered is dropped. Two plugins registering the
same domain or teacher name are a conflict: `domain_registry()` / `registered_teachers()` raise
`PluginConflictError` naming both.

Hooks are called one plugin at a time (not through pluggy's fan-out) so that every registration
is attributed to the plugin that made it and one plugin's failure cannot hide another's work.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import re
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

import pluggy

from vid2act_envs.base import Domain
from vid2act_envs.tasks import DomainRegistry

import vid2act_teachers
from vid2act_teachers import hookspecs
from vid2act_teachers.builtin import builtin_plugins

logger = logging.getLogger("vid2act.plugins")

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
"""setuptools entry-point group scanned for external plugins."""

PLUGINS_ENV = "VID2ACT_PLUGINS"
"""Environment variable: comma-separated allow-list of external plugins ("" = none)."""

DISABLE_PLUGINS_ENV = "VID2ACT_DISABLE_PLUGINS"
"""Environment variable: comma-separated plugin names never to load."""

TEACHER_FILES = ("model.safetensors", "config.json")
"""Files a teacher directory registered by a plugin must contain."""

_TEACHER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

SOURCE_BUILTIN = "builtin"
SOURCE_ENTRY_POINT = "entry point"
SOURCE_REGISTERED = "registered in code"

STATUS_LOADED = "loaded"
STATUS_FAILED = "failed"
STATUS_BLOCKED = "blocked"
STATUS_NOT_SELECTED = "not selected"


class PluginError(Exception):
    """A problem with what plugins registered (the message is one line naming the plugins)."""


class PluginConflictError(PluginError):
    """Two plugins (or one plugin twice) registered the same domain or teacher name."""


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin came from."""

    kind: str
    """SOURCE_BUILTIN, SOURCE_ENTRY_POINT or SOURCE_REGISTERED."""
    target: str
    """Module or object path, e.g. "vid2act_plugin_example.plugin"."""
    distribution: str | None = None
    """Installed distribution that declares the entry point (entry points only)."""
    version: str | None = None
    """That distribution's version."""

    def describe(self) -> str:
        """One short phrase, e.g. "entry point vid2act_plugin_example.plugin (vid2act-plugin-example 0.1.0)"."""
        if self.distribution:
            return f"{self.kind} {self.target} ({self.distribution} {self.version or '?'})"
        return f"{self.kind} {self.target}"


@dataclass
class PluginRecord:
    """One plugin the manager saw, whether or not it loaded."""

    name: str
    source: PluginSource
    status: str
    """STATUS_LOADED, STATUS_FAILED, STATUS_BLOCKED or STATUS_NOT_SELECTED."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that raised, and where."""

    plugin: str
    stage: str
    """"load" or the hook name, e.g. "vid2act_register_domains"."""
    error: str
    """One line: exception type, message and the innermost frame."""

    def message(self) -> str:
        """The warning line logged for this failure."""
        where = "to load" if self.stage == "load" else f"in {self.stage}"
        return f"vid2act plugin {self.plugin!r} failed {where}: {self.error}; skipped"


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
    """One line per failure or conflict."""


def _one_line_error(error: BaseException) -> str:
    """'TypeName: first message line (at file.py:LINE)' for a plugin's exception."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        text += f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return text


def _describe_object(plugin: object) -> str:
    module = getattr(plugin, "__module__", None) or ""
    name = getattr(plugin, "__name__", None) or type(plugin).__qualname__
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    return f"{module}.{name}" if module else name


def parse_plugin_names(value: str | None) -> frozenset[str] | None:
    """Names in a comma-separated environment value; None when the variable is unset."""
    if value is None:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


class Vid2actPluginManager(pluggy.PluginManager):
    """pluggy manager for project "vid2act" that remembers where each plugin came from and what failed."""

    def __init__(self, block: Collection[str] = ()) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.blocked_names: frozenset[str] = frozenset(block)
        """Plugin names never registered (VID2ACT_DISABLE_PLUGINS)."""
        self.records: list[PluginRecord] = []
        """Every plugin seen, in the order seen, loaded or not."""
        self.failures: list[PluginFailure] = []
        """Every distinct failure so far (each is also logged once)."""
        self.command_registrations: dict[str, tuple[str, ...]] = {}
        """Plugin name -> commands it added in the last `register_cli_commands` call."""
        for name in self.blocked_names:
            self.set_blocked(name)

    # -- loading -------------------------------------------------------------------------

    def report_failure(self, plugin: str, stage: str, error: BaseException | str) -> PluginFailure:
        """Record and log (once per distinct failure) that `plugin` failed at `stage`."""
        text = error if isinstance(error, str) else _one_line_error(error)
        failure = PluginFailure(plugin=plugin, stage=stage, error=text)
        if failure not in self.failures:
            self.failures.append(failure)
            logger.warning(failure.message())
        return failure

    def _record(self, name: str, source: PluginSource, status: str) -> None:
        self.records.append(PluginRecord(name=name, source=source, status=status))

    def add_plugin(self, plugin: object, name: str, source: PluginSource | None = None) -> bool:
        """Register `plugin` under `name`; return whether it loaded (blocked and invalid ones do not)."""
        source = source or PluginSource(SOURCE_REGISTERED, _describe_object(plugin))
        if name in self.blocked_names:
            self._record(name, source, STATUS_BLOCKED)
            return False
        owner = next((r for r in self.records if r.name == name and r.status == STATUS_LOADED), None)
        if owner is not None or self.has_plugin(name):
            where = owner.source.describe() if owner else "another plugin"
            self.report_failure(name, "load", f"the plugin name {name!r} is already used by {where}")
            self._record(name, source, STATUS_FAILED)
            return False
        try:
            self.register(plugin, name=name)
        except Exception as error:  # pluggy validation: hook arguments not in the spec, ...
            self.report_failure(name, "load", error)
            self._record(name, source, STATUS_FAILED)
            return False
        unknown = sorted(caller.name for caller in self.get_hookcallers(plugin) or [] if not caller.has_spec())
        if unknown:
            self.unregister(plugin)
            known = ", ".join(sorted(self._hook_names()))
            self.report_failure(name, "load", f"unknown hook {', '.join(unknown)} (vid2act hooks: {known})")
            self._record(name, source, STATUS_FAILED)
            return False
        self._record(name, source, STATUS_LOADED)
        return True

    def load_entry_points(self, allow: Collection[str] | None = None) -> None:
        """Import and register every installed "vid2act" entry point (only those in `allow` if given)."""
        entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        installed = sorted({entry_point.name for entry_point in entry_points})
        for entry_point in entry_points:
            distribution = getattr(entry_point, "dist", None)
            source = PluginSource(
                SOURCE_ENTRY_POINT,
                entry_point.value,
                distribution.name if distribution is not None else None,
                distribution.version if distribution is not None else None,
            )
            if allow is not None and entry_point.name not in allow:
                self._record(entry_point.name, source, STATUS_NOT_SELECTED)
                continue
            if entry_point.name in self.blocked_names:
                self._record(entry_point.name, source, STATUS_BLOCKED)
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:
                self.report_failure(entry_point.name, "load", error)
                self._record(entry_point.name, source, STATUS_FAILED)
                continue
            self.add_plugin(plugin, entry_point.name, source)
        for missing in sorted(set(allow or ()) - set(installed)):
            logger.warning(
                "%s names %r but no installed vid2act plugin has that name (installed: %s)",
                PLUGINS_ENV,
                missing,
                ", ".join(installed) or "none",
            )

    # -- calling hooks one plugin at a time ----------------------------------------------

    def _hook_names(self) -> list[str]:
        return [name for name in dir(hookspecs) if name.startswith("vid2act_")]

    def loaded_plugin_names(self) -> list[str]:
        """Names of registered plugins in registration order (built-ins first)."""
        return [name for name, plugin in self.list_name_plugin() if plugin is not None]

    def call_each(self, hook_name: str, make_kwargs: Callable[[str], dict[str, Any]]) -> Iterable[tuple[str, bool]]:
        """Call `hook_name` of each plugin in order; yield (plugin name, succeeded) after each call.

        `make_kwargs(plugin_name)` builds that plugin's call arguments (e.g. a `register`
        callback bound to the plugin). An exception from the plugin is reported and the
        plugin's call counts as failed; nothing propagates.
        """
        caller = getattr(self.hook, hook_name)
        implementations = [impl for impl in caller.get_hookimpls() if not (impl.hookwrapper or impl.wrapper)]
        for plugin_name in self.loaded_plugin_names():
            for impl in implementations:
                if impl.plugin_name != plugin_name:
                    continue
                kwargs = make_kwargs(plugin_name)
                try:
                    impl.function(**{argument: kwargs[argument] for argument in impl.argnames})
                except Exception as error:
                    self.report_failure(plugin_name, hook_name, error)
                    yield plugin_name, False
                else:
                    yield plugin_name, True


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


# -- building and caching the manager ------------------------------------------------------


def build_plugin_manager(
    allow: Collection[str] | None = None,
    block: Collection[str] = (),
    entry_points: bool = True,
) -> Vid2actPluginManager:
    """A fresh manager: built-in plugins, then (if `entry_points`) installed external plugins.

    `allow` limits external plugins to these names (None = all, empty = none); `block` names
    plugins, built-in or external, that are never loaded.
    """
    pm = Vid2actPluginManager(block=block)
    for name, plugin in builtin_plugins():
        source = PluginSource(SOURCE_BUILTIN, _describe_object(plugin), "vid2act-teachers", vid2act_teachers.__version__)
        pm.add_plugin(plugin, name, source)
    if entry_points:
        pm.load_entry_points(allow=allow)
    return pm


@functools.lru_cache(maxsize=None)
def _cached_plugin_manager(allow_value: str | None, block_value: str | None) -> Vid2actPluginManager:
    return build_plugin_manager(
        allow=parse_plugin_names(allow_value),
        block=parse_plugin_names(block_value) or frozenset(),
    )


def get_plugin_manager() -> Vid2actPluginManager:
    """The process's plugin manager for the current VID2ACT_PLUGINS / VID2ACT_DISABLE_PLUGINS values (cached)."""
    return _cached_plugin_manager(os.environ.get(PLUGINS_ENV), os.environ.get(DISABLE_PLUGINS_ENV))


def clear_plugin_manager_cache() -> None:
    """Forget cached managers, so the next `get_plugin_manager()` loads plugins again."""
    _cached_plugin_manager.cache_clear()


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


def _command_names(app: Any) -> list[str]:
    """Names of the commands and groups registered on a typer.Typer app so far."""
    names = [_typer_command_name(info) for info in app.registered_commands]
    names += [_typer_group_name(info) for info in app.registered_groups]
    return names


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


def register_cli_commands(app: Any, pm: Vid2actPluginManager | None = None) -> dict[str, tuple[str, ...]]:
    """Let every plugin add commands to `app` (a typer.Typer); return plugin name -> names added.

    A plugin that raises, or adds a command whose name is already taken, is reported and its
    additions are removed again; the app stays usable.
    """
    if not (hasattr(app, "registered_commands") and hasattr(app, "registered_groups")):
        raise TypeError(f"register_cli_commands() takes a typer.Typer app, got {type(app).__name__}")
    pm = pm or get_plugin_manager()
    taken = set(_command_names(app))
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
        taken.update(names)
        added_by_plugin[plugin_name] = added_by_plugin.get(plugin_name, ()) + tuple(names)
    pm.command_registrations = added_by_plugin
    return added_by_plugin


def plugin_report(pm: Vid2actPluginManager | None = None) -> list[PluginInfo]:
    """One `PluginInfo` per plugin seen (loaded, failed, blocked or not selected), built-ins first.

    Runs the domain and teacher hooks to list what each plugin registers (conflicts appear as
    errors, nothing raises); commands come from the last `register_cli_commands` call.
    """
    pm = pm or get_plugin_manager()
    domains = _collect_domains(pm)
    teachers = _collect_teachers(pm)
    records = list(pm.records)
    recorded = {record.name for record in records if record.status == STATUS_LOADED}
    for name, plugin in pm.list_name_plugin():  # plugins put in with pluggy's own register()
        if plugin is not None and name not in recorded:
            records.append(PluginRecord(name, PluginSource(SOURCE_REGISTERED, _describe_object(plugin)), STATUS_LOADED))

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
                commands=pm.command_registrations.get(record.name, ()) if loaded else (),
                errors=tuple(dict.fromkeys(errors)),
            )
        )
    return report
