"""The demo's tiny dynamics-transfer probe: does distilling from the demo's teachers change the student's predictions?

Two jobs beside the demo's transfer runs: collect a few scripted-expert episodes of the demo's target
(half train the students, half are held out), then `vid2act probe` with students trained without
distillation and with both teachers (learned W with the preset's scorer and distillation form, as
`vid2act transfer` would), 2 seeds, the given teacher order, one budget, and the two controls that train
nothing (mean image, last frame: they cost no updates).
Its result is printed with a label that says how small it is; the full probe is `vid2act probe --pair ...`.
"""

from __future__ import annotations

import json
from pathlib import Path

from vid2act_core.config import preset as build_preset

from vid2act_cli.experiments import Job

TRAIN_EPISODES = 2
HELD_OUT_EPISODES = 2
UPDATES = 40
BATCH_LENGTH = 24
SEEDS = 2
COLLECT_SEED = 100
"""Seed of the target episodes (the transfer runs use seed 0)."""
CONTROLS = ("mean-image", "last-frame")
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
    episodes = TRAIN_EPISODES + HELD_OUT_EPISODES
    collect = Job("probe", f"probe data: {episodes} expert episodes of {target}",
                  ("collect", f"metaworld:{target}", "--episodes", str(episodes),
                   *(("--episode-steps", str(episode_steps)) if episode_steps is not None else ()),
                   "--seed", str(COLLECT_SEED), "--out", str(data)), data, env=env)
    probe = Job("probe", f"tiny probe: students with and without distillation, {SEEDS} seeds x {UPDATES} updates",
                ("probe", "--target-data", str(data), "--teachers", ",".join(teachers), "--related", related,
                 "--configs", "none,all", "--scorers", transfer.scorer, "--forms", transfer.distill_form,
                 "--controls", ",".join(CONTROLS), "--orders", "given", "--seeds", str(SEEDS),
                 "--updates", str(UPDATES), "--batch-length", str(BATCH_LENGTH), "--train-episodes", str(TRAIN_EPISODES),
                 "--eval-episodes", str(HELD_OUT_EPISODES), "--preset", preset, "--device", device, "--out", str(probe_dir(out)),
                 "--jobs", str(jobs)),
                probe_dir(out) / "table.md", env=env, needs=(*teacher_jobs, collect.label))
    return [collect, probe]


def drop_incomplete_target(path: Path) -> bool:
    """Remove the target dataset when an interrupted collection left fewer episodes than the probe needs."""
    from vid2act_envs.dataset import DatasetError, open_dataset

    if not path.exists():
        return False
    try:
        with open_dataset(path) as dataset:
            complete = len(dataset) >= TRAIN_EPISODES + HELD_OUT_EPISODES
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
        f"{UPDATES} updates on {TRAIN_EPISODES} expert episodes of {target}, {len(plain['seeds'])} seeds):",
        f"  open-loop image error over {longest} predicted steps on {HELD_OUT_EPISODES} held-out episodes: "
        f"without distillation {plain['metrics'][key][0]:.4f}, with distillation {distilled['metrics'][key][0]:.4f} "
        f"({verdict} with distillation; paired difference {delta:+.4f} ± {spread:.4f}); final W: {weights}"
        + (f"; controls that train nothing: {controls}" if controls else ""),
        f"  full table: {directory / 'table.md'}; the real probe (trained teachers, all configurations, 3 seeds): "
        f"vid2act probe --pair {pair}",
    ]
