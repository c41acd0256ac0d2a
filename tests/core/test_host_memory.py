"""keep_freed_host_memory: a repeated forward/backward stops page-faulting its activation buffers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from vid2act_core.runtime import host_memory

_FAULTS_PER_STEP = textwrap.dedent(
    """
    import resource, sys, torch
    from vid2act_core.runtime.host_memory import keep_freed_host_memory
    applied = keep_freed_host_memory() if sys.argv[1] == "tuned" else False
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 4, 2), torch.nn.ELU(), torch.nn.Conv2d(32, 64, 4, 2), torch.nn.ELU())
    images = torch.rand(200, 3, 64, 64)
    def step():
        net(images).square().mean().backward()
    step(); step()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        step()
    print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) // 3)
    """
)


def _faults_per_step(mode: str, **environment: str) -> tuple[bool, int]:
    result = subprocess.run([sys.executable, "-c", _FAULTS_PER_STEP, mode], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **environment})
    assert result.returncode == 0, result.stderr[-2000:]
    applied, faults = result.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(host_memory._glibc() is None, reason="glibc only")
def test_tuned_allocator_reuses_activation_memory_instead_of_faulting_it_in_again() -> None:
    applied, tuned = _faults_per_step("tuned")
    plain_applied, plain = _faults_per_step("plain")
    assert applied and not plain_applied
    # 200 images: each step's activations are ~30 MB freed and allocated again; the default glibc
    # unmaps them and faults ~19k pages back in per step, the tuned heap keeps them.
    assert plain > 5_000, plain
    assert tuned < plain / 4, (tuned, plain)


@pytest.mark.skipif(host_memory._glibc() is None, reason="glibc only")
def test_the_opt_out_variable_leaves_the_allocator_alone() -> None:
    applied, faults = _faults_per_step("tuned", **{host_memory.OPT_OUT_VARIABLE: "0"})
    assert not applied
    assert faults > 5_000, faults
