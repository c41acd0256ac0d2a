"""Shared test setup: few threads, MKL's kernels chosen as the vid2act commands choose them, headless rendering."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from typing import TYPE_CHECKING  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

if TYPE_CHECKING:
    from pretrained_teachers import TeacherStore

from vid2act_core.mkl_dispatch import enable_mkl_avx512  # noqa: E402

torch.set_num_threads(1)
# Before any test's first matmul, as the `vid2act` entry point does: the test process then uses the
# same MKL kernels as the worker and command processes it starts (on AMD CPUs with AVX-512).
enable_mkl_avx512()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own VID2ACT_HOME so no test touches a user's teacher registry."""
    monkeypatch.setenv("VID2ACT_HOME", str(tmp_path_factory.mktemp("vid2act_home")))


@pytest.fixture(scope="session")
def pretrained_teachers(tmp_path_factory: pytest.TempPathFactory) -> "TeacherStore":
    """Tiny teachers pretrained for 60 steps on random-policy data, built once per session
    (tests/pretrained_teachers.py); `pretrained_teachers.install(home, {name: key})` registers them."""
    from pretrained_teachers import build_teacher_store

    return build_teacher_store(tmp_path_factory.mktemp("pretrained_teachers"))
