"""The suite is hermetic to other installed plugins: a throwaway plugin installed beside the example changes no result."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from throwaway_plugin import DOMAIN, MODULE, PLUGIN_NAME, TEACHER, write_throwaway_plugin
from vid2act_teachers import plugins
from vid2act_teachers.plugins import PLUGINS_ENV, domain_registry, get_plugin_manager, plugin_report, registered_teachers

REPO = Path(__file__).resolve().parents[2]

BESIDE_THE_THROWAWAY = (
    "tests/teachers/test_plugins_manager.py",
    "tests/teachers/test_plugins_hook_api.py",
    "tests/teachers/test_plugins_hookspecs.py",
    "tests/teachers/test_plugins_conformance.py",
    "tests/teachers/test_registry_cli.py",
    "tests/teachers/test_registry_roundtrip.py",
    "tests/teachers/test_teacher_replay_set.py",
    "tests/cli/test_plugins_cli.py",
    "tests/cli/test_teacher_replay_set_e2e.py",
)
"""The plugin and registry tests: the ones that list plugins, domains and teachers or run `--teachers all`."""


@pytest.fixture()
def throwaway_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The throwaway plugin visible to this process (its directory first on sys.path) for one test."""
    site = write_throwaway_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    plugins.clear_plugin_manager_cache()
    yield site
    sys.modules.pop(MODULE, None)
    plugins.clear_plugin_manager_cache()


def test_the_suite_loads_the_example_only_and_the_throwaway_when_every_plugin_is_asked_for(
    throwaway_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert os.environ[PLUGINS_ENV] == "example"  # tests/conftest.py
    assert get_plugin_manager().loaded_plugin_names() == ["dmc", "metaworld", "example"]
    assert {info.name: info.status for info in plugin_report()}[PLUGIN_NAME] == "not selected"
    assert domain_registry().domain_names() == ["dmc", "metaworld", "toy"]
    assert set(registered_teachers()) == {"toy_reach"}
    # Unset, every installed plugin loads: the throwaway is really installed, with its domain and teacher.
    monkeypatch.delenv(PLUGINS_ENV)
    assert set(get_plugin_manager().loaded_plugin_names()) == {"dmc", "metaworld", "example", PLUGIN_NAME}
    assert set(domain_registry().domain_names()) == {"dmc", "metaworld", "toy", DOMAIN}
    assert registered_teachers()[TEACHER] == (throwaway_site / MODULE / "teachers" / TEACHER).resolve()


@pytest.mark.slow
def test_plugin_and_registry_tests_pass_beside_a_second_installed_plugin(tmp_path: Path) -> None:
    site = write_throwaway_plugin(tmp_path)
    environment = {key: value for key, value in os.environ.items() if key not in (PLUGINS_ENV, "VID2ACT_DISABLE_PLUGINS")}
    environment["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    listed = subprocess.run(
        [sys.executable, "-c", "import importlib.metadata as m; print(sorted(e.name for e in m.entry_points(group='vid2act')))"],
        env=environment, capture_output=True, text=True, check=True,
    )
    assert PLUGIN_NAME in listed.stdout and "example" in listed.stdout
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "run"), *BESIDE_THE_THROWAWAY],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
