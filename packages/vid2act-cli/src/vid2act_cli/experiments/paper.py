"""The paper's grids (sections 5.1-5.3, and REFERENCES.md) as job lists.

- `paper-metaworld`: 6 source teachers (10 scripted expert episodes each, 200k pretraining steps),
  APV's action-free model on their videos, 6 targets x {vid2act, dreamer, init, apv, isodream} x 3
  seeds at 300k env steps (Fig. 3), plus the ablations {uniform, noguide} on button-press and
  drawer-open (Fig. 4).
- `paper-dmc`: SAC state experts on the 4 sources (`vid2act experts train`, each task's default
  budget, docs/experts.md; cached in the grid's home) -> 50 rendered episodes each -> 4 teachers (200k
  steps) and the action-free model; 2 quadruped targets x the same 5 methods x 3 seeds at 400k steps
  (Fig. 6). The paper's experts are not specified beyond "expert data"; state experts reach expert
  returns without rendering (DESIGN.md, Experts).

The `init` baseline (DreamerV2 initialised from pretrained weights; the paper pretrains its
DreamerV2 on the offline data) takes the one source teacher closest to the target (`INIT_SOURCE`),
since `--init-from` takes one teacher's world model. APV's action-free model is pretrained on the
frames of all the sources' datasets (the same files the teachers are pretrained on, for as many
steps), with APV's published pretraining settings (`apv-video`); its runs use APV's published
fine-tuning block (`apv-metaworld`, `apv-dmc`). With `--preset P` every job, these included, uses P
instead (the action-free model and the APV runs must share their sizes). Iso-Dream is trained from
scratch at the paper preset's sizes (docs/baselines.md).
"""

from __future__ import annotations

from typing import Callable

from vid2act_core.methods import get_method, paper_methods

from vid2act_cli.experiments.jobs import (
    HOME_ENV, ExperimentSettings, Job, pretrain_overrides, schedule_overrides, teacher_name,
)
from vid2act_cli.experiments.method_argv import method_argv
from vid2act_cli.experiments.video_model import PAPER_VIDEO_MODEL, video_model_job, video_model_label

METAWORLD_SOURCES = ("button-press-topdown", "door-open", "drawer-close", "peg-insert-side", "pick-place", "push")
METAWORLD_TARGETS = ("button-press", "coffee-push", "drawer-open", "door-lock", "window-open", "door-close")
METAWORLD_ABLATION_TARGETS = ("button-press", "drawer-open")
DMC_SOURCES = ("cheetah_run", "hopper_stand", "walker_walk", "walker_run")
DMC_TARGETS = ("quadruped_walk", "quadruped_run")

INIT_SOURCE: dict[str, str] = {
    "button-press": "button-press-topdown",
    "coffee-push": "push",
    "drawer-open": "drawer-close",
    "door-lock": "door-open",
    "window-open": "push",
    "door-close": "door-open",
    "quadruped_walk": "walker_walk",
    "quadruped_run": "walker_run",
}
"""The source whose teacher initialises the `init` baseline for each target (the closest task)."""

APV_PRESET = {"paper-metaworld": "paper-metaworld,apv-metaworld", "paper-dmc": "paper-dmc,apv-dmc"}
"""APV runs' preset per paper preset (APV's published fine-tuning settings stacked on it)."""
VIDEO_PRESET = {"paper-metaworld": "paper-metaworld,apv-video", "paper-dmc": "paper-dmc,apv-video"}
"""The action-free model's preset per paper preset (APV's published pretraining settings)."""


def _video_model(settings: ExperimentSettings, paper_preset: str, sources: tuple[str, ...], steps: int) -> Job:
    names = [teacher_name(source) for source in sources]
    return video_model_job(
        PAPER_VIDEO_MODEL, [settings.home / "datasets" / f"{name}.h5" for name in names], settings.home,
        settings.preset or VIDEO_PRESET[paper_preset], settings.device, steps,
        needs=tuple(f"teacher {name}" for name in names), extra=pretrain_overrides(settings.scale),
    )


