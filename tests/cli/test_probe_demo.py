"""The demo's tiny probe: valid commands, an incomplete target collection redone, an honest label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from episode_fakes import make_attrs, make_episode
from vid2act_envs.dataset import EpisodeWriter

from vid2act_cli.app import app
from vid2act_cli.compose import demo
from vid2act_cli.compose.demo import plan_demo


def options_of(argv: tuple[str, ...]) -> tuple[set[str], list[str]]:
    command = typer.main.get_command(app).commands[argv[0]]  # type: ignore[attr-defined]
    declared = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    return declared, [token for token in argv[1:] if token.startswith("--")]


def test_demo_plans_a_target_collection_then_a_probe_in_its_own_registry(tmp_path: Path) -> None:
    plan = plan_demo(tmp_path / "demo", device="cpu")
    collect, probe = plan.probe_jobs
    for job in (collect, probe):
        declared, used = options_of(job.argv)
        assert set(used) <= declared, f"{job.argv}: unknown options {set(used) - declared}"
        assert job.env == {"VID2ACT_HOME": str((tmp_path / "demo" / "home").absolute())}
    data = demo.target_data(plan.out, "button-press")
    assert collect.done_file == data and probe.argv[probe.argv.index("--target-data") + 1] == str(data)
    assert probe.argv[probe.argv.index("--teachers") + 1] == "button_press_topdown,drawer_close"
    assert probe.argv[probe.argv.index("--related") + 1] == "button_press_topdown"
    assert probe.done_file == plan.out / "probe" / "table.md"


def test_an_interrupted_target_collection_is_removed_and_a_complete_one_kept(tmp_path: Path) -> None:
    path = tmp_path / "target.h5"
    rng = np.random.default_rng(0)
    with EpisodeWriter(path, make_attrs()) as writer:
        for _ in range(demo.PROBE_TRAIN_EPISODES + demo.PROBE_HELD_OUT_EPISODES - 1):
            writer.write_episode(make_episode(rng, 5))
    assert demo.drop_incomplete_target(path) and not path.exists()
    with EpisodeWriter(path, make_attrs()) as writer:
        for _ in range(demo.PROBE_TRAIN_EPISODES + demo.PROBE_HELD_OUT_EPISODES):
            writer.write_episode(make_episode(rng, 5))
    assert not demo.drop_incomplete_target(path) and path.exists()


def test_the_demo_probe_is_labelled_and_its_verdict_follows_the_numbers(tmp_path: Path) -> None:
    def row(config: str, error: float, delta: list[float] | None, weights: dict) -> dict:
        return {"config": config, "order": "given", "seeds": [0, 1], "metrics": {"image_mse_15": [0.05, 0.0], "image_mse_45": [error, 0.001]},
                "delta_vs_none": delta, "weights": weights}

    (tmp_path / "probe").mkdir()
    rows = [row("none", 0.030, None, {}), row("all-prediction_error", 0.034, [0.004, 0.002], {"a": [0.7, 0.1], "b": [0.3, 0.1]})]
    rows.append({**row("mean-image", 0.05, None, {}), "control": True, "seeds": [0]})
    (tmp_path / "probe" / "results.json").write_text(json.dumps({"budgets": [{"budget": "u40-e2", "rows": rows}]}))
    lines = demo.describe_probe(tmp_path, 60, "button-press", "metaworld-button")
    assert "NOT EVIDENCE" in lines[0] and "teachers pretrained 60 steps" in lines[0]
    assert "without distillation 0.0300, with distillation 0.0340 (higher with distillation; paired difference +0.0040" in lines[1]
    assert "a 0.70, b 0.30; controls that train nothing: mean-image 0.0500" in lines[1] and lines[2].endswith("vid2act probe --pair metaworld-button")


def test_demo_jobs_wait_only_for_what_they_use_and_fill_the_cores(tmp_path: Path) -> None:
    from vid2act_cli.compose.launch.executors import cpu_count
    from vid2act_cli.compose.launch.local import default_slots
    from vid2act_cli.compose.launch.submit import plan_launch

    plan = plan_demo(tmp_path / "demo", device="cpu", probe_jobs=2)
    plan_launch("demo", plan.jobs, tmp_path / "demo")  # unique labels, every need an earlier job
    teachers, (vid2act, dreamer), (evaluate_vid2act, evaluate_dreamer) = (jobs for _, jobs in plan.stages)
    collect, probe = plan.probe_jobs
    labels = tuple(job.label for job in teachers)
    assert vid2act.needs == labels and dreamer.needs == () and collect.needs == ()
    assert evaluate_vid2act.needs == (vid2act.label,) and evaluate_dreamer.needs == (dreamer.label,)
    assert probe.needs == (*labels, collect.label) and probe.argv[probe.argv.index("--jobs") + 1] == "2"
    assert default_slots(plan.jobs) == min(cpu_count(), 4)
