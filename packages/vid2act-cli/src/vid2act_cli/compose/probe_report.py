"""The probe's summary over its finished cells: results.json, a markdown table and two PNG figures.

Per (configuration, order): mean ± standard deviation over seeds (sample std, ddof=1; 0 for a
single seed) of each error, the paired difference of the longest-horizon image error to `none`
with the same seed (negative: distillation predicted better), and the final W per teacher (mean
over the last quarter of the updates). The related teacher is marked with `*`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from vid2act_core.fileio import atomic_path, atomic_write_text


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


TIE_MARGIN = 0.01
"""A top W that beats the runner-up by less than this is reported as no clear top (`top_teacher` None, `tie` True)."""


def top_teacher(weights: dict[str, tuple[float, float]]) -> tuple[str | None, bool]:
    """(the teacher with the largest mean W, False), or (None, True) when the runner-up is within TIE_MARGIN,
    or (None, False) with fewer than two teachers."""
    if len(weights) < 2:
        return None, False
    ranked = sorted(weights, key=lambda name: weights[name][0], reverse=True)
    if weights[ranked[0]][0] - weights[ranked[1]][0] < TIE_MARGIN:
        return None, True
    return ranked[0], False


def _groups(cells: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        grouped[(cell["config"], cell["order"])].append(cell)
    return grouped


def summarise(cells: list[dict[str, Any]], teachers: list[str], related: str, horizons: list[int]) -> list[dict[str, Any]]:
    """One row per (configuration, order), in the order the cells first appear."""
    longest = f"image_mse_{max(horizons)}"
    baseline = {cell["seed"]: cell["metrics"][longest] for cell in cells if cell["config"] == "none"}
    rows = []
    for (config, order), members in _groups(cells).items():
        members = sorted(members, key=lambda cell: cell["seed"])
        row: dict[str, Any] = {"config": config, "order": order, "seeds": [cell["seed"] for cell in members],
                               "teacher_order": members[0]["teacher_order"], "metrics": {}, "weights": {}}
        for key in members[0]["metrics"]:
            row["metrics"][key] = mean_std([cell["metrics"][key] for cell in members])
        paired = [cell["metrics"][longest] - baseline[cell["seed"]] for cell in members if cell["seed"] in baseline]
        row["delta_vs_none"] = mean_std(paired) if paired and config != "none" else None
        for name in teachers:
            values = [cell["final_weights"][name] for cell in members if name in cell["final_weights"]]
            if values:
                row["weights"][name] = mean_std(values)
        row["top_teacher"], row["tie"] = top_teacher(row["weights"])
        row["uniform"] = bool(members[0].get("uniform"))
        rows.append(row)
    return rows


def _cell(value: tuple[float, float] | None, digits: int = 4) -> str:
    return "" if value is None else f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def markdown_table(rows: list[dict[str, Any]], teachers: list[str], related: str, horizons: list[int]) -> str:
    """The table as GitHub markdown."""
    names = [f"W {name}{'*' if name == related else ''}" for name in teachers]
    metric_keys = [f"image_mse_{h}" for h in horizons] + [f"reward_mse_{h}" for h in horizons]
    header = (["config", "order", "seeds"] + [f"img MSE@{h}" for h in horizons] + [f"reward MSE@{h}" for h in horizons]
              + [f"Δ img@{max(horizons)} vs none"] + names + ["top W"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        top = row["top_teacher"]
        if row["uniform"]:
            top_text = "uniform"
        elif row.get("tie"):
            top_text = f"none (within {TIE_MARGIN})"
        else:
            top_text = "" if top is None else f"{top}{' (related)' if top == related else ''}"
        values = ([row["config"], row["order"], str(len(row["seeds"]))]
                  + [_cell(row["metrics"].get(key)) for key in metric_keys] + [_cell(row["delta_vs_none"])]
                  + [_cell(row["weights"].get(name), 2) for name in teachers] + [top_text])
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def plot_errors(rows: list[dict[str, Any]], horizons: list[int], path: Path) -> None:
    """Bars: each error per configuration, given and rotated order side by side, ± std over seeds; last
    panel: the paired difference of the longest-horizon image error to `none` (below 0: distillation helped)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [f"image_mse_{h}" for h in horizons] + [f"reward_mse_{max(horizons)}", "delta_vs_none"]
    configs = list(dict.fromkeys(row["config"] for row in rows))
    figure, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 4), squeeze=False)
    for axis, key in zip(axes[0], keys):
        for offset, order in ((-0.2, "given"), (0.2, "rotated")):
            chosen = [(configs.index(row["config"]), row["delta_vs_none"] if key == "delta_vs_none" else row["metrics"][key])
                      for row in rows if row["order"] == order and (key != "delta_vs_none" or row["delta_vs_none"] is not None)]
            if chosen:
                positions = [index + offset for index, _ in chosen]
                axis.bar(positions, [m for _, (m, _) in chosen], 0.4, yerr=[s for _, (_, s) in chosen], capsize=3, label=order)
        axis.set_xticks(range(len(configs)), configs, rotation=45, ha="right")
        axis.set_title(f"image mse {max(horizons)} minus none (paired)" if key == "delta_vs_none" else key.replace("_", " "))
        axis.axhline(0.0, color="black", linewidth=0.8)
    axes[0][0].legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)


def plot_weights(cells: list[dict[str, Any]], teachers: list[str], related: str, path: Path) -> bool:
    """W over training per teacher (mean over seeds ± std), one panel per configuration with 2+ teachers.

    Solid lines: given order; dashed: rotated. Returns False (no file) when no configuration has 2+ teachers.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = _groups([cell for cell in cells if len(cell["teacher_order"]) > 1])
    configs = list(dict.fromkeys(config for config, _ in grouped))
    if not configs:
        return False
    colours = {name: f"C{index}" for index, name in enumerate(teachers)}
    figure, axes = plt.subplots(1, len(configs), figsize=(4.5 * len(configs), 3.5), squeeze=False)
    for axis, config in zip(axes[0], configs):
        for order, style in (("given", "-"), ("rotated", "--")):
            members = grouped.get((config, order), [])
            if not members:
                continue
            updates = members[0]["weight_curve"]["updates"]
            for name in members[0]["teacher_order"]:
                curves = np.asarray([[row[name] for row in cell["weight_curve"]["weights"]] for cell in members])
                mean, std = curves.mean(0), curves.std(0)
                label = f"{name}{'*' if name == related else ''} ({order})"
                axis.plot(updates, mean, style, color=colours[name], label=label)
                axis.fill_between(updates, mean - std, mean + std, color=colours[name], alpha=0.15)
        axis.set_title(config)
        axis.set_xlabel("update")
        axis.set_ylim(0, 1)
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel("W")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
    return True


def write_summary(
    out: Path, cells: list[dict[str, Any]], teachers: list[str], related: str, horizons: list[int]
) -> tuple[Path, list[Path], str]:
    """results.json, table.md, errors.png, weights.png in `out`; returns (table, plots, table text)."""
    rows = summarise(cells, teachers, related, horizons)
    text = markdown_table(rows, teachers, related, horizons)
    atomic_write_text(out / "results.json", json.dumps({"teachers": teachers, "related": related, "rows": rows}, indent=2) + "\n")
    atomic_write_text(out / "table.md", text)
    plots = [out / "errors.png"]
    plot_errors(rows, horizons, plots[0])
    if plot_weights(cells, teachers, related, out / "weights.png"):
        plots.append(out / "weights.png")
    return out / "table.md", plots, text
