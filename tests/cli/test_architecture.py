"""The package layout DESIGN.md promises: typer and rich only in the CLI's commands, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
COMMANDS = PACKAGES / "vid2act-cli" / "src" / "vid2act_cli" / "commands"
MAX_MODULE_LINES = 400


def imported_modules(source: str, filename: str = "<source>") -> set[str]:
    """Top-level names of every module a source imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def package_sources() -> list[Path]:
    sources = sorted(PACKAGES.glob("*/src/**/*.py"))
    assert len(sources) > 20, f"found only {len(sources)} modules under {PACKAGES}"
    return sources


def importers_outside_commands(module: str) -> list[str]:
    return [
        str(path.relative_to(PACKAGES))
        for path in package_sources()
        if not path.is_relative_to(COMMANDS) and module in imported_modules(path.read_text(), str(path))
    ]


def test_the_import_scan_sees_every_form_of_import() -> None:
    source = (
        "import os\nimport typer.testing as t\nfrom rich.console import Console\nfrom . import sibling\n"
        "def late():\n    import yaml\n    from torch import nn\n"
    )
    assert imported_modules(source) == {"os", "typer", "rich", "yaml", "torch"}


@pytest.mark.parametrize("module", ["typer", "rich"])
def test_only_the_cli_commands_import_typer_and_rich(module: str) -> None:
    assert importers_outside_commands(module) == []


def test_the_commands_do_use_typer_and_rich() -> None:
    """The scan above looks at the right files: the commands themselves import both."""
    used = set().union(*(imported_modules(path.read_text(), str(path)) for path in COMMANDS.glob("*.py")))
    assert {"typer", "rich"} <= used


def test_no_package_module_exceeds_the_line_limit() -> None:
    too_long = {
        str(path.relative_to(PACKAGES)): count
        for path in package_sources()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


# What each package must never import (DESIGN.md): arrows only point down cli -> teachers -> (core, envs).
SIMULATORS = {"mujoco", "dm_control", "metaworld", "gymnasium", "h5py"}
FORBIDDEN_IMPORTS = {
    "vid2act-core": {"vid2act_envs", "vid2act_teachers", "vid2act_cli", "typer", "rich"} | SIMULATORS,
    "vid2act-envs": {"torch", "vid2act_core", "vid2act_teachers", "vid2act_cli", "typer", "rich"},
    "vid2act-teachers": {"vid2act_cli", "typer", "rich"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_each_package_imports_only_downwards(package: str) -> None:
    sources = sorted((PACKAGES / package / "src").glob("**/*.py"))
    assert sources, f"no modules under {package}"
    offending = {
        str(path.relative_to(PACKAGES)): sorted(found)
        for path in sources
        if (found := imported_modules(path.read_text(), str(path)) & FORBIDDEN_IMPORTS[package])
    }
    assert offending == {}


RUNTIME = PACKAGES / "vid2act-core" / "src" / "vid2act_core" / "runtime"


def vid2act_core_imports(source: str, filename: str) -> set[str]:
    """The `vid2act_core...` modules a source imports (absolute imports only, as the packages write them)."""
    found = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "vid2act_core")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "vid2act_core":
            found.add(node.module)
    return found


def test_the_core_runtime_imports_none_of_the_algorithm() -> None:
    """vid2act_core.runtime is the machine under the algorithm: it may import itself and the package's version only."""
    sources = sorted(RUNTIME.glob("*.py"))
    assert len(sources) > 5, f"found only {len(sources)} modules under {RUNTIME}"
    offending = {
        path.name: sorted(name for name in imports if name != "vid2act_core" and not name.startswith("vid2act_core.runtime"))
        for path in sources
        if (imports := vid2act_core_imports(path.read_text(), str(path)))
    }
    assert {name: modules for name, modules in offending.items() if modules} == {}
