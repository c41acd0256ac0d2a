"""Shared test setup: few threads, MKL's kernels chosen as the vid2act commands choose them, headless rendering."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

if TYPE_CHECKING:
    from pretrained_teachers import TeacherStore

from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512  # noqa: E402

torch.set_num_threads(1)
# Before any test's first matmul, as the `vid2act` entry point does: the test process then uses the
# same MKL kernels as the worker and command processes it starts (on AMD CPUs with AVX-512).
enable_mkl_avx512()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own VID2ACT_HOME so no test touches a user's teacher registry."""
    monkeypatch.setenv("VID2ACT_HOME", str(tmp_path_factory.mktemp("vid2act_home")))


TEST_PLUGINS = "example"
"""The external plugins every test loads (VID2ACT_PLUGINS): the example plugin the workspace installs."""


@pytest.fixture(autouse=True)
def _only_the_example_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test, and each command it starts, loads the built-in plugins and the example only.

    A plugin author runs this suite beside their own plugin: its domains, teachers and commands must
    not change what the tests see. A test about loading every installed plugin unsets the variable
    itself (and then asserts only what holds whatever else is installed).
    """
    monkeypatch.setenv("VID2ACT_PLUGINS", TEST_PLUGINS)
    monkeypatch.delenv("VID2ACT_DISABLE_PLUGINS", raising=False)


@pytest.fixture(scope="session")
def pretrained_teachers(tmp_path_factory: pytest.TempPathFactory) -> "TeacherStore":
    """Tiny teachers pretrained for 60 steps on random-policy data, built once per session
    (tests/pretrained_teachers.py); `pretrained_teachers.install(home, {name: key})` registers them."""
    from pretrained_teachers import build_teacher_store

    return build_teacher_store(tmp_path_factory.mktemp("pretrained_teachers"))
