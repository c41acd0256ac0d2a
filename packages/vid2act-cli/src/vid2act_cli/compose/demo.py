"""`vid2act demo`: the whole pipeline, small, on the CPU, in about ten minutes on 2 cores.

Stages, each a list of ordinary `vid2act` commands run as subprocesses (so every stage shows the
command's own progress, and each is skipped when finished and resumed when interrupted):

1. teachers: for 2 Meta-World sources, `vid2act teachers add` collects 2 scripted expert episodes
   (shortened to `EPISODE_STEPS`) and pretrains a small teacher on them, into the demo's own
   registry `<out>/home` (never the user's `VID2ACT_HOME`);
2. transfer: the Meta-World target with Vid2Act and with `--no-distill` (DreamerV2), a short budget;
3. evaluate: `vid2act evaluate` on both final checkpoints;
4. report: `vid2act report` into `<out>/report/`.

The budgets use the `small` preset's networks with `--set` overrides (shorter episodes, smaller
batches, fewer updates): far too short to learn the task; the demo shows the pipeline and its
outputs, not the paper's numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.teacher_add import default_teacher_name
from vid2act_cli.experiments import HOME_ENV, Job, run_jobs

SOURCES = ("button-press-topdown", "drawer-close")
TARGET = "button-press"
PRESET = "small"
EPISODE_STEPS = 150
"""Simulator steps per Meta-World episode in the demo (the paper: 500)."""
SOURCE_EPISODES = 2
PRETRAIN_STEPS = 60
TRANSFER_STEPS = 900
EVAL_EPISODES = 2

COMMON_OVERRIDES = (
    f"env.episode_steps={EPISODE_STEPS}",
    "train.batch_size=8",
    "train.batch_length=24",
    "train.threads=1",
)
"""Shared by teachers and students. One torch thread: on a busy 2-core machine two threads made an
update 20x slower (1.5 s vs 35 s measured), and it costs little on an idle one."""
PRETRAIN_OVERRIDES = ("pretrain.log_every=10", "pretrain.eval_every=30", "pretrain.checkpoint_every=30")
TRANSFER_OVERRIDES = (
    "train.prefill=300",
    "train.pretrain_updates=10",
    "train.train_every=10",
    "train.eval_every=450",
    "train.eval_episodes=1",
    "train.log_every=75",
    "train.checkpoint_every=300",
    "transfer.vae_batch_size=4",
    "transfer.vae_batch_length=16",
)


def _sets(values: tuple[str, ...]) -> list[str]:
    return [item for value in values for item in ("--set", value)]


@dataclass
class DemoPlan:
    """The demo's stages as jobs, and where they write."""

    out: Path
    stages: list[tuple[str, list[Job]]]
    run_dirs: list[Path]

    @property
    def report_dir(self) -> Path:
        """Where the report goes."""
        return self.out / "report"


def plan_demo(out: Path, device: str = "cpu") -> DemoPlan:
    """Every job of the demo in `out` (absolute paths, the demo's own VID2ACT_HOME)."""
    out = Path(out).absolute()
    home = out / "home"
    env = {HOME_ENV: str(home)}
    teacher_jobs = []
    for source in SOURCES:
        name = default_teacher_name(source)
        argv = ["teachers", "add", f"metaworld:{source}", "--name", name, "--episodes", str(SOURCE_EPISODES),
                "--steps", str(PRETRAIN_STEPS), "--preset", PRESET, "--device", device,
                *_sets(COMMON_OVERRIDES + PRETRAIN_OVERRIDES)]
        teacher_jobs.append(Job("teacher", f"teacher {name}: collect {SOURCE_EPISODES} expert episodes, pretrain {PRETRAIN_STEPS} steps",
                                tuple(argv), home / "teachers" / name / "config.json", env=env))
    transfer_jobs, evaluate_jobs, run_dirs = [], [], []
    teachers = ",".join(default_teacher_name(source) for source in SOURCES)
    for method, flags in (("vid2act", ["--teachers", teachers]), ("dreamer", ["--no-distill"])):
        logdir = out / "runs" / f"{TARGET}-{method}-0"
        run_dirs.append(logdir)
        argv = ["transfer", "--target", f"metaworld:{TARGET}", *flags, "--preset", PRESET, "--steps", str(TRANSFER_STEPS),
                "--seed", "0", "--device", device, "--logdir", str(logdir), *_sets(COMMON_OVERRIDES + TRANSFER_OVERRIDES)]
        transfer_jobs.append(Job("transfer", f"transfer to {TARGET}: {method}, {TRANSFER_STEPS} env steps", tuple(argv),
                                 logdir / "DONE", TRANSFER_STEPS, env=env))
        evaluate_jobs.append(Job(
            "evaluate", f"evaluate {method}: {EVAL_EPISODES} episodes",
            ("evaluate", str(logdir), "--episodes", str(EVAL_EPISODES), "--deterministic", "--video", "--device", device),
            logdir / "evaluation_deterministic.json", TRANSFER_STEPS, steps_key="env_steps_trained", env=env,
        ))
    stages = [("teachers (collect expert episodes + pretrain)", teacher_jobs), ("transfer", transfer_jobs),
              ("evaluate", evaluate_jobs)]
    return DemoPlan(out=out, stages=stages, run_dirs=run_dirs)


def run_demo(out: Path, device: str = "cpu", reporter: Reporter | None = None) -> tuple[Path, list[dict], float]:
    """Run (or continue) the demo; returns the report page, its final-number rows and the wall time.

    `device` is checked here, before any stage starts; each job resolves it again.
    """
    from vid2act_cli.report import build_report

    reporter = plain_if_none(reporter)
    resolve_device(device, reporter)
    started = time.time()
    plan = plan_demo(out, device)
    total = len(plan.stages) + 1
    reporter.say(f"vid2act demo in {plan.out} (teacher registry {plan.out / 'home'}; interrupt and re-run to continue)")
    for index, (title, jobs) in enumerate(plan.stages, 1):
        reporter.say(f"\n=== stage {index}/{total}: {title} ===")
        run_jobs(jobs, title=title)
    reporter.say(f"\n=== stage {total}/{total}: report ===")
    report = build_report(plan.run_dirs, plan.report_dir)
    return report.html, report.rows, time.time() - started
