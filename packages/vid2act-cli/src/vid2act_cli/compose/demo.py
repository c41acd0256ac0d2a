"""`vid2act demo`: the whole pipeline, small, on the CPU, its independent jobs side by side.

Stages, each a list of ordinary `vid2act` commands run as subprocesses (each skipped when finished
and resumed when interrupted), the independent ones side by side (`--jobs`, default all cores):

1. teachers: for 2 Meta-World sources, `vid2act teachers add` collects 2 scripted expert episodes
   (shortened to the preset's `env.episode_steps`) and pretrains a small teacher on them, into the demo's own
   registry `<out>/home` (never the user's `VID2ACT_HOME`);
2. transfer: the Meta-World target with Vid2Act (once both teachers are done) and with `--no-distill`
   (DreamerV2, which needs no teacher), a short budget;
3. evaluate: `vid2act evaluate` on each final checkpoint, once its transfer is done;
4. probe: a tiny dynamics-transfer probe (`plan_probe_jobs`, `describe_probe` below): students trained offline on a few
   expert episodes of the target with and without distillation, their held-out prediction errors
   printed with a label that says how small it is;
5. report: `vid2act report` into `<out>/report/`.

The jobs go through the experiment launcher's local path (`compose/launch/local.py`): each job's output
in `<out>/logs/`, one console line per job when it starts and when it finishes, a failing job named in
one line after the others finish, `cores // jobs` threads per job.

Every job runs with the preset stack `small,cpu-demo`: the `small` networks with the `cpu-demo`
block's budgets (shorter episodes, smaller batches, fewer updates): far too short to learn the task; the demo shows the pipeline and its
outputs, not the paper's numbers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from vid2act_core.config import preset as build_preset
from vid2act_envs.dataset import DatasetError, open_dataset

from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.teacher_add import default_teacher_name
from vid2act_cli.experiments import HOME_ENV, Job
from vid2act_cli.report import build_report

SOURCES = ("button-press-topdown", "drawer-close")
TARGET = "button-press"
PRESET = "small,cpu-demo"
"""The `small` networks with the `cpu-demo` block's budgets (vid2act_core.presets)."""
SOURCE_EPISODES = 2
EVAL_EPISODES = 2


# ----- the demo's tiny probe ------------------------------------------------------------------

# The demo's tiny dynamics-transfer probe: does distilling from the demo's teachers change the student's predictions?
#
# Two jobs beside the demo's transfer runs: collect a few scripted-expert episodes of the demo's target
# (half train the students, half are held out), then `vid2act probe` with students trained without
# distillation and with both teachers (learned W with the preset's scorer and distillation form, as
# `vid2act transfer` would), 2 seeds, the given teacher order, one budget, and the two controls that train
# nothing (mean image, last frame: they cost no updates).
# Its result is printed with a label that says how small it is; the full probe is `vid2act probe --pair ...`.

PROBE_TRAIN_EPISODES = 2
PROBE_HELD_OUT_EPISODES = 2
PROBE_UPDATES = 40
PROBE_BATCH_LENGTH = 24
PROBE_SEEDS = 2
PROBE_COLLECT_SEED = 100
"""Seed of the target episodes (the transfer runs use seed 0)."""
PROBE_CONTROLS = ("mean-image", "last-frame")
"""The demo's controls: the ones that train nothing."""


def target_data(out: Path, target: str) -> Path:
    return out / "data" / f"{target}.h5"


def probe_dir(out: Path) -> Path:
    return out / "probe"


