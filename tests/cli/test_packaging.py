"""The four packages (and the example plugin) are publishable on their own.

Metadata checks read the pyproject files; the slow test builds the wheels, installs them into a
fresh virtual environment outside the workspace and runs the installed `vid2act` command there.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "vid2act-core": ROOT / "packages" / "vid2act-core",
    "vid2act-envs": ROOT / "packages" / "vid2act-envs",
    "vid2act-teachers": ROOT / "packages" / "vid2act-teachers",
    "vid2act-cli": ROOT / "packages" / "vid2act-cli",
}
PLUGIN = ROOT / "examples" / "vid2act-plugin-example"
DISTRIBUTIONS = {**PACKAGES, "vid2act-plugin-example": PLUGIN}


def _project(directory: Path) -> dict:
    return tomllib.loads((directory / "pyproject.toml").read_text())["project"]


def _next_minor(version: Version) -> Version:
    return Version(f"{version.major}.{version.minor + 1}")


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_module_version_is_the_installed_distribution_version(name: str) -> None:
    module = importlib.import_module(name.replace("-", "_"))
    declared = _project(DISTRIBUTIONS[name])["version"]
    assert module.__version__ == declared == importlib.metadata.version(name), (
        f"{name}: __version__ {module.__version__}, pyproject {declared}, installed {importlib.metadata.version(name)}"
        " (run `uv sync --inexact` after a version bump)"
    )


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_dependencies_on_our_packages_carry_a_compatible_range(name: str) -> None:
    """Every vid2act dependency admits the current version of that package and excludes its next minor."""
    requirements = [Requirement(text) for text in _project(DISTRIBUTIONS[name])["dependencies"]]
    ours = [requirement for requirement in requirements if requirement.name in PACKAGES]
    if name in ("vid2act-teachers", "vid2act-cli", "vid2act-plugin-example"):
        assert ours, f"{name} declares no vid2act dependency"
    for requirement in ours:
        current = Version(_project(PACKAGES[requirement.name])["version"])
        assert requirement.specifier.contains(current), f"{name}: {requirement} excludes {requirement.name} {current}"
        assert not requirement.specifier.contains(_next_minor(current)), f"{name}: {requirement} has no upper bound below {_next_minor(current)}"


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_each_package_has_a_readme_and_a_changelog_for_its_version(name: str) -> None:
    directory = PACKAGES[name]
    project = _project(directory)
    assert project["readme"] == "README.md" and (directory / "README.md").read_text().startswith(f"# {name}\n")
    changelog = (directory / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\d+\.\d+\.\d+)", changelog, flags=re.MULTILINE)
    assert headings and headings[0] == project["version"], f"{name}: CHANGELOG.md's newest entry {headings[:1]} is not {project['version']}"
    assert "0.1.0" in headings


@pytest.mark.parametrize("name", ["vid2act-core", "vid2act-envs", "vid2act-teachers"])
def test_readme_python_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (PACKAGES[name] / "README.md").read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, f"{name}: expected one python example in README.md"
    exec(compile(blocks[0], f"{name}/README.md", "exec"), {"__name__": "readme_example"})
    capsys.readouterr()


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.slow
def test_wheels_install_into_a_clean_venv_and_the_cli_sees_the_example_plugin(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH: this test builds and installs wheels with it")
    # Nothing of the workspace's environment may leak into the clean one.
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT", "VID2ACT_PLUGINS", "VID2ACT_DISABLE_PLUGINS")}
    env["VID2ACT_HOME"] = str(tmp_path / "home")
    dist = tmp_path / "dist"
    _run([uv, "build", "--all-packages", "--wheel", "--out-dir", str(dist)], ROOT, env)
    _run([uv, "build", "--wheel", str(PLUGIN), "--out-dir", str(dist)], ROOT, env)
    wheels = sorted(dist.glob("*.whl"))
    names = {wheel.name.split("-")[0] for wheel in wheels}
    assert names == {"vid2act_core", "vid2act_envs", "vid2act_teachers", "vid2act_cli", "vid2act_plugin_example"}, names

    # Third-party packages come from the index, pinned to the workspace lock (so uv's cache serves them).
    constraints = tmp_path / "constraints.txt"
    _run([uv, "export", "--frozen", "--no-dev", "--no-emit-workspace", "--no-hashes",
          "--format", "requirements.txt", "--output-file", str(constraints)], ROOT, env)
    venv = tmp_path / "venv"
    _run([uv, "venv", str(venv), "--python", sys.executable], tmp_path, env)
    python = venv / "bin" / "python"
    _run([uv, "pip", "install", "--python", str(python), "--constraints", str(constraints), *map(str, wheels)], tmp_path, env)

    located = _run([str(python), "-c", "import vid2act_cli, vid2act_core; print(vid2act_core.__file__, vid2act_cli.__version__)"], tmp_path, env)
    module_file, cli_version = located.stdout.split()
    assert Path(module_file).is_relative_to(venv), f"vid2act_core imported from {module_file}, not from the clean venv"
    assert cli_version == _project(PACKAGES["vid2act-cli"])["version"]

    vid2act = str(venv / "bin" / "vid2act")
    help_text = _run([vid2act, "--help"], tmp_path, {**env, "COLUMNS": "200"}).stdout
    for command in ("transfer", "teachers", "plugins", "toy-info"):
        assert command in help_text, f"`vid2act --help` in the clean venv does not list {command!r}"
    report = {row["name"]: row for row in json.loads(_run([vid2act, "plugins", "--json"], tmp_path, env).stdout)}
    assert report["example"]["status"] == "loaded", report["example"]
    assert report["example"]["domains"] == ["toy"] and report["example"]["teachers"] == ["toy_reach"]
    assert report["dmc"]["domains"] == ["dmc"] and report["metaworld"]["domains"] == ["metaworld"]
