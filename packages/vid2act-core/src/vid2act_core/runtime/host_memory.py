"""Keep freed CPU memory inside the process (glibc), so a training update does not page-fault.

A training update allocates and frees the same large activation buffers every time (a 16 x 50
batch of 32 x 31 x 31 float feature maps is 98 MB). glibc serves blocks above its mmap threshold
(at most 32 MiB) with a fresh `mmap` and returns them with `munmap` on free, so every update the
kernel maps and zeroes those pages again: measured on the paper-dmc update at 1 thread, 18% of the
process's CPU time was system time for these minor page faults (benchmarks/README.md). Serving all
blocks from the heap and never trimming it removes that cost; the maths is unchanged.

The cost is memory: the heap keeps its high-water mark (about 10% more peak RSS in that update).
Set `VID2ACT_MALLOC_TUNING=0` to leave glibc's defaults. On other C libraries (macOS, musl) this
does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

OPT_OUT_VARIABLE = "VID2ACT_MALLOC_TUNING"
"""Environment variable: `0` leaves the allocator as it is."""

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4
"""mallopt parameter numbers from glibc's malloc.h."""

_TRIM_THRESHOLD_BYTES = 2**31 - 1
"""The largest value mallopt's int accepts: free memory at the heap's top is kept up to 2 GiB."""
_TOP_PAD_BYTES = 64 * 2**20
"""Grow the heap 64 MiB beyond each request, so growing it is a rare system call."""

_applied: bool | None = None


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    # musl also ships a libc.so.6 name on some systems; only glibc has this function.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def keep_freed_host_memory() -> bool:
    """Tell glibc to serve every block from the heap and keep freed memory; True when it took effect.

    Idempotent and process-wide; a no-op (False) off glibc or when `VID2ACT_MALLOC_TUNING=0`.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get(OPT_OUT_VARIABLE, "1").strip() == "0":
        return False
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES), (_M_TOP_PAD, _TOP_PAD_BYTES))
    _applied = all(libc.mallopt(parameter, value) == 1 for parameter, value in settings)
    return _applied
