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
(`vid2act_core.runtime.mkl_dispatch`); `--mkl-avx512` says which rows do (default: ours and the matmul
ceiling, the anchors as they ship; `all` equalises it). The first line printed says which rows got it.

`--device cuda` puts every row on the GPU: the anchor builders run unchanged with CUDA as torch's
default device while they build and their config's device set to it (`anchor_setup.place_on_device`),
every timed update ends with `torch.cuda.synchronize()`, the ceiling probe's matmul runs on the GPU
and the peak column is `torch.cuda.max_memory_allocated`. fp32 everywhere (torch's defaults: TF32 off
for matmuls, on for cuDNN convolutions, the same in every row's process).

    uv run python benchmarks/compare_anchors.py --device cuda --updates 20 --warmup 3
"""

from __future__ import annotations

import argparse
import json
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
    from vid2act_core.runtime.mkl_dispatch import reason_to_skip

    reason = reason_to_skip()
    if reason is not None:
        return f"no row ({reason})"
    chosen = [name for name in [*names, "matmul"] if wants_mkl_avx512(name, mode)]
    return ", ".join(chosen) if chosen else "no row"


def check_device(device: str) -> str:
    """A description of `device` for the output's first lines; exits with a one-line error if it cannot be used."""
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        sys.exit(f"error: --device {device!r}: not a torch device (cpu, cuda, cuda:1, ...)")
    if parsed.type == "cpu":
        return "cpu (fp32; the table's 'peak RSS' is each worker's resident set)"
    if parsed.type != "cuda":
        sys.exit(f"error: --device {device}: only cpu and cuda are supported")
    if not torch.cuda.is_available():
        sys.exit(f"error: --device {device}: CUDA is not available (torch {torch.__version__}); use --device cpu")
    return (f"{device} ({torch.cuda.get_device_name(parsed)}, CUDA {torch.version.cuda}; fp32, TF32 off for matmuls; "
            "the table's 'peak RSS' column is torch.cuda.max_memory_allocated, the matmul ceiling is the GPU's)")


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
                        help="on AMD CPUs, which rows let MKL use its AVX-512 kernels (vid2act_core.runtime.mkl_dispatch): "
                             "shipped = this project's rows (as its commands do) and the matmul ceiling, the anchors "
                             "as they ship; all = every row; none = no row")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]: where every row runs")
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default: a file in the temp folder)")
    args = parser.parse_args()
    device_line = check_device(args.device)
    anchors = args.anchors.resolve()
    missing = [name for name in ("speed.py", "worker.py", "impls.py") if not (anchors / name).is_file()]
    if missing:
        sys.exit(f"error: --anchors {anchors}: not the anchor harness (missing {', '.join(missing)})")
    os.environ["VID2ACT_ANCHORS"] = str(anchors)
    os.environ["VID2ACT_BENCH_MKL_AVX512"] = args.mkl_avx512
    os.environ["VID2ACT_BENCH_DEVICE"] = args.device
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
    print(f"# device: {device_line}")
    print(f"# MKL AVX-512 kernels (--mkl-avx512 {args.mkl_avx512}): {describe_mkl_rows(args.mkl_avx512, args.impls.split(','))}")
    out = args.out or Path(tempfile.gettempdir()) / f"compare-anchors-t{args.threads}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    sys.argv = ["speed.py", "--threads", str(args.threads), "--impls", args.impls, "--updates", str(args.updates),
                "--warmup", str(args.warmup), "--out", str(out)] + (["--no-flops"] if args.no_flops else [])
    speed.main()
    for line in scorer_row_costs(json.loads(out.read_text())["results"]):
        print(line)


def scorer_row_costs(results: dict[str, dict]) -> list[str]:
    """`cost of teachers` lines for the rows the harness does not pair itself (ours-t6-paper, ...) against `ours`."""
    if "ours" not in results or "median_s" not in results["ours"]:
        return []
    base = results["ours"]["median_s"]
    return [
        f"cost of teachers, {name} / ours: {result['median_s'] / base:.2f}x the time"
        for name, result in results.items()
        if name.startswith("ours-t") and name.count("-") >= 2 and "median_s" in result
    ]


if __name__ == "__main__":
    main()
