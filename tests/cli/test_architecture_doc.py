"""docs/architecture.md's module tables list exactly the modules each package has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE_HEADING = re.compile(r"^### (vid2act-\w+) \(`(\w+)`\)$")
MODULE_ROW = re.compile(r"^\| `([^`]+\.py)` \|")


def documented_modules(text: str) -> dict[str, set[str]]:
    """Package name -> the module paths its table rows name (the first cell of each row)."""
    tables: dict[str, set[str]] = {}
    package = None
    for line in text.splitlines():
        if heading := PACKAGE_HEADING.match(line):
            package = heading.group(1)
            tables[package] = set()
        elif line.startswith(("## ", "### ")):
            package = None
        elif package and (row := MODULE_ROW.match(line)):
            tables[package].add(row.group(1))
    return tables


def package_modules(package: str) -> set[str]:
    """Every module of a package, relative to its import root, `__init__.py` files left out."""
    (import_root,) = (ROOT / "packages" / package / "src").iterdir()
    return {str(path.relative_to(import_root)) for path in import_root.glob("**/*.py") if path.name != "__init__.py"}


PACKAGES = sorted(path.name for path in (ROOT / "packages").iterdir() if (path / "src").is_dir())


def test_every_package_has_a_module_table() -> None:
    assert sorted(documented_modules(DOC.read_text())) == PACKAGES


@pytest.mark.parametrize("package", PACKAGES)
def test_the_table_names_exactly_the_package_modules(package: str) -> None:
    documented = documented_modules(DOC.read_text()).get(package, set())
    actual = package_modules(package)
    assert {"named but missing": sorted(documented - actual), "not named": sorted(actual - documented)} == {
        "named but missing": [],
        "not named": [],
    }


def test_the_parser_reads_rows_under_package_headings_only() -> None:
    text = (
        "### vid2act-core (`vid2act_core`)\n\n| module | job |\n|---|---|\n| `a.py` | job |\n| `sub/b.py` | job |\n"
        "#### Episode arrays\n| `c.py` | still core |\n## Data flows\n| `d.py` | not a module row |\n"
    )
    assert documented_modules(text) == {"vid2act-core": {"a.py", "sub/b.py", "c.py"}}
