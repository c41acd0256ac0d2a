"""Experiment grids as job lists: expand, print for a scheduler, or run in order (resumable).

- `jobs`: `Job` (a `vid2act` argv, its done file, the jobs it needs), `Scale`, `ExperimentSettings`;
- `paper`: the paper's grids `paper-metaworld` and `paper-dmc` (teachers, APV's video model, runs);
- `grid`: `GridSpec`, your own targets x methods x seeds (`vid2act experiment grid`);
- `method_argv`: a method's transfer options, from its entry in `vid2act_core.methods`;
- `video_model`: the stage that pretrains APV's action-free model;
- `expand`: `expand_experiment(name, ...)`.

The launchers that run jobs (side by side on this machine, or on Slurm) live in `vid2act_cli.compose.launch`.
"""

from vid2act_cli.experiments.expand import EXPERIMENTS, expand_experiment
from vid2act_cli.experiments.grid import GridSpec, custom_grid
from vid2act_cli.experiments.jobs import HOME_ENV, ExperimentSettings, Job, Scale, default_root
from vid2act_cli.experiments.paper import (
    DMC_SOURCES, DMC_TARGETS, INIT_SOURCE, METAWORLD_ABLATION_TARGETS, METAWORLD_SOURCES, METAWORLD_TARGETS,
    paper_dmc, paper_metaworld,
)
from vid2act_cli.experiments.video_model import VIDEO_MODEL_KIND, video_model_job

__all__ = [
    "DMC_SOURCES", "DMC_TARGETS", "EXPERIMENTS", "ExperimentSettings", "GridSpec", "HOME_ENV",
    "INIT_SOURCE", "Job", "METAWORLD_ABLATION_TARGETS", "METAWORLD_SOURCES",
    "METAWORLD_TARGETS", "Scale", "VIDEO_MODEL_KIND", "custom_grid", "default_root", "expand_experiment",
    "paper_dmc", "paper_metaworld", "video_model_job",
]
