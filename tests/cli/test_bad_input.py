"""Bad input found by trying it: non-positive counts, a corrupt replay episode on resume, mixed runs in a report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from episode_fakes import make_episode
from vid2act_cli.app import app
from vid2act_cli.compose.validation import check_config_counts, require_count
from vid2act_cli.report.grouping import describe_groups
from vid2act_cli.report.runs import RunData, group_runs, method_style
from vid2act_core.presets import PRESETS
from vid2act_envs.replay import CORRUPT_DIR_NAME, QUARANTINE_DIR_NAME, Replay


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args, env={"COLUMNS": "200"})


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["train", "--task", "cartpole_balance", "--preset", "tiny", "--steps", "-5"], "--steps"),
        (["transfer", "--target", "cartpole_balance", "--preset", "tiny", "--no-distill", "--steps", "0"], "--steps"),
        (["train", "--task", "cartpole_balance", "--preset", "tiny", "--set", "train.batch_size=0"], "train.batch_size"),
        (["transfer", "--target", "cartpole_balance", "--preset", "tiny", "--no-distill", "--set", "train.batch_length=-1"],
         "train.batch_length"),
        (["evaluate", "somewhere", "--episodes", "0"], "--episodes"),
        (["experiment", "grid", "--seeds", "0", "--print"], "--seeds"),
        (["teachers", "add", "metaworld:door-open", "--preset", "tiny", "--episodes", "-2"], "--episodes"),
        (["teachers", "add", "metaworld:door-open", "--preset", "tiny", "--set", "train.batch_size=-3"], "train.batch_size"),
        (["pretrain", "--data", "x.h5", "--name", "x", "--preset", "tiny", "--set", "pretrain.log_every=0"], "pretrain.log_every"),
        (["pretrain", "--data", "x.h5", "--name", "x", "--preset", "tiny", "--steps", "0"], "--steps"),
        (["teachers", "add", "metaworld:door-open", "--preset", "tiny", "--steps", "-1"], "--steps"),
    ],
)
def test_non_positive_counts_are_refused_with_one_line(args: list[str], option: str, tmp_path: Path) -> None:
    logdir = tmp_path / "run"
    if args[0] in ("train", "transfer", "pretrain"):
        args = [*args, "--logdir", str(logdir)]
    result = _invoke(args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and option in line
    assert "Traceback" not in result.output and not logdir.exists()


def test_every_preset_passes_and_zero_is_allowed_only_where_it_means_off() -> None:
    for name, make in PRESETS.items():
        check_config_counts(make())
    config = PRESETS["tiny"]()
    config.train.prefill, config.train.eval_episodes, config.train.video_every = 0, 0, 0
    check_config_counts(config)
    config.train.steps = 0
    with pytest.raises(ValueError, match=r"^train\.steps must be >= 1, got 0"):
        check_config_counts(config)
    assert require_count(None, "--steps") is None and require_count(3, "--steps") == 3
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="--jobs must be an integer >= 1"):
            require_count(bad, "--jobs")  # type: ignore[arg-type]


def test_corrupt_replay_episode_is_quarantined_on_resume(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    replay = Replay(tmp_path)
    for length in (5, 6, 7):
        replay.add_episode(make_episode(rng, length))
    files = sorted(tmp_path.glob("ep-*.npz"))
    assert len(files) == 3
    damaged = files[1]
    damaged.write_bytes(damaged.read_bytes()[:40])  # a truncated zip: np.load raises BadZipFile
    original = damaged.read_bytes()

    with caplog.at_level(logging.WARNING, logger="vid2act.replay"):
        resumed = Replay(tmp_path)
    assert resumed.num_episodes == 2 and resumed.num_steps == 5 + 7
    moved = tmp_path / QUARANTINE_DIR_NAME / CORRUPT_DIR_NAME / damaged.name
    assert resumed.corrupt_files == [moved] and moved.read_bytes() == original and not damaged.exists()
    [record] = [r for r in caplog.records if r.name == "vid2act.replay"]
    message = record.getMessage()
    assert damaged.name in message and "BadZipFile" in message and str(moved) in message and "\n" not in message
    # The next episode continues the sequence after the quarantined one's, and the replay samples.
    stored = resumed.add_episode(make_episode(rng, 4))
    assert stored["image"].shape[0] == 4
    assert sorted(path.name for path in tmp_path.glob("ep-*.npz"))[-1].startswith("ep-00000003-")
    assert resumed.sample(2, 3, np.random.default_rng(1))["image"].shape[:2] == (2, 3)


def _run(task: str, method: str, seed: int, teachers: list[str], steps: int = 100) -> RunData:
    configuration = {"env.task": task, "train.steps": steps, "teachers": ",".join(teachers) or "-", "init_from": "-"}
    return RunData(path=Path(f"/runs/{task}-{method}-{seed}-{'_'.join(teachers)}-{steps}"), task=task, method=method,
                   seed=seed, teachers=teachers, records=[], done=True, configuration=configuration)


def test_report_groups_runs_by_full_configuration_and_says_so() -> None:
    runs = [
        _run("dmc:walker_run", "vid2act", 0, ["a", "b"]),
        _run("dmc:walker_run", "vid2act", 1, ["a", "b"]),
        _run("dmc:walker_run", "vid2act", 0, ["c"]),
        _run("dmc:walker_run", "dreamer", 0, []),
        _run("dmc:walker_run", "dreamer", 1, [], steps=200),
        _run("dmc:cheetah_run", "vid2act", 0, ["a", "b"]),
    ]
    groups = group_runs(runs)
    assert {key: [run.seed for run in group] for key, group in groups.items()} == {
        ("dmc:walker_run", "vid2act [teachers=a,b]"): [0, 1],
        ("dmc:walker_run", "vid2act [teachers=c]"): [0],
        ("dmc:walker_run", "dreamer [train.steps=100]"): [0],
        ("dmc:walker_run", "dreamer [train.steps=200]"): [1],
        ("dmc:cheetah_run", "vid2act"): [0],
    }
    lines = describe_groups(groups)
    assert "grouped 2 run(s) as dmc:walker_run vid2act [teachers=a,b]: seeds 0, 1" in lines and len(lines) == 5
    assert method_style("vid2act [teachers=c]") == ("Vid2Act [teachers=c]", "tab:red")
