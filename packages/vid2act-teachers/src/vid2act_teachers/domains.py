"""The one domain registry of a process: what the loaded plugins register, built-ins included.

The built-in DeepMind Control and Meta-World domains are plugins (`vid2act_teachers.builtin`)
registered through the same `vid2act_register_domains` hook as third-party ones, so there is no
separate list of built-in domains. `default_domain_registry()` is the registry of the process's
plugin manager (`get_plugin_manager()`), built once per manager; `resolve_task` and `make_env`
are shortcuts through it. For a private set of plugins, build a manager with
`build_plugin_manager(...)` and pass it to `vid2act_teachers.plugins.domain_registry(pm)`.
"""

from __future__ import annotations

import functools
from typing import Any

from vid2act_envs.base import Env, TaskSpec
from vid2act_envs.tasks import DomainRegistry

from vid2act_teachers.plugin_manager import Vid2actPluginManager, get_plugin_manager
from vid2act_teachers.plugins import domain_registry


@functools.lru_cache(maxsize=8)
def _registry_of(pm: Vid2actPluginManager) -> DomainRegistry:
    return domain_registry(pm)


def default_domain_registry() -> DomainRegistry:
    """The domains of the process's plugin manager (cached per manager; see `get_plugin_manager`).

    Raises `PluginConflictError` when two plugins register the same domain name.
    """
    return _registry_of(get_plugin_manager())


def resolve_task(name: str) -> TaskSpec:
    """The default TaskSpec of a task name, over every loaded domain (see `DomainRegistry.resolve`)."""
    return default_domain_registry().resolve(name)


def make_env(name_or_spec: str | TaskSpec, **kwargs: Any) -> Env:
    """Build an environment over every loaded domain (keywords as `DomainRegistry.make_env`)."""
    return default_domain_registry().make_env(name_or_spec, **kwargs)
