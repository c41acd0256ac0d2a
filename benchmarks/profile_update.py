"""Where the time of one paper-dmc training update goes: torch.profiler's top ops by self time.

    uv run python benchmarks/profile_update.py --threads 2
    uv run python benchmarks/profile_update.py --threads 1 --teachers 4 --rows 30

The update is the side-by-side comparison's (`anchor_setup.build_ours`: paper-dmc sizes, horizon 15,
B16 x T50, fp32 CPU, MKL's AVX-512 kernels on AMD as the vid2act commands do). Prints the seconds of
a few timed updates (world model / behaviour split), then the profiler table of one more update.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchor_setup import build_ours  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--teachers", type=int, default=0)
    parser.add_argument("--updates", type=int, default=4, help="timed updates before the profiled one")
    parser.add_argument("--rows", type=int, default=25, help="ops in the table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    update, _ = build_ours(args.teachers)
    for _ in range(2):
        update()  # warm-up
    for _ in range(args.updates):
        started = time.perf_counter()
        parts = update()
        print(f"update {time.perf_counter() - started:.3f} s (world model {parts['wm']:.3f}, behaviour {parts['ac']:.3f})")
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        update()
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
