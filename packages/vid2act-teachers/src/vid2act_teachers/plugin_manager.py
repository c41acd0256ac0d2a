"""The vid2act pluggy manager: which plugins load, from where, and which failed.

`get_plugin_manager()` builds (once per value of the two environment variables below) a
`Vid2actPluginManager` holding the built-in plugins (`vid2act_teachers.builtin`) followed by every
installed setuptools entry point of group "vid2act":

    VID2ACT_PLUGINS           comma-separated allow-list of external plugin names; unset loads
                              every installed plugin, an empty string loads none
    VID2ACT_DISABLE_PLUGINS   comma-separated names to block (built-in ones included)

A plugin that raises while being imported, or inside one of its hooks (`call_each`), is reported
by name (one warning line on the "vid2act.plugins" logger, and an entry in `failures`) and
skipped. Hooks are called one plugin at a time (not through pluggy's fan-out) so that every
registration is attributed to the plugin that made it and one plugin's failure cannot hide
another's work. What the hooks register is collected in `vid2act_teachers.plugins`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import re
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

import pluggy

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

SOURCE_BUILTIN = "builtin"
SOURCE_ENTRY_POINT = "entry point"
SOURCE_REGISTERED = "registered in code"

STATUS_LOADED = "loaded"
STATUS_FAILED = "failed"
STATUS_BLOCKED = "blocked"
STATUS_NOT_SELECTED = "not selected"
STATUS_REFUSED = "refused"
"""Written for an incompatible hook API (see `hook_api_problem`)."""

STAGE_LOAD = "load"
STAGE_HOOK_API = "hook API"

_API_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?$")


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
    """STATUS_LOADED, STATUS_FAILED, STATUS_REFUSED, STATUS_BLOCKED or STATUS_NOT_SELECTED."""
    hook_api: str | None = None
    """The hook API version the plugin declares (`VID2ACT_HOOK_API`), None if undeclared or not imported."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that raised, and where."""

    plugin: str
    stage: str
    """STAGE_LOAD, STAGE_HOOK_API or the hook name, e.g. "vid2act_register_domains"."""
    error: str
    """One line: exception type, message and the innermost frame."""

    def message(self) -> str:
        """The warning line logged for this failure."""
        if self.stage == STAGE_HOOK_API:
            return f"vid2act plugin {self.plugin!r} refused: {self.error}"
        where = "to load" if self.stage == STAGE_LOAD else f"in {self.stage}"
        return f"vid2act plugin {self.plugin!r} failed {where}: {self.error}; skipped"


def _one_line_error(error: BaseException) -> str:
    """'TypeName: first message line (at file.py:LINE)' for a plugin's exception."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        text += f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return text


def describe_plugin_object(plugin: object) -> str:
    """Module or "module.qualname" path of an in-process plugin object."""
    module = getattr(plugin, "__module__", None) or ""
    name = getattr(plugin, "__name__", None) or type(plugin).__qualname__
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    return f"{module}.{name}" if module else name


def declared_hook_api(plugin: object) -> str | None:
    """The plugin's `VID2ACT_HOOK_API` value as a string, or None when it declares none."""
    declared = getattr(plugin, hookspecs.HOOK_API_ATTRIBUTE, None)
    return None if declared is None else str(declared)


def hook_api_problem(plugin: object) -> str | None:
    """Why `plugin` cannot be loaded by this hook API (`hookspecs.HOOK_API_VERSION`), or None.

    A plugin declaring the same MAJOR version is accepted, whatever its MINOR (a hook that this
    version lacks is refused later as an unknown hook). One declaring another MAJOR, or a value
    that is not "MAJOR" or "MAJOR.MINOR", is refused. An undeclared version is accepted as "1"
    (plugins written before the hook API carried a version).
    """
    declared = declared_hook_api(plugin)
    if declared is None:
        return None
    ours = hookspecs.HOOK_API_VERSION
    match = _API_VERSION.match(declared.strip())
    if match is None:
        return f"{hookspecs.HOOK_API_ATTRIBUTE} = {declared!r} is not a version like {ours!r}"
    our_major = ours.split(".")[0]
    if str(int(match.group(1))) != our_major:
        return (
            f"built for vid2act hook API {declared}, this vid2act provides {ours} "
            f"(major versions differ); install a release of the plugin built for hook API {our_major}.x"
        )
    return None


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

    def _record(self, name: str, source: PluginSource, status: str, plugin: object = None) -> None:
        hook_api = declared_hook_api(plugin) if plugin is not None else None
        self.records.append(PluginRecord(name=name, source=source, status=status, hook_api=hook_api))

    def add_plugin(self, plugin: object, name: str, source: PluginSource | None = None) -> bool:
        """Register `plugin` under `name`; return whether it loaded.

        Blocked plugins, plugins written for an incompatible hook API (`hook_api_problem`) and
        invalid ones (a used name, an unknown hook) are recorded and not loaded.
        """
        source = source or PluginSource(SOURCE_REGISTERED, describe_plugin_object(plugin))
        if name in self.blocked_names:
            self._record(name, source, STATUS_BLOCKED)
            return False
        owner = next((r for r in self.records if r.name == name and r.status == STATUS_LOADED), None)
        if owner is not None or self.has_plugin(name):
            where = owner.source.describe() if owner else "another plugin"
            self.report_failure(name, STAGE_LOAD, f"the plugin name {name!r} is already used by {where}")
            self._record(name, source, STATUS_FAILED, plugin)
            return False
        api_problem = hook_api_problem(plugin)
        if api_problem is not None:
            self.report_failure(name, STAGE_HOOK_API, api_problem)
            self._record(name, source, STATUS_REFUSED, plugin)
            return False
        try:
            self.register(plugin, name=name)
        except Exception as error:  # pluggy validation: hook arguments not in the spec, ...
            self.report_failure(name, STAGE_LOAD, error)
            self._record(name, source, STATUS_FAILED, plugin)
            return False
        unknown = sorted(caller.name for caller in self.get_hookcallers(plugin) or [] if not caller.has_spec())
        if unknown:
            self.unregister(plugin)
            known = ", ".join(sorted(self._hook_names()))
            self.report_failure(name, STAGE_LOAD, f"unknown hook {', '.join(unknown)} (vid2act hooks: {known})")
            self._record(name, source, STATUS_FAILED, plugin)
            return False
        self._record(name, source, STATUS_LOADED, plugin)
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
                self.report_failure(entry_point.name, STAGE_LOAD, error)
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
        source = PluginSource(SOURCE_BUILTIN, describe_plugin_object(plugin), "vid2act-teachers", vid2act_teachers.__version__)
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
