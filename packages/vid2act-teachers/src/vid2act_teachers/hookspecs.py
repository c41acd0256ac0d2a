"""The vid2act plugin hooks (pluggy project name "vid2act", entry-point group "vid2act").

A plugin is a module (or any object) with functions marked `@hookimpl` whose names match the
specs below, and a `VID2ACT_HOOK_API` attribute naming the hook API version it was written for
(`HOOK_API_VERSION` here). Each hook receives a callback and calls it once per thing it adds; a
hook returns nothing. The built-in DMC and Meta-World domains are plugins written the same way
(`vid2act_teachers.builtin`); `docs/plugins.md` walks through a complete external one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pluggy

from vid2act_envs.base import Domain

PROJECT_NAME = "vid2act"
"""pluggy project name and setuptools entry-point group of vid2act plugins."""

HOOK_API_VERSION = "1.1"
"""Version of these hooks, "MAJOR.MINOR": a plugin written for another MAJOR is refused.

1.1 added `Domain.train_expert`, an expert that is trained before it acts."""

HOOK_API_ATTRIBUTE = "VID2ACT_HOOK_API"
"""Plugin attribute declaring the hook API version it was written for, e.g. `VID2ACT_HOOK_API = "1.0"`."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def vid2act_register_domains(register: Callable[[Domain], None]) -> None:
    """Add task domains: call `register(domain)` with a `vid2act_envs.base.Domain` for each one."""


@hookspec
def vid2act_register_teachers(register: Callable[[str, Path], None]) -> None:
    """Add prebuilt teachers: call `register(name, path)`, path a directory with model.safetensors and config.json."""


@hookspec
def vid2act_register_commands(app: Any) -> None:
    """Add CLI commands or groups to `app`, the `typer.Typer` application of the `vid2act` command."""
