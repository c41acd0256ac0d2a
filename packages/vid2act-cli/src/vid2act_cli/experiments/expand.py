"""`expand_experiment`: an experiment's name and options -> its job list, in dependency order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vid2act_cli.experiments.grid import GridSpec, custom_grid
from vid2act_cli.experiments.jobs import ExperimentSettings, Job, Scale, default_root
from vid2act_cli.experiments.paper import paper_dmc, paper_metaworld

EXPERIMENTS = ("paper-metaworld", "paper-dmc", "grid")


def expand_experiment(
    name: str, root: Path | None = None, scale: float = 1.0, seeds: int = 3, device: str = "auto", preset: str | None = None,
    grid: GridSpec | None = None, overrides: tuple[str, ...] = (), first_seed: int = 0,
) -> list[Job]:
    """The jobs of experiment `name`, in dependency order (experts, teachers, the video model, then transfer runs).

    `grid` describes the `grid` experiment (and is refused for the paper's); `overrides` are
    `key=value` settings added to every job as `--set` options.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    if first_seed < 0:
        raise ValueError(f"--first-seed must be >= 0, got {first_seed}")
    if (name == "grid") != (grid is not None):
        raise ValueError("grid: --targets, --methods and --steps are required" if name == "grid"
                         else f"{name}: --targets, --methods, --teachers, --steps and --video-* belong to the grid experiment")
    settings = ExperimentSettings(
        root=Path(root if root is not None else default_root(name, scale)).absolute(),
        scale=Scale(scale), seeds=seeds, first_seed=first_seed, device=device, preset=preset,
    )
    if grid is not None:
        jobs = custom_grid(settings, grid)
    else:
        jobs = paper_metaworld(settings) if name == "paper-metaworld" else paper_dmc(settings)
    extra = tuple(item for override in overrides for item in ("--set", override))
    return [replace(job, argv=job.argv + extra) for job in jobs] if extra else jobs
