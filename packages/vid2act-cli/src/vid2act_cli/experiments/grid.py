"""`vid2act experiment grid`: a grid of your own, targets x methods x seeds, for trials and tests.

Teachers come from your registry (`--teachers`); APV's action-free model is a registered one
(`--video-model NAME`) or one the grid pretrains first on dataset files you name (`--video-model
NAME --video-data FILE,...`, a `video-model` job the APV runs need). Every run uses the grid's
preset (default `small`), the action-free model too, so APV's two parts share their sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vid2act_core.methods import all_methods, find_method, get_method, method_names
from vid2act_core.naming import slugify

from vid2act_cli.experiments.jobs import HOME_ENV, ExperimentSettings, Job
from vid2act_cli.experiments.method_argv import method_argv
from vid2act_cli.experiments.video_model import video_model_job, video_model_label

GRID_PRESET = "small"
"""The grid's preset when `--preset` is not given."""


@dataclass(frozen=True)
class GridSpec:
    """A grid of your own: every target x method x seed, teachers taken from your registry."""

    targets: tuple[str, ...]
    methods: tuple[str, ...]
    steps: int
    teachers: tuple[str, ...] = ()
    """Registered teacher names for the distilling methods; `init` starts from the first one."""
    home: Path | None = None
    """The registry the runs read (recorded in each job's environment); None: the jobs inherit VID2ACT_HOME."""
    video_model: str | None = None
    """apv: the action-free model its runs fine-tune; with `video_data`, the name the grid pretrains it under."""
    video_data: tuple[str, ...] = ()
    """apv: dataset files (any tasks) the grid's video-model job pretrains on; empty: `video_model` is registered already."""
    video_steps: int | None = None
    """Gradient steps of the video-model job (None: the preset's `pretrain.steps`)."""

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("grid: --targets is empty; name at least one target task")
        unknown = [method for method in self.methods if find_method(method) is None]
        if unknown or not self.methods:
            raise ValueError(f"grid: --methods {','.join(self.methods) or '(empty)'}: choose from {', '.join(method_names())}")
        video = [method for method in self.methods if get_method(method).needs_video_model]
        if self.steps < 1:
            raise ValueError(f"grid: --steps must be >= 1, got {self.steps}")
        if video and not self.video_model:
            raise ValueError(f"grid: --methods {','.join(video)} needs --video-model NAME: a registered action-free model "
                             "(vid2act pretrain --action-free), or the name to pretrain one under with --video-data FILE,...")
        if not video and (self.video_model or self.video_data or self.video_steps is not None):
            raise ValueError("grid: --video-model, --video-data and --video-steps belong to --methods "
                             + ",".join(method.name for method in all_methods() if method.needs_video_model))
        if self.video_steps is not None and (self.video_steps < 1 or not self.video_data):
            raise ValueError(f"grid: --video-steps {self.video_steps}: expected >= 1, with --video-data (it sizes the grid's pretraining)")
        needing = [method for method in self.methods if get_method(method).needs_teachers]
        if not self.teachers and needing:
            raise ValueError("grid: --teachers is required for the methods " + ", ".join(needing))


def custom_grid(settings: ExperimentSettings, spec: GridSpec) -> list[Job]:
    """[the video-model job,] then `spec.targets` x `spec.methods` x seeds transfer runs under `settings.root/runs/`."""
    # why: vid2act_teachers.registry loads torch, and every launched job's controller imports this package.
    from vid2act_teachers.registry import vid2act_home

    env = {HOME_ENV: str(spec.home)} if spec.home is not None else {}
    preset = settings.preset or GRID_PRESET
    jobs = []
    apv_needs: tuple[str, ...] = ()
    if spec.video_data and spec.video_model:
        home = spec.home if spec.home is not None else vid2act_home()
        data = [Path(path).absolute() for path in spec.video_data]
        jobs.append(video_model_job(spec.video_model, data, home, preset, settings.device, spec.video_steps,
                                    home_env=spec.home is not None))
        apv_needs = (video_model_label(spec.video_model),)
    for target in spec.targets:
        for seed in settings.seed_range:
            for method in spec.methods:
                logdir = settings.root / "runs" / f"{slugify(target)}-{method}-{seed}"
                argv = ["transfer", "--target", target, "--preset", preset, "--seed", str(seed),
                        "--steps", str(spec.steps), "--device", settings.device, "--logdir", str(logdir)]
                entry = get_method(method)
                argv += method_argv(entry, ",".join(spec.teachers), spec.teachers[0] if spec.teachers else "",
                                    str(spec.video_model))
                needs = apv_needs if entry.needs_video_model else ()
                jobs.append(Job("transfer", f"transfer {target} {method} seed {seed}", tuple(argv), logdir / "DONE",
                                spec.steps, env=env, needs=needs))
    return jobs
