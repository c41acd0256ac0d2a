"""Which scorers pass the discriminating selection test (issue 11), for every scorer and f_distill kind.

    uv run python benchmarks/selection_scorers.py                 # 3 seeds x 3 positions, 40 updates
    uv run python benchmarks/selection_scorers.py --updates 100

The setup is tests/selection_world.py (three tiny teachers pretrained once, exactly one of them on the
target's dynamics; see its docstring); tests/core/test_method_selection.py runs the default scorer only.
A configuration passes when the related teacher has the top mean W (last 10 updates) in every
(seed, position) cell. Prints one line per cell and a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from selection_world import RELATED, pretrain_teachers, rotations, student_weights  # noqa: E402

CONFIGURATIONS = [
    ("prediction_error", "shared"),
    ("paper", "shared"),
    ("similarity", "shared"),
    ("similarity", "per_teacher"),
    ("mlp", "shared"),
    ("mlp", "per_teacher"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=40, help="student world-model updates per cell")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--teacher-steps", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    teachers = pretrain_teachers(args.teacher_steps)
    print(f"teachers pretrained in {time.time() - started:.0f} s", flush=True)
    rows = []
    for scorer, heads in CONFIGURATIONS:
        wins, related_weights = 0, []
        cells = 0
        for seed in range(args.seeds):
            for order in rotations():
                weights = student_weights(teachers, order, scorer, heads, seed, args.updates)
                top = max(weights, key=weights.get)
                wins += top == RELATED
                cells += 1
                related_weights.append(weights[RELATED])
                shown = ", ".join(f"{name} {value:.2f}" for name, value in weights.items())
                print(f"{scorer:16s} {heads:11s} seed {seed} position {order.index(RELATED)}: {shown} -> {top}", flush=True)
        rows.append((scorer, heads, wins, cells, min(related_weights), sum(related_weights) / cells))
    print(f"\n| scorer | f_distill | related teacher on top | its W (min, mean) | passes |\n|---|---|---|---|---|")
    for scorer, heads, wins, cells, low, mean in rows:
        print(f"| `{scorer}` | `{heads}` | {wins} of {cells} | {low:.2f}, {mean:.2f} | {'yes' if wins == cells else 'no'} |")
    print(f"\n{time.time() - started:.0f} s in all")


if __name__ == "__main__":
    main()
