"""Side-by-side training-update speed: this project vs jsikyoon/dreamer-torch vs official Vid2Act.

    uv run python benchmarks/compare_anchors.py --threads 2 --updates 6
    uv run python benchmarks/compare_anchors.py --impls dreamer-torch,ours --updates 3 --no-flops

A thin wrapper around the anchor harness (`../shared/anchors/`, or --anchors / $VID2ACT_ANCHORS;
its README describes the vendored anchors, their patches and how rounds are measured): the
harness's coordinator `speed.py` runs unchanged, its workers get this project's builders from
`anchor_setup.py` (paper-dmc sizes, horizon 15, B16 x T50, stored teacher features, per-step task
selection). Every implementation runs in its own process; updates are timed in alternating rounds
(A, B, C, ..., matmul ceiling, A, B, ...) so load from other processes hits all alike. Prints the
table (median s/update, WM/AC split, GFLOP, peak RSS), the ratios ours / dreamer-torch,
ours-t4 / vid2act-t4 and the teacher costs, and the load of other processes per round.

On an AMD CPU with AVX-512, this project's training commands let MKL use its AVX-512 kernels
(`vid2act_core.mkl_dispatch`); `--mkl-avx512` says which rows do (default: ours and the matmul
ceiling, the anchors as they ship; `all` equalises it). The first line printed says which rows got it.

CPU only: the anchor builders place their models on the CPU (see ../shared/anchors/impls.py). On
a GPU use `benchmarks/train_step.py --device cuda` for this project's rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_ANCHORS = HERE.parent.parent / "shared" / "anchors"
DEFAULT_IMPLS = "ours,ours-t4,ours-t6,dreamer-torch,vid2act-t4"


def describe_mkl_rows(mode: str, names: list[str]) -> str:
    """Which rows let MKL use AVX-512 kernels, or why none can on this CPU."""
    from anchor_worker import wants_mkl_avx512
    from vid2act_core.mkl_dispatch import reason_to_skip

    reason = reason_to_skip()
    if reason is not None:
        return f"no row ({reason})"
    chosen = [name for name in [*names, "matmul"] if wants_mkl_avx512(name, mode)]
    return ", ".join(chosen) if chosen else "no row"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--anchors", type=Path, default=Path(os.environ.get("VID2ACT_ANCHORS", DEFAULT_ANCHORS)),
                        help="the anchor harness folder (speed.py, worker.py, impls.py, vendor/)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--impls", default=DEFAULT_IMPLS)
    parser.add_argument("--updates", type=int, default=6, help="timed updates (rounds) per implementation")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-flops", action="store_true", help="skip the FLOP count")
    parser.add_argument("--mkl-avx512", choices=("shipped", "all", "none"), default="shipped",
                        help="on AMD CPUs, which rows let MKL use its AVX-512 kernels (vid2act_core.mkl_dispatch): "
                             "shipped = this project's rows (as its commands do) and the matmul ceiling, the anchors "
                             "as they ship; all = every row; none = no row")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default: a file in the temp folder)")
    args = parser.parse_args()
    anchors = args.anchors.resolve()
    missing = [name for name in ("speed.py", "worker.py", "impls.py") if not (anchors / name).is_file()]
    if missing:
        sys.exit(f"error: --anchors {anchors}: not the anchor harness (missing {', '.join(missing)})")
    os.environ["VID2ACT_ANCHORS"] = str(anchors)
    os.environ["VID2ACT_BENCH_MKL_AVX512"] = args.mkl_avx512
    if args.mkl_avx512 == "none":
        os.environ["VID2ACT_MKL_AVX512"] = "0"  # this project's own call (anchor_setup) stands down too
    sys.path.insert(0, str(HERE))
    sys.path.insert(1, str(anchors))
    import impls
    import speed

    from anchor_setup import register_builders

    register_builders(impls)
    unknown = [name for name in args.impls.split(",") if name not in impls.BUILDERS]
    if unknown:
        sys.exit(f"error: --impls: unknown {', '.join(unknown)}; choose from {', '.join(impls.BUILDERS)}")

    class Worker(speed.Worker):
        """The harness's worker process, started from anchor_worker.py (this project's builders)."""

        def __init__(self, name: str, threads: int) -> None:
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
            import subprocess

            self.name = name
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "anchor_worker.py"), name, str(threads)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1,
            )

    speed.Worker = Worker
    print(f"# MKL AVX-512 kernels (--mkl-avx512 {args.mkl_avx512}): {describe_mkl_rows(args.mkl_avx512, args.impls.split(','))}")
    out = args.out or Path(tempfile.gettempdir()) / f"compare-anchors-t{args.threads}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    sys.argv = ["speed.py", "--threads", str(args.threads), "--impls", args.impls, "--updates", str(args.updates),
                "--warmup", str(args.warmup), "--out", str(out)] + (["--no-flops"] if args.no_flops else [])
    speed.main()


if __name__ == "__main__":
    main()
