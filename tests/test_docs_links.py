"""Every file or folder the README and docs/ point to is committed, not only present in one checkout.

A results table is only as good as the data behind it: a link to metrics that sit in a git-ignored
folder reads fine on the machine that wrote them and is empty in every clone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
DATA_PATH = re.compile(r"`(docs/results-data/[^`\s]+)`")
PATTERN_CHARACTERS = set("<>*{}")


def linked_paths(markdown: Path) -> list[Path]:
    """Repository paths a markdown file links to (relative links) or names in backticks under results-data."""
    text = markdown.read_text()
    targets = [markdown.parent / link for link in MARKDOWN_LINK.findall(text) if "://" not in link]
    # Paths written as shell patterns (`runs/<run>/`, `{a,b}`) name many files; they are left out.
    targets += [ROOT / path for path in DATA_PATH.findall(text) if not PATTERN_CHARACTERS & set(path)]
    return [target.resolve() for target in targets]


def tracked_paths() -> set[str]:
    """Every tracked file, and every folder above one, relative to the repository root."""
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    paths: set[str] = set()
    for file in listing.splitlines():
        parts = Path(file).parts
        paths.update(str(Path(*parts[:end])) for end in range(1, len(parts) + 1))
    return paths


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs").glob("results-data/**/*.md"))]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_what_the_docs_point_to_is_committed(document: Path) -> None:
    tracked = tracked_paths()
    missing = [str(path.relative_to(ROOT)) for path in linked_paths(document)
               if path.is_relative_to(ROOT) and str(path.relative_to(ROOT)) not in tracked]
    assert not missing, f"{document.relative_to(ROOT)} points to paths no commit holds: {missing}"


def test_the_link_reader_finds_links_and_data_paths(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("see [a](sub/a.png#top), [web](https://example.org) and `docs/results-data/x/y.json` `docs/results-data/{a,b}`\n")
    assert linked_paths(page) == [(tmp_path / "sub/a.png").resolve(), (ROOT / "docs/results-data/x/y.json").resolve()]
