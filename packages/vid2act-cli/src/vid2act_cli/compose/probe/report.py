"""The probe's summary over its finished cells: results.json, a markdown table and PNG figures, per budget.

Per (budget, configuration, order): mean ± standard deviation over seeds (sample std, ddof=1; 0 for
a single seed) of each error, the paired difference of the longest-horizon image error to `none`
with the same seed (negative: distillation predicted better), the final W per teacher (mean over
the last quarter of the updates) and the final diagnostics (`diag/...`, mean over the updates of
the last quarter that reported them). The related teacher is marked with `*`.

Where a distilled configuration stands between `none` and the best control of its budget (the
control with the lowest mean longest-horizon image error among those that use a source: teacher,
init, oracle-*; the trivial mean-image and last-frame predictors only where none of those ran), on
that error's means over seeds:

    to best control = (none - config) / (none - best control)

0 is no better than `none`, 1 as good as the best control, below 0 worse than `none`, above 1 better
than every control; blank when no control beats `none` (the gap would be zero or negative).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from vid2act_core.probe.controls import TRIVIAL_PREDICTORS
from vid2act_core.runtime.fileio import atomic_path, atomic_write_text


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


def budget_key(cell: dict[str, Any]) -> str:
    return cell["budget"]["key"]


def _groups(cells: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        grouped[(budget_key(cell), cell["config"], cell["order"])].append(cell)
    return grouped


def _cost(members: list[dict[str, Any]]) -> dict[str, float]:
    """Mean wall and CPU seconds per cell (training and evaluation together)."""
    return {"wall": float(np.mean([sum(cell["seconds"].values()) for cell in members])),
            "cpu": float(np.mean([sum(cell["cpu_seconds"].values()) for cell in members]))}


def summarise_rows(cells: list[dict[str, Any]], teachers: list[str], horizons: list[int]) -> list[dict[str, Any]]:
    """One row per (budget, configuration, order), in the order the cells first appear."""
    longest = f"image_mse_{max(horizons)}"
    baseline = {(budget_key(cell), cell["seed"]): cell["metrics"][longest] for cell in cells if cell["config"] == "none"}
    rows = []
    for (budget, config, order), members in _groups(cells).items():
        members = sorted(members, key=lambda cell: cell["seed"])
        first = members[0]
        row: dict[str, Any] = {"budget": budget, "config": config, "order": order, "seeds": [cell["seed"] for cell in members],
                               "teacher_order": first["teacher_order"], "control": bool(first.get("control")),
                               "distilled": bool(first["teacher_order"]), "metrics": {}, "weights": {}, "diagnostics": {}}
        for key in first["metrics"]:
            row["metrics"][key] = mean_std([cell["metrics"][key] for cell in members if key in cell["metrics"]])
        paired = [cell["metrics"][longest] - baseline[(budget, cell["seed"])] for cell in members if (budget, cell["seed"]) in baseline]
        row["delta_vs_none"] = mean_std(paired) if paired and config != "none" and not row["control"] else None
        for name in teachers:
            values = [cell["final_weights"][name] for cell in members if name in cell["final_weights"]]
            if values:
                row["weights"][name] = mean_std(values)
        keys = dict.fromkeys(key for cell in members for key in cell.get("final_diagnostics", {}))
        for key in keys:
            row["diagnostics"][key] = mean_std([cell["final_diagnostics"][key] for cell in members if key in cell.get("final_diagnostics", {})])
        row["top_teacher"], row["tie"] = top_teacher(row["weights"])
        row["uniform"] = bool(first.get("uniform"))
        row["cost"] = _cost(members)
        rows.append(row)
    return rows


def summarise(cells: list[dict[str, Any]], teachers: list[str], related: str, horizons: list[int]) -> list[dict[str, Any]]:
    """Per budget (in the order the cells first appear): its rows, the best control and where every
    distilled configuration stands between `none` and it (module docstring), and its cost."""
    longest = f"image_mse_{max(horizons)}"
    rows = summarise_rows(cells, teachers, horizons)
    budgets = []
    for key in dict.fromkeys(budget_key(cell) for cell in cells):
        members = [cell for cell in cells if budget_key(cell) == key]
        budget_rows = [row for row in rows if row["budget"] == key]
        controls = [row for row in budget_rows if row["control"]]
        # The bar is what a source can give; a trivial predictor that wins says the students are underfit.
        controls = [row for row in controls if row["config"] not in TRIVIAL_PREDICTORS] or controls
        plain = next((row for row in budget_rows if row["config"] == "none"), None)
        best = min(controls, key=lambda row: row["metrics"][longest][0]) if controls else None
        gap = plain["metrics"][longest][0] - best["metrics"][longest][0] if plain is not None and best is not None else None
        for row in budget_rows:
            row["gain_vs_none"] = plain["metrics"][longest][0] - row["metrics"][longest][0] if plain is not None and row["distilled"] else None
            row["to_best_control"] = row["gain_vs_none"] / gap if row["gain_vs_none"] is not None and gap is not None and gap > 0 else None
        trained = [cell for cell in members if cell.get("predictor") is None]
        predictors = [cell for cell in members if cell.get("predictor") is not None]
        budgets.append({
            "budget": key, "updates": members[0]["budget"]["updates"], "train_episodes": members[0]["budget"]["train_episodes"],
            "cells": len(members), "best_control": best["config"] if best is not None else None,
            "best_control_gain": gap,
            "cost_per_trained_cell": _cost(trained) if trained else None,
            "cost_per_predictor_cell": _cost(predictors) if predictors else None,
            "cost_total": {"wall": float(sum(sum(cell["seconds"].values()) for cell in members)),
                           "cpu": float(sum(sum(cell["cpu_seconds"].values()) for cell in members))},
            "rows": budget_rows,
        })
    return budgets


def _cell(value: tuple[float, float] | list[float] | None, digits: int = 4) -> str:
    return "" if value is None else f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def _number(value: float | None, form: str) -> str:
    return "" if value is None else format(value, form)


def _diagnostic_keys(budgets: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for budget in budgets for row in budget["rows"] for key in row["diagnostics"]))


def markdown_table(budgets: list[dict[str, Any]], teachers: list[str], related: str, horizons: list[int]) -> str:
    """The tables as GitHub markdown, one section per budget."""
    longest = max(horizons)
    names = [f"W {name}{'*' if name == related else ''}" for name in teachers]
    metric_keys = [f"image_mse_{h}" for h in horizons] + [f"reward_mse_{h}" for h in horizons]
    diagnostics = _diagnostic_keys(budgets)
    header = (["config", "order", "seeds"] + [f"img MSE@{h}" for h in horizons] + [f"reward MSE@{h}" for h in horizons]
              + [f"Δ img@{longest} vs none", f"gain img@{longest} vs none", "to best control"] + names + ["top W"]
              + diagnostics + ["s/cell wall", "s/cell CPU"])
    sections = []
    for budget in budgets:
        lines = [f"### {budget['updates']} updates x {budget['train_episodes']} train episodes (`{budget['budget']}`)", ""]
        if budget["best_control"] is None:
            lines.append("Best control: none run in this budget.")
        else:
            gap = budget["best_control_gain"]
            lines.append(f"Best control: `{budget['best_control']}`, its img MSE@{longest} {abs(gap):.5f} "
                         f"{'lower' if gap > 0 else 'higher' if gap < 0 else 'no lower'} than none's."
                         if gap is not None else f"Best control: `{budget['best_control']}` (no `none` row).")
        cost = [f"{budget['cells']} cells; {budget['cost_total']['wall']:.0f} s wall, {budget['cost_total']['cpu']:.0f} s CPU in all"]
        for label, key in (("trained", "cost_per_trained_cell"), ("predictor", "cost_per_predictor_cell")):
            if budget[key] is not None:
                cost.append(f"per {label} cell {budget[key]['wall']:.1f} s wall, {budget[key]['cpu']:.1f} s CPU")
        lines += ["Cost: " + "; ".join(cost) + ".", ""]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in budget["rows"]:
            top = row["top_teacher"]
            if row["uniform"]:
                top_text = "uniform"
            elif row.get("tie"):
                top_text = f"none (within {TIE_MARGIN})"
            else:
                top_text = "" if top is None else f"{top}{' (related)' if top == related else ''}"
            values = ([row["config"], row["order"], str(len(row["seeds"]))]
                      + [_cell(row["metrics"].get(key)) for key in metric_keys] + [_cell(row["delta_vs_none"])]
                      + [_number(row["gain_vs_none"], "+.5f"), _number(row["to_best_control"], ".2f")]
                      + [_cell(row["weights"].get(name), 2) for name in teachers] + [top_text]
                      + [_cell(row["diagnostics"].get(key)) for key in diagnostics]
                      + [f"{row['cost']['wall']:.1f}", f"{row['cost']['cpu']:.1f}"])
            lines.append("| " + " | ".join(values) + " |")
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def _pyplot() -> Any:
    matplotlib.use("Agg")
    # why: pyplot only after use("Agg"), at the first figure: importing this module must not load pyplot into a caller's session.
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    _pyplot().close(figure)


def plot_errors(budgets: list[dict[str, Any]], horizons: list[int], path: Path) -> None:
    """Bars, one row of panels per budget: each error per configuration, given and rotated order side by side,
    ± std over seeds; last panel: the paired difference of the longest-horizon image error to `none`
    (below 0: distillation helped)."""
    plt = _pyplot()
    keys = [f"image_mse_{h}" for h in horizons] + [f"reward_mse_{max(horizons)}", "delta_vs_none"]
    figure, axes = plt.subplots(len(budgets), len(keys), figsize=(4.5 * len(keys), 4 * len(budgets)), squeeze=False)
    for panels, budget in zip(axes, budgets):
        rows = budget["rows"]
        configs = list(dict.fromkeys(row["config"] for row in rows))
        for axis, key in zip(panels, keys):
            for offset, order in ((-0.2, "given"), (0.2, "rotated")):
                chosen = [(configs.index(row["config"]), row["delta_vs_none"] if key == "delta_vs_none" else row["metrics"][key])
                          for row in rows if row["order"] == order
                          and (row["delta_vs_none"] is not None if key == "delta_vs_none" else key in row["metrics"])]
                if chosen:
                    positions = [index + offset for index, _ in chosen]
                    axis.bar(positions, [m for _, (m, _) in chosen], 0.4, yerr=[s for _, (_, s) in chosen], capsize=3, label=order)
            axis.set_xticks(range(len(configs)), configs, rotation=45, ha="right", fontsize=7)
            title = f"image mse {max(horizons)} minus none (paired)" if key == "delta_vs_none" else key.replace("_", " ")
            axis.set_title(f"{budget['budget']}: {title}", fontsize=9)
            axis.axhline(0.0, color="black", linewidth=0.8)
        if panels[0].get_legend_handles_labels()[0]:
            panels[0].legend()
    figure.tight_layout()
    _save(figure, path)


def _curves(cells: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(budget, config) -> its cells, over the trained cells only."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        if cell.get("predictor") is None:
            grouped[(budget_key(cell), cell["config"])].append(cell)
    return grouped


def plot_weights(cells: list[dict[str, Any]], teachers: list[str], related: str, path: Path) -> bool:
    """W over training per teacher (mean over seeds ± std), one panel per (budget, configuration) with 2+ teachers.

    Solid lines: given order; dashed: rotated. Returns False (no file) when no configuration has 2+ teachers.
    """
    plt = _pyplot()
    grouped = _groups([cell for cell in cells if len(cell["teacher_order"]) > 1 and cell["weight_curve"]["updates"]])
    panels = list(dict.fromkeys((budget, config) for budget, config, _ in grouped))
    if not panels:
        return False
    colours = {name: f"C{index}" for index, name in enumerate(teachers)}
    budgets = list(dict.fromkeys(budget for budget, _ in panels))
    columns = max(sum(1 for b, _ in panels if b == budget) for budget in budgets)
    figure, axes = plt.subplots(len(budgets), columns, figsize=(4.5 * columns, 3.5 * len(budgets)), squeeze=False)
    used = set()
    for budget_index, budget in enumerate(budgets):
        for column, (_, config) in enumerate(panel for panel in panels if panel[0] == budget):
            axis = axes[budget_index][column]
            used.add((budget_index, column))
            for order, style in (("given", "-"), ("rotated", "--")):
                members = grouped.get((budget, config, order), [])
                if not members:
                    continue
                updates = members[0]["weight_curve"]["updates"]
                for name in members[0]["teacher_order"]:
                    curves = np.asarray([[row[name] for row in cell["weight_curve"]["weights"]] for cell in members])
                    mean, std = curves.mean(0), curves.std(0)
                    label = f"{name}{'*' if name == related else ''} ({order})"
                    axis.plot(updates, mean, style, color=colours[name], label=label)
                    axis.fill_between(updates, mean - std, mean + std, color=colours[name], alpha=0.15)
            axis.set_title(f"{budget}: {config}", fontsize=9)
            axis.set_xlabel("update")
            axis.set_ylabel("W")
            axis.set_ylim(0, 1)
            axis.legend(fontsize=7)
    for budget_index in range(len(budgets)):
        for column in range(columns):
            if (budget_index, column) not in used:
                axes[budget_index][column].set_visible(False)
    figure.tight_layout()
    _save(figure, path)
    return True


def plot_diagnostics(cells: list[dict[str, Any]], path: Path) -> bool:
    """Each diagnostic over training (mean over seeds and orders), one row of panels per budget, one line per
    configuration. Returns False (no file) when no cell recorded diagnostics."""
    grouped = _curves(cells)
    keys = list(dict.fromkeys(key for members in grouped.values() for cell in members
                              for values in cell.get("diagnostics", {}).get("values", []) for key in values))
    if not keys:
        return False
    plt = _pyplot()
    budgets = list(dict.fromkeys(budget for budget, _ in grouped))
    figure, axes = plt.subplots(len(budgets), len(keys), figsize=(4.5 * len(keys), 3.5 * len(budgets)), squeeze=False)
    for panels, budget in zip(axes, budgets):
        for axis, key in zip(panels, keys):
            for (budget_of, config), members in grouped.items():
                if budget_of != budget:
                    continue
                by_update: dict[int, list[float]] = defaultdict(list)
                for cell in members:
                    record = cell.get("diagnostics", {"updates": [], "values": []})
                    for update, values in zip(record["updates"], record["values"]):
                        if key in values:
                            by_update[update].append(values[key])
                if by_update:
                    updates = sorted(by_update)
                    axis.plot(updates, [float(np.mean(by_update[u])) for u in updates], label=config)
            axis.set_title(f"{budget}: {key}", fontsize=9)
            axis.set_xlabel("update")
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=6)
    figure.tight_layout()
    _save(figure, path)
    return True


def write_summary(
    out: Path, cells: list[dict[str, Any]], teachers: list[str], related: str, horizons: list[int]
) -> tuple[Path, list[Path], str]:
    """results.json, table.md, errors.png, weights.png, diagnostics.png in `out`; returns (table, plots, table text)."""
    budgets = summarise(cells, teachers, related, horizons)
    text = markdown_table(budgets, teachers, related, horizons)
    summary = {"teachers": teachers, "related": related, "horizons": list(horizons), "budgets": budgets}
    atomic_write_text(out / "results.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "table.md", text)
    plots = [out / "errors.png"]
    plot_errors(budgets, horizons, plots[0])
    if plot_weights(cells, teachers, related, out / "weights.png"):
        plots.append(out / "weights.png")
    if plot_diagnostics(cells, out / "diagnostics.png"):
        plots.append(out / "diagnostics.png")
    return out / "table.md", plots, text
