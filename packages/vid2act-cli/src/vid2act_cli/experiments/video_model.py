"""The video-model stage of an experiment: APV's action-free model, pretrained on source videos.

APV runs (`transfer --method apv --init-from NAME`) fine-tune an action-free model (`vid2act
pretrain --action-free`, registered with kind action-free). An experiment either pretrains one as a
job of its own, on the datasets its teacher jobs collect (paper grids) or on dataset files you name
(`grid --video-data`), or uses a registered one (`grid --video-model NAME` alone); its APV runs
`need` that job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vid2act_core.runtime.fileio import combined_sha256
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.teacher_format import KIND_ACTION_FREE

from vid2act_cli.experiments.jobs import HOME_ENV, Job

VIDEO_MODEL_KIND = "video-model"
"""`Job.kind` of the stage."""
PAPER_VIDEO_MODEL = "videos"
"""The name the paper grids register their action-free model under (in the experiment's own registry)."""


def video_model_label(name: str) -> str:
    """The stage's job label, which the APV runs name in `needs`."""
    return f"{VIDEO_MODEL_KIND} {name}"


def video_model_job(
    name: str, data: Sequence[Path], home: Path, preset: str, device: str, steps: int | None,
    needs: tuple[str, ...] = (), extra: Sequence[str] = (), home_env: bool = True,
) -> Job:
    """`vid2act pretrain --action-free` on the `data` files, registering `name` in `home`.

    Its run directory is `home/pretrain/<name>` (as `teachers add` keeps its pretraining); it is
    done when the registry holds `name`. `steps` None keeps the preset's `pretrain.steps`.
    `home_env`: record `home` as the job's VID2ACT_HOME (False: the job inherits the launcher's,
    which `home` must then be).
    """
    if not data:
        raise ValueError(f"video model {name}: no dataset files to pretrain it on")
    argv = ["pretrain", "--action-free", *(item for path in data for item in ("--data", str(path))), "--name", name,
            "--preset", preset, "--device", device, "--logdir", str(home / "pretrain" / name)]
    if steps is not None:
        argv += ["--steps", str(steps)]
    argv += list(extra)
    return Job(VIDEO_MODEL_KIND, video_model_label(name), tuple(argv), home / "teachers" / name / "config.json",
               env={HOME_ENV: str(home)} if home_env else {}, needs=needs)


def check_video_model(home: Path, name: str, data: Sequence[Path]) -> None:
    """Refuse, in one line, a video model the grid cannot use.

    Without `data`, `name` must be a registered action-free model. With `data`, `name` is what the
    grid's video-model job registers: a model already registered under it (the job is then skipped)
    must be an action-free model pretrained on exactly these files.
    """
    # why: vid2act_teachers.registry loads torch, and every launched job's controller imports this package.
    from vid2act_teachers.registry import TeacherRegistry

    registry = TeacherRegistry(home)
    if not data:
        info = registry.info(name)
        if info.kind != KIND_ACTION_FREE:
            raise ValueError(f"grid: --video-model {name}: is a {info.kind} model, not an action-free one "
                             "(vid2act pretrain --action-free, or give --video-data FILE,... to pretrain one)")
        return
    missing = [str(path) for path in data if not Path(path).is_file()]
    if missing:
        raise ValueError(f"grid: --video-data {missing[0]}: no such file")
    if name not in registry.names():
        return
    info = registry.info(name)
    shas = []
    for path in data:
        with open_dataset(path) as dataset:
            shas.append(dataset.sha256())
    if info.kind != KIND_ACTION_FREE or info.dataset_sha256 != combined_sha256(shas):
        raise ValueError(f"grid: --video-model {name}: already registered ({info.kind} model, other data than --video-data); "
                         "choose another name or drop --video-data to use it")
