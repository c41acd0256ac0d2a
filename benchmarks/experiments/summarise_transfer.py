"""Summarise a transfer run against its --no-distill baseline: task weights, model loss, returns.

    uv run python benchmarks/experiments/summarise_transfer.py runs/selection/walker_run-vid2act-0 \
        runs/selection/walker_run-dreamer-0 --out docs/selection_walker_run.png

Prints (1) the mean task weight of each teacher over training and at the end, with the share of
acting steps that selected each, (2) the student's world-model loss (image + reward terms) of both
runs at fixed update counts, (3) their evaluation returns; writes a two-panel PNG (weights over
environment steps; model loss against updates).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read(run_dir: Path) -> list[dict]:
    rows = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def loss_at_updates(rows: list[dict], checkpoints: list[int]) -> dict[int, float]:
    """Image + reward loss logged at the first log interval reaching each update count."""
    logged = [(row["charts/updates"], row["losses/image_loss"] + row.get("losses/reward_loss", 0.0))
              for row in rows if "charts/updates" in row and "losses/image_loss" in row]
    result = {}
    for target in checkpoints:
        reached = [loss for updates, loss in logged if updates >= target]
        if reached:
            result[target] = reached[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transfer_run", type=Path)
    parser.add_argument("baseline_run", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    transfer_rows, baseline_rows = read(args.transfer_run), read(args.baseline_run)
    weight_keys = sorted({key for row in transfer_rows for key in row if key.startswith("losses/weight/")})
    teachers = [key.split("/")[-1] for key in weight_keys]
    weight_rows = [row for row in transfer_rows if weight_keys and weight_keys[0] in row]
    print("teacher        mean weight   last-quarter weight   acting share (last quarter)")
    tail = weight_rows[-max(1, len(weight_rows) // 4):]
    selected_rows = [row for row in transfer_rows if f"charts/selected/{teachers[0]}" in row] if teachers else []
    selected_tail = selected_rows[-max(1, len(selected_rows) // 4):]
    for teacher, key in zip(teachers, weight_keys):
        mean_all = sum(row[key] for row in weight_rows) / len(weight_rows)
        mean_tail = sum(row[key] for row in tail) / len(tail)
        share = (sum(row[f"charts/selected/{teacher}"] for row in selected_tail) / len(selected_tail)) if selected_tail else float("nan")
        print(f"{teacher:<14} {mean_all:>11.3f} {mean_tail:>21.3f} {share:>29.3f}")

    checkpoints = [100, 200, 400, 600, 800, 1000, 1500, 2000]
    transfer_loss, baseline_loss = loss_at_updates(transfer_rows, checkpoints), loss_at_updates(baseline_rows, checkpoints)
    print("\nupdates   model loss (image + reward): vid2act   no-distill")
    for target in checkpoints:
        if target in transfer_loss and target in baseline_loss:
            print(f"{target:>7} {transfer_loss[target]:>38.2f} {baseline_loss[target]:>12.2f}")
    print("\nenv steps   eval return (deterministic): vid2act   no-distill")
    transfer_eval = {row["step"]: row["eval/return_deterministic"] for row in transfer_rows if "eval/return_deterministic" in row}
    baseline_eval = {row["step"]: row["eval/return_deterministic"] for row in baseline_rows if "eval/return_deterministic" in row}
    for step in sorted(set(transfer_eval) | set(baseline_eval)):
        left = f"{transfer_eval[step]:.1f}" if step in transfer_eval else "-"
        right = f"{baseline_eval[step]:.1f}" if step in baseline_eval else "-"
        print(f"{step:>9} {left:>40} {right:>12}")

    figure, (weights_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for teacher, key in zip(teachers, weight_keys):
        weights_axis.plot([row["step"] for row in weight_rows], [row[key] for row in weight_rows], label=teacher)
    weights_axis.set_xlabel("environment steps")
    weights_axis.set_ylabel("mean task weight W (Eq. 3)")
    weights_axis.set_ylim(0, 1)
    weights_axis.set_title(f"teacher weights, target {args.transfer_run.name}")
    weights_axis.legend()
    weights_axis.grid(alpha=0.3)
    for label, rows in (("vid2act", transfer_rows), ("no-distill", baseline_rows)):
        logged = [(row["charts/updates"], row["losses/image_loss"] + row.get("losses/reward_loss", 0.0))
                  for row in rows if "charts/updates" in row and "losses/image_loss" in row]
        loss_axis.plot([u for u, _ in logged], [loss for _, loss in logged], label=label)
    loss_axis.set_xlabel("updates")
    loss_axis.set_ylabel("image + reward loss")
    loss_axis.set_yscale("log")
    loss_axis.set_title("student world-model loss")
    loss_axis.legend()
    loss_axis.grid(alpha=0.3)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