def _transfer_jobs(
    settings: ExperimentSettings, paper_preset: str, domain_prefix: str, targets: tuple[str, ...], sources: tuple[str, ...],
    steps: int, methods_for: Callable[[str], tuple[str, ...]], schedule: list[str],
) -> list[Job]:
    teachers = ",".join(teacher_name(source) for source in sources)
    teacher_labels = tuple(f"teacher {teacher_name(source)}" for source in sources)
    env = {HOME_ENV: str(settings.home)}
    jobs = []
    for target in targets:
        for seed in settings.seed_range:
            for method in methods_for(target):
                logdir = settings.root / "runs" / f"{target}-{method}-{seed}"
                preset = settings.preset or (APV_PRESET[paper_preset] if method == "apv" else paper_preset)
                argv = ["transfer", "--target", f"{domain_prefix}{target}", "--preset", preset, "--seed", str(seed),
                        "--steps", str(steps), "--device", settings.device, "--logdir", str(logdir)]
                entry = get_method(method)
                init_teacher = teacher_name(INIT_SOURCE[target])
                argv += method_argv(entry, teachers, init_teacher, PAPER_VIDEO_MODEL)
                needs: tuple[str, ...] = {"teachers": teacher_labels, "init-teacher": (f"teacher {init_teacher}",),
                                          "video-model": (video_model_label(PAPER_VIDEO_MODEL),), "none": ()}[entry.source]
                argv += schedule
                jobs.append(Job("transfer", f"transfer {target} {method} seed {seed}", tuple(argv),
                                logdir / "DONE", steps, env=env, needs=needs))
    return jobs


def paper_metaworld(settings: ExperimentSettings) -> list[Job]:
    """Meta-World (paper 5.2): 6 teachers and the action-free model, then 6 targets x methods x seeds, plus the Fig. 4 ablations."""
    scale = settings.scale
    preset = settings.preset or "paper-metaworld"
    env = {HOME_ENV: str(settings.home)}
    episodes = scale.of(10, 2)
    pretrain_steps = scale.of(200_000, 100)
    jobs = []
    for source in METAWORLD_SOURCES:
        name = teacher_name(source)
        argv = ["teachers", "add", f"metaworld:{source}", "--name", name, "--episodes", str(episodes),
                "--steps", str(pretrain_steps), "--preset", preset, "--device", settings.device, *pretrain_overrides(scale)]
        jobs.append(Job("teacher", f"teacher {name}", tuple(argv), settings.home / "teachers" / name / "config.json", env=env))
    jobs.append(_video_model(settings, "paper-metaworld", METAWORLD_SOURCES, pretrain_steps))
    steps = scale.of(300_000, 1_000)
    schedule = schedule_overrides(scale, 500, 5_000, 6_000)

    def methods_for(target: str) -> tuple[str, ...]:
        return paper_methods("main") + (paper_methods("ablation") if target in METAWORLD_ABLATION_TARGETS else ())

    jobs += _transfer_jobs(settings, "paper-metaworld", "metaworld:", METAWORLD_TARGETS, METAWORLD_SOURCES, steps, methods_for, schedule)
    return jobs


def paper_dmc(settings: ExperimentSettings) -> list[Job]:
    """DeepMind Control (paper 5.3): 4 SAC state experts -> 4 teachers and the action-free model, then 2 quadruped targets x methods x seeds."""
    # Imported here: vid2act_teachers.experts loads torch, and every launched job's controller imports this package.
    from vid2act_teachers.experts.config import default_steps as default_expert_steps

    scale = settings.scale
    preset = settings.preset or "paper-dmc"
    env = {HOME_ENV: str(settings.home)}
    episodes = scale.of(50, 2)
    pretrain_steps = scale.of(200_000, 100)
    jobs = []
    for source in DMC_SOURCES:
        expert_steps = scale.of(default_expert_steps(source), 2_000)
        argv = ["experts", "train", source, "--steps", str(expert_steps), "--seed", "0"]
        jobs.append(Job("expert", f"expert {source}", tuple(argv), settings.home / "experts" / source / "expert.json", env=env))
    for source in DMC_SOURCES:
        name = teacher_name(source)
        argv = ["teachers", "add", source, "--name", name, "--expert", "state", "--episodes", str(episodes),
                "--steps", str(pretrain_steps), "--preset", preset, "--device", settings.device, *pretrain_overrides(scale)]
        jobs.append(Job("teacher", f"teacher {name}", tuple(argv), settings.home / "teachers" / name / "config.json", env=env,
                        needs=(f"expert {source}",)))
    jobs.append(_video_model(settings, "paper-dmc", DMC_SOURCES, pretrain_steps))
    steps = scale.of(400_000, 2_000)
    schedule = schedule_overrides(scale, 1_000, 2_500, 10_000)
    jobs += _transfer_jobs(settings, "paper-dmc", "", DMC_TARGETS, DMC_SOURCES, steps, lambda target: paper_methods("main"), schedule)
    return jobs
