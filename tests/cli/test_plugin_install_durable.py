"""A plugin installed the way docs/plugins.md says survives the `uv sync` the README tells users to run.

Each test builds a throwaway uv project in tmp_path that depends on this workspace's four packages
(editable path sources) and installs a copy of the example plugin with the commands docs/plugins.md
gives, read from the doc itself. Third-party packages are pinned to the workspace lock
(`uv export --frozen`, as `constraint-dependencies`), so uv's cache serves every wheel.
The installed `vid2act plugins --json` is the judge of what the environment holds.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vid2act-core", "vid2act-envs", "vid2act-teachers", "vid2act-cli")
PLUGIN_SOURCE = ROOT / "examples" / "vid2act-plugin-example"
PLUGIN_DISTRIBUTION = "vid2act-plugin-example"
PLUGINS_DOC = ROOT / "docs" / "plugins.md"

pytestmark = pytest.mark.slow


def _documented(pattern: str) -> str:
    """The first inline-code span of docs/plugins.md matching `pattern` (so the test runs what the doc says)."""
    spans = [span for span in re.findall(r"`([^`\n]+)`", PLUGINS_DOC.read_text()) if re.fullmatch(pattern, span)]
    assert spans, f"docs/plugins.md no longer gives a command matching {pattern!r}; update this test with the doc"
    return spans[0]


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH: this test installs a plugin into a uv project")
    return uv


def _clean_env(home: Path) -> dict[str, str]:
    """The environment without anything that points uv or vid2act at the workspace's own venv or settings."""
    leaking = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT", "UV_CONSTRAINT",
               "UV_OFFLINE", "UV_PYTHON", "VID2ACT_PLUGINS", "VID2ACT_DISABLE_PLUGINS")
    env = {key: value for key, value in os.environ.items() if key not in leaking}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["VID2ACT_HOME"] = str(home)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{shlex.join(command)} in {cwd} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def _make_venv(project: Path, env: dict[str, str]) -> None:
    """An empty `.venv` on this interpreter, which `uv sync`, `uv add` and `uv pip` then use.

    Not UV_PYTHON: it would point `uv pip install` at the interpreter's own environment, the
    workspace's venv, instead of the project's `.venv`.
    """
    _run([_uv(), "venv", "--python", sys.executable, str(project / ".venv")], project, env)


