"""Worker process for compare_anchors.py: the anchor harness's worker with this project's builders.

Started by the harness's coordinator (speed.py) as `python anchor_worker.py NAME THREADS`; puts the
anchor folder on sys.path, replaces the `ours*` builders of its impls.py (written against an older
API) with anchor_setup.build_ours, lets MKL use AVX-512 kernels where --mkl-avx512 says
(`vid2act_core.runtime.mkl_dispatch`), places every row on $VID2ACT_BENCH_DEVICE when it is not the CPU
(`anchor_setup.place_on_device`), then runs the harness's own worker loop unchanged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from anchor_setup import bench_device, place_on_device, register_builders  # noqa: E402


def wants_mkl_avx512(name: str, mode: str) -> bool:
    """Whether worker `name` lets MKL use AVX-512 kernels on an AMD CPU under compare_anchors' --mkl-avx512 mode.

    shipped: this project's rows (their training commands do it) and the matmul ceiling probe, the
    anchors as they ship; all: every row; none: no row.
    """
    if mode == "all":
        return True
    if mode == "shipped":
        return name == "matmul" or name.startswith("ours")
    return False


def main() -> None:
    anchors = Path(os.environ["VID2ACT_ANCHORS"])
    sys.path.insert(1, str(anchors))
    name = sys.argv[1]
    if wants_mkl_avx512(name, os.environ.get("VID2ACT_BENCH_MKL_AVX512", "shipped")):
        from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512

        enable_mkl_avx512()  # before the worker's first matmul
    import impls
    import worker

    register_builders(impls)
    device = bench_device()
    if device != "cpu":
        place_on_device(impls, worker, device)
    worker.main()


if __name__ == "__main__":
    main()