def plan_probe_jobs(
    out: Path, target: str, teachers: list[str], related: str, preset: str, episode_steps: int | None, device: str,
    env: dict[str, str], teacher_jobs: tuple[str, ...] = (), jobs: int = 1,
) -> list[Job]:
    """Collect the target episodes (`episode_steps`: the time limit, None: the task's), then the tiny probe (done
    when its table is written, started once the target episodes and the jobs labelled `teacher_jobs` are done),
    its cells `jobs` side by side."""
    data = target_data(out, target)
    transfer = build_preset(preset).transfer
    episodes = PROBE_TRAIN_EPISODES + PROBE_HELD_OUT_EPISODES
    collect = Job("probe", f"probe data: {episodes} expert episodes of {target}",
                  ("collect", f"metaworld:{target}", "--episodes", str(episodes),
                   *(("--episode-steps", str(episode_steps)) if episode_steps is not None else ()),
                   "--seed", str(PROBE_COLLECT_SEED), "--out", str(data)), data, env=env)
    probe = Job("probe", f"tiny probe: students with and without distillation, {PROBE_SEEDS} seeds x {PROBE_UPDATES} updates",
                ("probe", "--target-data", str(data), "--teachers", ",".join(teachers), "--related", related,
                 "--configs", "none,all", "--scorers", transfer.scorer, "--forms", transfer.distill_form,
                 "--controls", ",".join(PROBE_CONTROLS), "--orders", "given", "--seeds", str(PROBE_SEEDS),
                 "--updates", str(PROBE_UPDATES), "--batch-length", str(PROBE_BATCH_LENGTH),
                 "--train-episodes", str(PROBE_TRAIN_EPISODES), "--eval-episodes", str(PROBE_HELD_OUT_EPISODES),
                 "--preset", preset, "--device", device, "--out", str(probe_dir(out)), "--jobs", str(jobs)),
                probe_dir(out) / "table.md", env=env, needs=(*teacher_jobs, collect.label))
    return [collect, probe]


def drop_incomplete_target(path: Path) -> bool:
    """Remove the target dataset when an interrupted collection left fewer episodes than the probe needs."""
    if not path.exists():
        return False
    try:
        with open_dataset(path) as dataset:
            complete = len(dataset) >= PROBE_TRAIN_EPISODES + PROBE_HELD_OUT_EPISODES
    except DatasetError:
        complete = False
    if not complete:
        path.unlink()
    return not complete


def describe_probe(out: Path, pretrain_steps: int, target: str, pair: str) -> list[str]:
    """The tiny probe's result, labelled with its size and what it can and cannot say."""
    directory = probe_dir(out)
    budget = json.loads((directory / "results.json").read_text())["budgets"][0]
    rows = {(row["config"], row["order"]): row for row in budget["rows"]}
    plain = rows[("none", "given")]
    distilled = next(row for (config, order), row in rows.items() if config.startswith("all-") and order == "given")
    longest = max(int(key.rsplit("_", 1)[1]) for key in plain["metrics"] if key.startswith("image_mse_"))
    key = f"image_mse_{longest}"
    delta, spread = distilled["delta_vs_none"]
    verdict = "lower" if delta < 0 else "higher" if delta > 0 else "the same"
    weights = ", ".join(f"{name} {value[0]:.2f}" for name, value in distilled["weights"].items())
    controls = ", ".join(f"{row['config']} {row['metrics'][key][0]:.4f}" for row in budget["rows"] if row.get("control"))
    return [
        f"Tiny dynamics-transfer probe (DEMO SIZE, NOT EVIDENCE: teachers pretrained {pretrain_steps} steps, students "
        f"{PROBE_UPDATES} updates on {PROBE_TRAIN_EPISODES} expert episodes of {target}, {len(plain['seeds'])} seeds):",
        f"  open-loop image error over {longest} predicted steps on {PROBE_HELD_OUT_EPISODES} held-out episodes: "
        f"without distillation {plain['metrics'][key][0]:.4f}, with distillation {distilled['metrics'][key][0]:.4f} "
        f"({verdict} with distillation; paired difference {delta:+.4f} ± {spread:.4f}); final W: {weights}"
        + (f"; controls that train nothing: {controls}" if controls else ""),
        f"  full table: {directory / 'table.md'}; the real probe (trained teachers, all configurations, 3 seeds): "
        f"vid2act probe --pair {pair}",
    ]


# ----- the demo's plan and run ----------------------------------------------------------------


@dataclass
class DemoPlan:
    """The demo's stages as jobs, and where they write."""

    out: Path
    stages: list[tuple[str, list[Job]]]
    run_dirs: list[Path]
    probe_jobs: list[Job] = field(default_factory=list)
    """The tiny probe's jobs (target episodes, `vid2act probe`)."""

    @property
    def report_dir(self) -> Path:
        """Where the report goes."""
        return self.out / "report"

    @property
    def jobs(self) -> list[Job]:
        """Every job in the order a free slot takes them: the longest chain (teachers, Vid2Act's transfer, its
        evaluation) first, so the jobs that need nothing fill the slots while it waits."""
        teachers, transfers, evaluations = (jobs for _, jobs in self.stages)
        return [*teachers, *transfers, *evaluations, *self.probe_jobs]


