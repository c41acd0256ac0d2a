"""Let Intel MKL run its AVX-512 kernels on AMD CPUs that have AVX-512 (Zen 4, Zen 5).

torch's x86-64 Linux wheels do every fp32 matmul on the CPU with Intel MKL, linked into
`libtorch_cpu.so`. MKL picks its code path once, at its first call, and on a processor that is not
Intel's (`mkl_serv_intel_cpu_true()` is 0) it never picks the AVX-512 one: on the 2-core Zen 5
machines of benchmarks/README.md a 4096^2 fp32 matmul runs at 203 GFLOP/s instead of 465, and the
paper-dmc training update spends 43% of its time in those matmuls.

`enable_mkl_avx512()` makes that one MKL function answer 1 in this process (its first instructions
are overwritten with `mov eax, 1; ret`; the same effect as the `LD_PRELOAD` shim known as
"fakeintel"). MKL still checks the CPU's own feature flags for every instruction set it uses, so it
only picks kernels the processor runs; results are fp32 matmuls as before, summed in another order.
The training, pretraining, evaluation and probe commands call it before their first matmul (the
`vid2act` entry point does, and `configure_threads`); called after MKL's first matmul it changes
nothing that MKL already chose.

It does nothing (and says why) off Linux x86-64, on Intel or non-AVX-512 CPUs, without MKL, or when
`VID2ACT_MKL_AVX512=0`.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import sys
from pathlib import Path

OPT_OUT_VARIABLE = "VID2ACT_MKL_AVX512"
"""Environment variable: `0` leaves MKL's choice of kernels alone."""

REQUIRED_AVX512_FLAGS = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
"""The AVX-512 subsets of MKL's AVX-512 code path (Skylake-SP level)."""

_PATCHED_FUNCTION = "mkl_serv_intel_cpu_true"
_RETURN_ONE = b"\xb8\x01\x00\x00\x00\xc3"  # x86-64: mov eax, 1; ret

_status: str | None = None


def cpu_reason_to_skip(cpuinfo: str) -> str | None:
    """None when /proc/cpuinfo's text describes an AMD CPU with MKL's AVX-512 subsets, else why not."""
    vendor, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    if vendor != "AuthenticAMD":
        return f"not needed: the CPU is not AMD's ({vendor or 'unknown vendor'})"
    missing = [flag for flag in REQUIRED_AVX512_FLAGS if flag not in flags]
    if missing:
        return f"not needed: this AMD CPU lacks {', '.join(missing)} (MKL's AVX2 kernels are its best)"
    return None


def _torch_cpu_library() -> ctypes.CDLL | None:
    """The already loaded libtorch_cpu.so (never a second copy), or None."""
    import torch

    path = Path(torch.__file__).resolve().parent / "lib" / "libtorch_cpu.so"
    if not path.exists():
        return None
    try:
        return ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return None


def _overwrite_code(address: int, code: bytes) -> bool:
    """Write `code` at `address` in this process's (read + execute) text; False when the OS refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    libc.mprotect.restype = ctypes.c_int
    page = mmap.PAGESIZE
    start = address & ~(page - 1)
    length = (address + len(code) - start + page - 1) // page * page
    # Writable and executable at once: other code on the same page may run meanwhile.
    if libc.mprotect(start, length, mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC) != 0:
        return False
    ctypes.memmove(address, code, len(code))
    libc.mprotect(start, length, mmap.PROT_READ | mmap.PROT_EXEC)  # the write is done whether or not this succeeds
    return True


def enable_mkl_avx512() -> str:
    """Let MKL use AVX-512 kernels on this AMD CPU; returns what happened, in words.

    Idempotent and process-wide. The result starts with `enabled` when this call made the change,
    `already` when MKL already treats the CPU as Intel's (an Intel CPU would not get here; an
    `LD_PRELOAD` shim would), and otherwise says why nothing was done.
    """
    global _status
    if _status is None:
        _status = _enable()
    return _status


def mkl_dispatch_status() -> str | None:
    """What `enable_mkl_avx512` did in this process, or None before it was called."""
    return _status


def reason_to_skip() -> str | None:
    """Why `enable_mkl_avx512` would do nothing in this process (the opt-out, the platform, the CPU, the
    torch build), or None when it applies; changes nothing (benchmarks print it for their rows)."""
    if os.environ.get(OPT_OUT_VARIABLE, "1").strip() == "0":
        return f"off: {OPT_OUT_VARIABLE}=0"
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return f"not needed: {sys.platform} {platform.machine()} (only Linux x86-64 wheels link MKL this way)"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError as error:
        return f"skipped: /proc/cpuinfo unreadable ({error.strerror})"
    reason = cpu_reason_to_skip(cpuinfo)
    if reason is not None:
        return reason
    import torch

    if not torch.backends.mkl.is_available():
        return "not needed: this torch build does not use MKL"
    return None


def _enable() -> str:
    reason = reason_to_skip()
    if reason is not None:
        return reason
    library = _torch_cpu_library()
    if library is None or not hasattr(library, _PATCHED_FUNCTION):
        return f"skipped: {_PATCHED_FUNCTION} not found in libtorch_cpu.so"
    function = getattr(library, _PATCHED_FUNCTION)
    function.restype = ctypes.c_int
    if function() != 0:
        return "already: MKL treats this CPU as Intel's"
    address = ctypes.cast(function, ctypes.c_void_p).value
    if address is None or not _overwrite_code(address, _RETURN_ONE):
        return "skipped: the operating system refused to change MKL's code page"
    if function() != 1:
        return f"skipped: {_PATCHED_FUNCTION} still answers 0"
    return "enabled: MKL's AVX-512 kernels on this AMD CPU"