def _run_documented(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Run a command as the doc writes it, with `uv` resolved to the one on PATH."""
    words = shlex.split(command)
    assert words[0] == "uv", command
    _run([_uv(), *words[1:]], cwd, env)


@pytest.fixture(scope="module")
def constraint_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The workspace lock's third-party pins (markers kept), one requirement string each."""
    exported = tmp_path_factory.mktemp("constraints") / "constraints.txt"
    env = _clean_env(tmp_path_factory.mktemp("home"))
    _run([_uv(), "export", "--frozen", "--no-dev", "--no-emit-workspace", "--no-hashes",
          "--format", "requirements.txt", "--output-file", str(exported)], ROOT, env)
    lines = [line.strip() for line in exported.read_text().splitlines()]
    pins = [line for line in lines if line and not line.startswith(("#", "-"))]
    assert any(pin.startswith("torch==") for pin in pins), pins
    return pins


def _consumer_project(directory: Path, constraints: list[str]) -> Path:
    """A minimal uv project using vid2act from this checkout, as a user's own project would."""
    directory.mkdir()
    sources = "\n".join(
        f"{name} = {{ path = {json.dumps(str(ROOT / 'packages' / name))}, editable = true }}" for name in PACKAGES
    )
    (directory / "pyproject.toml").write_text(
        "[project]\n"
        'name = "plugin-consumer"\n'
        'version = "0.0.0"\n'
        'requires-python = ">=3.11,<3.13"\n'
        f"dependencies = {json.dumps(list(PACKAGES))}\n\n"
        "[tool.uv]\n"
        "package = false\n"
        f"constraint-dependencies = {json.dumps(constraints)}\n\n"
        "[tool.uv.sources]\n"
        f"{sources}\n"
    )
    return directory


def _copy_plugin(destination: Path) -> None:
    """A third party's plugin: a copy of the example, so nothing in the checkout is built into."""
    shutil.copytree(PLUGIN_SOURCE, destination, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"))


def _plugins(project: Path, env: dict[str, str]) -> dict[str, dict]:
    """`vid2act plugins --json` of the project's own environment, by plugin name."""
    vid2act = project / ".venv" / "bin" / "vid2act"
    return {row["name"]: row for row in json.loads(_run([str(vid2act), "plugins", "--json"], project, env).stdout)}


def _assert_example_loaded(plugins: dict[str, dict], after: str) -> None:
    assert "example" in plugins, f"after {after}, `vid2act plugins` lists only {sorted(plugins)}"
    example = plugins["example"]
    assert example["status"] == "loaded" and example["distribution"] == PLUGIN_DISTRIBUTION, example
    assert example["domains"] == ["toy"] and example["teachers"] == ["toy_reach"], example
    assert "toy-info" in example["commands"], example


@pytest.mark.parametrize("where", ["inside", "beside"])
def test_uv_add_editable_plugin_survives_uv_sync(tmp_path: Path, constraint_lines: list[str], where: str) -> None:
    """docs/plugins.md's `uv add --editable DIR` records the plugin, so `uv sync` (and a fresh venv) keep it.

    `inside`: the plugin directory is where the doc puts it (`./my-plugin`, which uv makes a workspace
    member); `beside`: a sibling checkout (`../my-plugin`, a path source).
    """
    uv = _uv()
    env = _clean_env(tmp_path / "home")
    documented = _documented(r"uv add --editable \S+")
    plugin_argument = shlex.split(documented)[-1]
    project = _consumer_project(tmp_path / "project", constraint_lines)
    if where == "beside":
        plugin_argument = "../" + Path(plugin_argument).name
        documented = shlex.join([*shlex.split(documented)[:-1], plugin_argument])
    _copy_plugin((project / plugin_argument).resolve())

    _make_venv(project, env)
    _run([uv, "sync"], project, env)
    assert "example" not in _plugins(project, env), "the consumer project has the plugin before it was added"

    _run_documented(documented, project, env)
    _assert_example_loaded(_plugins(project, env), documented)
    assert PLUGIN_DISTRIBUTION in (project / "pyproject.toml").read_text()
    assert f'name = "{PLUGIN_DISTRIBUTION}"' in (project / "uv.lock").read_text()

    _run([uv, "sync"], project, env)
    _assert_example_loaded(_plugins(project, env), f"{documented}; uv sync")

    # What a fresh clone of the user's project gets: the plugin comes from the project files alone.
    shutil.rmtree(project / ".venv")
    _make_venv(project, env)
    _run([uv, "sync"], project, env)
    _assert_example_loaded(_plugins(project, env), f"{documented}; rm -rf .venv; uv sync")


def test_uv_pip_install_plugin_needs_inexact_sync(tmp_path: Path, constraint_lines: list[str]) -> None:
    """`uv pip install -e` then `uv sync --inexact` keeps the plugin; a plain `uv sync` uninstalls it.

    The plain `uv sync` is why docs/plugins.md has to say this: it was the README's install command,
    and it silently removed a plugin installed with `uv pip install -e`, as the docs used to advise.
    """
    uv = _uv()
    env = _clean_env(tmp_path / "home")
    pip_install = _documented(r"uv pip install -e \S+")
    inexact_sync = _documented(r"uv sync --inexact")
    project = _consumer_project(tmp_path / "project", constraint_lines)
    _copy_plugin((project / shlex.split(pip_install)[-1]).resolve())

    _make_venv(project, env)
    _run([uv, "sync"], project, env)
    _run_documented(pip_install, project, env)
    _assert_example_loaded(_plugins(project, env), pip_install)
    assert PLUGIN_DISTRIBUTION not in (project / "pyproject.toml").read_text(), "`uv pip install` edited the project"

    _run_documented(inexact_sync, project, env)
    _assert_example_loaded(_plugins(project, env), f"{pip_install}; {inexact_sync}")

    removed = _run([uv, "sync"], project, env)
    assert PLUGIN_DISTRIBUTION in removed.stderr + removed.stdout, "plain `uv sync` did not report removing the plugin"
    plugins = _plugins(project, env)
    assert "example" not in plugins, f"plain `uv sync` kept the `uv pip install -e` plugin: {plugins.get('example')}"
    assert {"dmc", "metaworld"} <= set(plugins), sorted(plugins)
