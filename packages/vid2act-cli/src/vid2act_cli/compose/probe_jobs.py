"""The probe's cells side by side (`vid2act probe --jobs N`): its unfinished cells dealt into N shards, each a
`vid2act probe ... --cells <ids>` job run by the experiment launcher's local path (`compose/launch/local.py`),
so they share the cores, log to `OUT/logs/`, and a re-run resumes them like any other job."""

from __future__ import annotations

from pathlib import Path

from vid2act_cli.compose.probe_plan import ProbeCell, cell_path
from vid2act_cli.experiments import Job


def deal_cells(cells: list[ProbeCell], shards: int) -> list[list[ProbeCell]]:
    """Cells into at most `shards` non-empty lists of about equal updates (controls cost none), each in grid order."""
    loads = [[0, index, []] for index in range(min(shards, len(cells)))]
    for cell in sorted(cells, key=lambda cell: -cell.budget.updates * cell.variant.trained):
        lightest = min(loads, key=lambda load: (load[0], len(load[2]), load[1]))
        lightest[0] += cell.budget.updates * cell.variant.trained + 1
        lightest[2].append(cell)
    order = {cell.id: position for position, cell in enumerate(cells)}
    return [sorted(load[2], key=lambda cell: order[cell.id]) for load in loads]


def plan_cell_jobs(out: Path, cells: list[ProbeCell], shards: int, command: tuple[str, ...]) -> list[Job]:
    """One job per shard; a shard is done when its last cell's result exists (a shard runs its cells in order)."""
    dealt = deal_cells(cells, shards)
    return [Job("probe", f"probe cells {index}/{len(dealt)} ({len(part)} cells)",
                ("probe", *command, "--cells", ",".join(cell.id for cell in part), "--no-progress"),
                cell_path(out, part[-1]))
            for index, part in enumerate(dealt, 1)]
