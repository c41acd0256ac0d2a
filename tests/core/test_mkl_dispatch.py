"""enable_mkl_avx512: MKL treats an AVX-512 AMD CPU as Intel's (and uses its AVX-512 kernels), matmuls stay right."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vid2act_core.runtime import mkl_dispatch
from vid2act_core.runtime.mkl_dispatch import cpu_reason_to_skip

ZEN5_CPUINFO = textwrap.dedent(
    """
    processor	: 0
    vendor_id	: AuthenticAMD
    model name	: AMD EPYC
    flags		: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16
    processor	: 1
    vendor_id	: AuthenticAMD
    flags		: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16
    """
)


def test_only_an_amd_cpu_with_the_avx512_subsets_qualifies() -> None:
    assert cpu_reason_to_skip(ZEN5_CPUINFO) is None
    intel = ZEN5_CPUINFO.replace("AuthenticAMD", "GenuineIntel")
    assert "not AMD's (GenuineIntel)" in cpu_reason_to_skip(intel)
    zen3 = ZEN5_CPUINFO.replace(" avx512f avx512dq avx512cd avx512bw avx512vl", "")
    assert "lacks avx512f, avx512cd, avx512bw, avx512dq, avx512vl" in cpu_reason_to_skip(zen3)
    assert "unknown vendor" in cpu_reason_to_skip("flags : avx512f\n")


def _this_cpu_qualifies() -> bool:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return sys.platform.startswith("linux") and cpu_reason_to_skip(cpuinfo) is None and torch.backends.mkl.is_available()


_PROBE = textwrap.dedent(
    """
    import ctypes, os, torch
    from vid2act_core.runtime.mkl_dispatch import _torch_cpu_library, enable_mkl_avx512
    status = enable_mkl_avx512()
    answer = _torch_cpu_library().mkl_serv_intel_cpu_true()
    generator = torch.Generator().manual_seed(0)
    lhs, rhs = torch.randn(300, 500, generator=generator), torch.randn(500, 200, generator=generator)
    error = ((lhs @ rhs).double() - lhs.double() @ rhs.double()).abs().max().item()
    print(repr(status), answer, error, enable_mkl_avx512() == status)
    """
)


def _probe(**environment: str) -> tuple[str, int, float, bool]:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **environment})
    assert result.returncode == 0, result.stderr[-2000:]
    status, answer, error, repeated = result.stdout.strip().rsplit(" ", 3)
    return eval(status), int(answer), float(error), repeated == "True"


@pytest.mark.skipif(not _this_cpu_qualifies(), reason="needs an AMD CPU with AVX-512 and torch built with MKL")
def test_mkl_is_told_the_cpu_is_intel_and_matmuls_stay_exact_to_float32() -> None:
    status, answer, error, repeated = _probe()
    assert status.startswith("enabled"), status
    assert answer == 1
    assert repeated  # a second call changes nothing and says the same
    assert error < 1e-3, error  # sums of 500 products of N(0, 1) values: fp32 rounding is ~1e-5


@pytest.mark.skipif(not _this_cpu_qualifies(), reason="needs an AMD CPU with AVX-512 and torch built with MKL")
def test_the_opt_out_variable_leaves_mkl_alone() -> None:
    status, answer, error, _ = _probe(**{mkl_dispatch.OPT_OUT_VARIABLE: "0"})
    assert status == f"off: {mkl_dispatch.OPT_OUT_VARIABLE}=0"
    assert answer == 0
    assert error < 1e-3


_UPDATE = textwrap.dedent(
    """
    import sys, torch
    from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512
    status = enable_mkl_avx512()  # before the first matmul, as the vid2act commands do
    sys.path.insert(0, sys.argv[2])
    from method_fakes import tiny_transfer
    torch.manual_seed(0)
    agent, _, batch, _ = tiny_transfer()
    torch.manual_seed(11)
    agent.selector.generator.manual_seed(5)
    metrics = agent.train_step(batch)
    torch.save({"status": status, "metrics": {k: v.detach().float() for k, v in metrics.items()},
                "params": {k: v.detach() for k, v in agent.state_dict().items()}}, sys.argv[1])
    """
)


@pytest.mark.skipif(not _this_cpu_qualifies(), reason="needs an AMD CPU with AVX-512 and torch built with MKL")
def test_a_full_transfer_update_with_avx512_kernels_matches_the_default_kernels(tmp_path: Path) -> None:
    tests_folder = str(Path(__file__).resolve().parents[1])
    outcomes = []
    for name, switch in (("default", "0"), ("avx512", "1")):
        out = tmp_path / f"{name}.pt"
        result = subprocess.run([sys.executable, "-c", _UPDATE, str(out), tests_folder], capture_output=True, text=True,
                                timeout=300, env={**os.environ, mkl_dispatch.OPT_OUT_VARIABLE: switch})
        assert result.returncode == 0, result.stderr[-2000:]
        outcomes.append(torch.load(out))
    reference, fast = outcomes
    assert reference["status"].startswith("off") and fast["status"].startswith("enabled")
    for key in ("model_loss", "image_loss", "kl", "distill_loss", "actor_loss", "critic_loss", "vae_loss", "model_grad_norm"):
        torch.testing.assert_close(fast["metrics"][key], reference["metrics"][key], rtol=1e-4, atol=1e-5,
                                   msg=lambda text, key=key: f"{key}: {text}")
    for name, value in reference["params"].items():
        if value.is_floating_point():
            torch.testing.assert_close(fast["params"][name], value, rtol=1e-4, atol=1e-5, msg=lambda text, name=name: f"{name}: {text}")


def test_checkpoints_record_what_mkl_was_told() -> None:
    from vid2act_core.runtime.system import system_info

    status = mkl_dispatch.enable_mkl_avx512()  # the test process asked already (conftest): same answer
    assert system_info()["mkl_avx512"] == status
    assert status.split(":")[0] in ("enabled", "already", "off", "not needed", "skipped")