def plan_demo(out: Path, device: str = "cpu", probe_jobs: int = 1) -> DemoPlan:
    """Every job of the demo in `out` (absolute paths, the demo's own VID2ACT_HOME); `probe_jobs`: the probe's
    cells side by side."""
    budgets = build_preset(PRESET)
    pretrain_steps, transfer_steps = budgets.pretrain.steps, budgets.train.steps
    out = Path(out).absolute()
    home = out / "home"
    env = {HOME_ENV: str(home)}
    teacher_jobs = []
    for source in SOURCES:
        name = default_teacher_name(source)
        argv = ["teachers", "add", f"metaworld:{source}", "--name", name, "--episodes", str(SOURCE_EPISODES),
                "--preset", PRESET, "--device", device]
        teacher_jobs.append(Job("teacher", f"teacher {name}: collect {SOURCE_EPISODES} expert episodes, pretrain {pretrain_steps} steps",
                                tuple(argv), home / "teachers" / name / "config.json", env=env))
    transfer_jobs, evaluate_jobs, run_dirs = [], [], []
    teachers = ",".join(default_teacher_name(source) for source in SOURCES)
    teacher_labels = tuple(job.label for job in teacher_jobs)
    for method, flags, needs in (("vid2act", ["--teachers", teachers], teacher_labels), ("dreamer", ["--no-distill"], ())):
        logdir = out / "runs" / f"{TARGET}-{method}-0"
        run_dirs.append(logdir)
        argv = ["transfer", "--target", f"metaworld:{TARGET}", *flags, "--preset", PRESET, "--seed", "0",
                "--device", device, "--logdir", str(logdir)]
        transfer_jobs.append(Job("transfer", f"transfer to {TARGET}: {method}, {transfer_steps} env steps", tuple(argv),
                                 logdir / "DONE", transfer_steps, env=env, needs=needs))
        evaluate_jobs.append(Job(
            "evaluate", f"evaluate {method}: {EVAL_EPISODES} episodes",
            ("evaluate", str(logdir), "--episodes", str(EVAL_EPISODES), "--deterministic", "--video", "--device", device),
            logdir / "evaluation_deterministic.json", transfer_steps, steps_key="env_steps_trained", env=env,
            needs=(transfer_jobs[-1].label,),
        ))
    stages = [("teachers (collect expert episodes + pretrain)", teacher_jobs), ("transfer", transfer_jobs),
              ("evaluate", evaluate_jobs)]
    names = [default_teacher_name(source) for source in SOURCES]
    probe = plan_probe_jobs(out, TARGET, names, names[0], PRESET, budgets.env.episode_steps, device, env,
                                       teacher_labels, probe_jobs)
    return DemoPlan(out=out, stages=stages, run_dirs=run_dirs, probe_jobs=probe)


def run_demo(out: Path, device: str = "cpu", reporter: Reporter | None = None,
             jobs: int | None = None) -> tuple[Path, list[dict], float]:
    """Run (or continue) the demo, `jobs` side by side (None: all cores, at most as many as can run at once);
    returns the report page, its final-number rows and the wall time.

    `device` is checked here, before any job starts; each job resolves it again.
    """
    # submitit, under the launcher, configures logging when imported (closing the handlers already installed), so
    # `import vid2act_cli.api` leaves it out until jobs are launched.
    from vid2act_cli.compose.launch.local import default_slots, run_jobs

    reporter = plain_if_none(reporter)
    resolve_device(device, reporter)
    started = time.time()
    slots = jobs if jobs is not None else default_slots(plan_demo(out, device).jobs)
    if slots < 1:
        raise ValueError(f"--jobs must be >= 1, got {slots}")
    plan = plan_demo(out, device, probe_jobs=slots)
    reporter.say(f"vid2act demo in {plan.out} (teacher registry {plan.out / 'home'}, each job's output in "
                 f"{plan.out / 'logs'}; interrupt and re-run to continue)")
    drop_incomplete_target(target_data(plan.out, TARGET))
    run_jobs(plan.jobs, plan.out, "demo", slots, reporter, device=device)
    reporter.say("report")
    report = build_report(plan.run_dirs, plan.report_dir)
    for line in describe_probe(plan.out, build_preset(PRESET).pretrain.steps, TARGET, "metaworld-button"):
        reporter.echo(line)
    return report.html, report.rows, time.time() - started
