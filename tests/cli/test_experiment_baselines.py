"""APV and Iso-Dream in `vid2act experiment`: the video-model stage, the runs that need it, the grid options."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from pretrain_helpers import write_synthetic_dataset
from registry_fakes import add_teacher
from vid2act_cli.app import app
from vid2act_cli.experiments import GridSpec, expand_experiment
from vid2act_teachers.registry import TeacherRegistry

PAPER_MW_SOURCES = ("button_press_topdown", "door_open", "drawer_close", "peg_insert_side", "pick_place", "push")


def _option(argv: tuple[str, ...] | list[str], name: str) -> str:
    return argv[list(argv).index(name) + 1]


def _options(argv: tuple[str, ...], name: str) -> list[str]:
    return [argv[index + 1] for index, token in enumerate(argv) if token == name]


def _check_options_exist(argv: list[str]) -> None:
    command = typer.main.get_command(app)
    rest = list(argv)
    while hasattr(command, "commands"):
        command, rest = command.commands[rest[0]], rest[1:]
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for token in rest:
        if token.startswith("--"):
            assert token in options, f"{argv}: {token} is not an option of `{command.name}`"


def test_paper_metaworld_pretrains_the_video_model_on_the_sources_then_runs_apv_and_isodream(tmp_path: Path) -> None:
    jobs = expand_experiment("paper-metaworld", root=tmp_path, seeds=1)
    by_label = {job.label: job for job in jobs}
    video = by_label["video-model videos"]
    assert video.kind == "video-model" and video.argv[:2] == ("pretrain", "--action-free")
    home = tmp_path.absolute() / "home"
    assert _options(video.argv, "--data") == [str(home / "datasets" / f"{name}.h5") for name in PAPER_MW_SOURCES]
    assert _option(video.argv, "--preset") == "paper-metaworld,apv-video" and _option(video.argv, "--steps") == "200000"
    assert video.needs == tuple(f"teacher {name}" for name in PAPER_MW_SOURCES)
    assert video.done_file == home / "teachers" / "videos" / "config.json" and video.env == {"VID2ACT_HOME": str(home)}
    order = [job.label for job in jobs]
    assert max(order.index(f"teacher {name}") for name in PAPER_MW_SOURCES) < order.index(video.label)
    for target in ("button-press", "coffee-push", "drawer-open", "door-lock", "window-open", "door-close"):
        apv = by_label[f"transfer {target} apv seed 0"]
        assert (_option(apv.argv, "--method"), _option(apv.argv, "--init-from")) == ("apv", "videos")
        assert _option(apv.argv, "--preset") == "paper-metaworld,apv-metaworld" and apv.needs == (video.label,)
        assert "--teachers" not in apv.argv and order.index(apv.label) > order.index(video.label)
        isodream = by_label[f"transfer {target} isodream seed 0"]
        assert _option(isodream.argv, "--method") == "isodream" and isodream.needs == ()
        assert _option(isodream.argv, "--preset") == "paper-metaworld" and "--init-from" not in isodream.argv
        assert _option(isodream.argv, "--steps") == _option(apv.argv, "--steps") == "300000"


def test_paper_dmc_uses_apvs_dmc_block_and_a_preset_override_reaches_both_apv_parts(tmp_path: Path) -> None:
    jobs = {job.label: job for job in expand_experiment("paper-dmc", root=tmp_path, seeds=1)}
    assert _option(jobs["video-model videos"].argv, "--preset") == "paper-dmc,apv-video"
    assert jobs["video-model videos"].needs == tuple(f"teacher {name}" for name in ("cheetah_run", "hopper_stand", "walker_walk", "walker_run"))
    assert _option(jobs["transfer quadruped_run apv seed 0"].argv, "--preset") == "paper-dmc,apv-dmc"
    small = {job.label: job for job in expand_experiment("paper-dmc", root=tmp_path / "s", seeds=1, scale=0.01, preset="small")}
    assert _option(small["video-model videos"].argv, "--preset") == _option(small["transfer quadruped_walk apv seed 0"].argv, "--preset") == "small"
    assert _option(small["video-model videos"].argv, "--steps") == "2000"  # scaled like the teachers' pretraining
    assert "pretrain.log_every=10" in small["video-model videos"].argv


def test_grid_with_video_data_plans_a_video_model_job_that_only_apv_runs_need(tmp_path: Path) -> None:
    data = [write_synthetic_dataset(tmp_path / "a.h5"), write_synthetic_dataset(tmp_path / "b.h5", seed=1)]
    spec = GridSpec(("cartpole_swingup",), ("dreamer", "apv", "isodream"), 500, home=tmp_path / "home",
                    video_model="vids", video_data=tuple(map(str, data)), video_steps=30)
    jobs = expand_experiment("grid", root=tmp_path / "exp", seeds=2, device="cpu", grid=spec)
    assert [job.kind for job in jobs] == ["video-model"] + ["transfer"] * 6
    video = jobs[0]
    assert _options(video.argv, "--data") == [str(path.absolute()) for path in data]
    assert (_option(video.argv, "--name"), _option(video.argv, "--steps"), _option(video.argv, "--preset")) == ("vids", "30", "small")
    assert video.done_file == tmp_path / "home" / "teachers" / "vids" / "config.json"
    needs = {job.label: job.needs for job in jobs[1:]}
    assert needs["transfer cartpole_swingup apv seed 1"] == ("video-model vids",)
    assert needs["transfer cartpole_swingup dreamer seed 0"] == needs["transfer cartpole_swingup isodream seed 1"] == ()
    without = GridSpec(("cartpole_swingup",), ("apv",), 500, video_model="vids")
    planned = expand_experiment("grid", root=tmp_path / "exp2", seeds=1, grid=without)
    assert [job.kind for job in planned] == ["transfer"] and planned[0].needs == ()
    assert _option(planned[0].argv, "--init-from") == "vids"


def test_grid_dry_run_prints_runnable_lines_video_model_first(tmp_path: Path) -> None:
    data = write_synthetic_dataset(tmp_path / "a.h5")
    result = CliRunner().invoke(app, ["experiment", "grid", "--print", "--root", str(tmp_path / "exp"), "--seeds", "1",
                                      "--targets", "cartpole_swingup", "--methods", "dreamer,apv,isodream", "--steps", "400",
                                      "--video-model", "vids", "--video-data", str(data), "--video-steps", "20"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    words = [shlex.split(line) for line in lines]
    assert words[0][4:6] == ["pretrain", "--action-free"] and "--data" in words[0]
    assert {_option(line, "--method") for line in words[1:] if "--method" in line} == {"apv", "isodream"}
    for line in words:
        _check_options_exist(line[line.index("vid2act") + 1:])


def test_grid_refuses_apv_without_a_usable_video_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--methods apv needs --video-model NAME"):
        GridSpec(("cartpole_swingup",), ("dreamer", "apv"), 100)
    with pytest.raises(ValueError, match="belong to --methods apv"):
        GridSpec(("cartpole_swingup",), ("dreamer",), 100, video_model="vids")
    with pytest.raises(ValueError, match="--video-steps 5: expected >= 1, with --video-data"):
        GridSpec(("cartpole_swingup",), ("apv",), 100, video_model="vids", video_steps=5)
    add_teacher(TeacherRegistry(), "walker", seed=0)
    base = ["experiment", "grid", "--print", "--root", str(tmp_path / "exp"), "--targets", "cartpole_swingup",
            "--methods", "apv", "--steps", "100"]
    for extra, message in (
        (["--video-model", "walker"], "--video-model walker: is a task model, not an action-free one"),
        (["--video-model", "walker", "--video-data", str(tmp_path / "missing.h5")], "missing.h5: no such file"),
        (["--video-model", "walker", "--video-data", str(write_synthetic_dataset(tmp_path / "a.h5"))],
         "--video-model walker: already registered (task model, other data than --video-data)"),
    ):
        result = CliRunner().invoke(app, base + extra)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
