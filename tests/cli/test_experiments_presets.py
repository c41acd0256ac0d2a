"""`vid2act experiment`: the paper grids expand to the paper's tasks and methods; `--print` lines are runnable."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from vid2act_teachers.experts.config import default_steps as default_expert_steps
import typer.main
from typer.testing import CliRunner

from vid2act_cli.app import app
from vid2act_cli.compose.launch import JobFailedError, run_jobs
from vid2act_cli.experiments import Job, expand_experiment

PAPER_MW_SOURCES = {"button-press-topdown", "door-open", "drawer-close", "peg-insert-side", "pick-place", "push"}
PAPER_MW_TARGETS = {"button-press", "coffee-push", "drawer-open", "door-lock", "window-open", "door-close"}
PAPER_DMC_SOURCES = {"cheetah_run", "hopper_stand", "walker_walk", "walker_run"}
PAPER_DMC_TARGETS = {"quadruped_walk", "quadruped_run"}


def _option(argv: tuple[str, ...] | list[str], name: str) -> str:
    return argv[list(argv).index(name) + 1]


def _method(argv: tuple[str, ...]) -> str:
    if "--method" in argv:
        return _option(argv, "--method")
    if "--init-from" in argv:
        return "init"
    if "--no-distill" in argv:
        return "dreamer"
    if "--uniform-weights" in argv:
        return "uniform"
    if "--no-guidance" in argv:
        return "noguide"
    return "vid2act"


def _command(argv: list[str]) -> tuple[object, list[str]]:
    """The Typer/Click command an argv names (descending into groups) and the remaining arguments."""
    command = typer.main.get_command(app)
    rest = list(argv)
    while hasattr(command, "commands"):
        assert rest, f"{argv}: names a group, not a command"
        assert rest[0] in command.commands, f"{argv}: {rest[0]!r} is not a vid2act command"
        command, rest = command.commands[rest[0]], rest[1:]
    return command, rest


def _check_options_exist(argv: list[str]) -> None:
    command, rest = _command(argv)
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for token in rest:
        if token.startswith("--"):
            assert token.split("=", 1)[0] in options, f"{argv}: {token} is not an option of `{command.name}`"


def test_paper_metaworld_lists_the_papers_sources_targets_methods_seeds_and_budgets(tmp_path: Path) -> None:
    jobs = expand_experiment("paper-metaworld", root=tmp_path)
    teachers = [job for job in jobs if job.kind == "teacher"]
    transfers = [job for job in jobs if job.kind == "transfer"]
    assert {job.argv[2].removeprefix("metaworld:") for job in teachers} == PAPER_MW_SOURCES
    for job in teachers:
        assert _option(job.argv, "--episodes") == "10" and _option(job.argv, "--steps") == "200000"
        assert _option(job.argv, "--preset") == "paper-metaworld"
    assert {_option(job.argv, "--target").removeprefix("metaworld:") for job in transfers} == PAPER_MW_TARGETS
    combos = {(_option(job.argv, "--target").removeprefix("metaworld:"), _method(job.argv), _option(job.argv, "--seed")) for job in transfers}
    assert len(combos) == len(transfers)  # no duplicates
    for target in PAPER_MW_TARGETS:
        methods = {"vid2act", "dreamer", "init", "apv", "isodream"} | ({"uniform", "noguide"} if target in {"button-press", "drawer-open"} else set())
        assert {(m, s) for t, m, s in combos if t == target} == {(m, str(s)) for m in methods for s in range(3)}
    assert len(transfers) == 6 * 5 * 3 + 2 * 2 * 3
    for job in transfers:
        expected_preset = "paper-metaworld,apv-metaworld" if _method(job.argv) == "apv" else "paper-metaworld"
        assert _option(job.argv, "--steps") == "300000" and _option(job.argv, "--preset") == expected_preset
        assert job.min_env_steps == 300_000 and job.done_file == Path(_option(job.argv, "--logdir")) / "DONE"
        if _method(job.argv) in {"vid2act", "uniform", "noguide"}:
            assert set(_option(job.argv, "--teachers").split(",")) == {s.replace("-", "_") for s in PAPER_MW_SOURCES}
    # Dependency order: every teacher before every transfer run.
    assert max(jobs.index(job) for job in teachers) < min(jobs.index(job) for job in transfers)


def test_paper_dmc_trains_state_experts_then_teachers_then_quadruped_transfers(tmp_path: Path) -> None:
    jobs = expand_experiment("paper-dmc", root=tmp_path)
    kinds = [job.kind for job in jobs]
    assert kinds == ["expert"] * 4 + ["teacher"] * 4 + ["video-model"] + ["transfer"] * (2 * 5 * 3)
    experts, teachers, transfers = jobs[:4], jobs[4:8], jobs[9:]
    assert {job.argv[2] for job in experts} == PAPER_DMC_SOURCES
    for job in experts:  # state experts (SAC), each task's default budget, cached in the grid's home
        assert job.argv[:2] == ("experts", "train") and _option(job.argv, "--steps") == str(default_expert_steps(job.argv[2]))
        assert job.done_file == tmp_path / "home" / "experts" / job.argv[2] / "expert.json"
    for job, expert in zip(teachers, experts):
        assert job.argv[:3] == ("teachers", "add", expert.argv[2]) and job.needs == (f"expert {expert.argv[2]}",)
        assert _option(job.argv, "--expert") == "state" and _option(job.argv, "--episodes") == "50"
    assert {_option(job.argv, "--target") for job in transfers} == PAPER_DMC_TARGETS
    assert {_method(job.argv) for job in transfers} == {"vid2act", "dreamer", "init", "apv", "isodream"}
    assert {_option(job.argv, "--seed") for job in transfers} == {"0", "1", "2"}
    assert all(_option(job.argv, "--steps") == "400000" for job in transfers)
    inits = {_option(job.argv, "--target"): _option(job.argv, "--init-from") for job in transfers if _method(job.argv) == "init"}
    assert inits == {"quadruped_walk": "walker_walk", "quadruped_run": "walker_run"}


@pytest.mark.parametrize("name", ["paper-metaworld", "paper-dmc"])
def test_print_lines_are_runnable_vid2act_commands(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["experiment", name, "--print", "--root", str(tmp_path), "--seeds", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()  # job states go to stderr
    assert len(lines) == len(expand_experiment(name, root=tmp_path, seeds=2))
    for line in lines:
        words = shlex.split(line)
        assert words[0] == f"VID2ACT_HOME={tmp_path.absolute() / 'home'}"
        assert words[1:4] == ["uv", "run", "vid2act"]
        _check_options_exist(words[4:])
        assert str(tmp_path.absolute()) in line  # every output location is explicit


def test_scale_shrinks_budgets_and_schedules_within_sensible_minimums(tmp_path: Path) -> None:
    full = expand_experiment("paper-metaworld", root=tmp_path / "full")
    small = expand_experiment("paper-metaworld", root=tmp_path / "small", scale=0.01)
    assert len(small) == len(full)
    teacher, transfer = small[0], small[-1]
    assert _option(teacher.argv, "--episodes") == "2" and _option(teacher.argv, "--steps") == "2000"
    assert _option(transfer.argv, "--steps") == "3000" and transfer.min_env_steps == 3000
    sets = dict(item.split("=", 1) for item in transfer.argv[transfer.argv.index("--set"):] if "=" in item)
    assert int(sets["train.prefill"]) < 3000 and int(sets["train.eval_every"]) <= 3000
    dmc = expand_experiment("paper-dmc", root=tmp_path / "dmc", scale=0.001)
    assert _option(dmc[0].argv, "--steps") == "2000" and _option(dmc[4].argv, "--episodes") == "2"
    assert expand_experiment("paper-dmc", scale=0.5)[0].done_file.is_relative_to(Path("experiments/paper-dmc-scale0.5").absolute())
    with pytest.raises(ValueError, match="--scale"):
        expand_experiment("paper-dmc", scale=2.0)


def test_unknown_experiment_is_one_line_error() -> None:
    result = CliRunner().invoke(app, ["experiment", "paper-atari", "--print"])
    assert result.exit_code == 2
    assert "paper-atari" in result.output and "paper-metaworld" in result.output


def test_run_skips_finished_jobs_and_names_a_failing_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    finished = tmp_path / "finished" / "DONE"
    finished.parent.mkdir()
    finished.write_text(json.dumps({"env_steps": 500}))
    short = tmp_path / "short" / "DONE"
    short.parent.mkdir()
    short.write_text(json.dumps({"env_steps": 100}))
    done_job = Job("transfer", "done run", ("transfer", "--target", "no-such-task"), finished, 500)
    assert done_job.is_done()
    assert not Job("transfer", "short run", ("transfer",), short, 500).is_done()
    assert run_jobs([done_job], tmp_path / "exp", "t") == 0
    assert "1 done" in capsys.readouterr().err
    failing = Job("transfer", "bad target", ("transfer", "--target", "no-such-task", "--no-distill", "--device", "cpu",
                                            "--logdir", str(tmp_path / "bad")), tmp_path / "bad" / "DONE", 10,
                  env={"OMP_NUM_THREADS": "1"})
    with pytest.raises(JobFailedError, match="bad target"):
        run_jobs([done_job, failing], tmp_path / "exp", "t")
    assert not (tmp_path / "bad").exists()


def test_demo_plan_uses_its_own_registry_and_valid_commands_in_stage_order(tmp_path: Path) -> None:
    from vid2act_cli.compose.demo import plan_demo

    plan = plan_demo(tmp_path / "demo", device="cpu")
    assert [title.split()[0] for title, _ in plan.stages] == ["teachers", "transfer", "evaluate"]
    jobs = [job for _, stage in plan.stages for job in stage]
    for job in jobs:
        assert job.env == {"VID2ACT_HOME": str((tmp_path / "demo" / "home").absolute())}
        _check_options_exist(list(job.argv))
        assert _option(job.argv, "--device") == "cpu"
    teachers, transfers, evaluations = (stage for _, stage in plan.stages)
    assert len(teachers) >= 2 and all(job.argv[2].startswith("metaworld:") for job in teachers)
    assert {_method(job.argv) for job in transfers} == {"vid2act", "dreamer"}
    assert [job.argv[1] for job in evaluations] == [str(path) for path in plan.run_dirs]
    assert [Path(_option(job.argv, "--logdir")) for job in transfers] == plan.run_dirs
    assert plan.report_dir == (tmp_path / "demo" / "report").absolute()
    evaluation = evaluations[0]
    evaluation.done_file.parent.mkdir(parents=True)
    evaluation.done_file.write_text(json.dumps({"env_steps_trained": evaluation.min_env_steps - 1}))
    assert not evaluation.is_done()  # an evaluation of an older checkpoint is redone
    evaluation.done_file.write_text(json.dumps({"env_steps_trained": evaluation.min_env_steps}))
    assert evaluation.is_done()


def test_first_seed_adds_seeds_beside_finished_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["experiment", "grid", "--print", "--root", str(tmp_path), "--targets", "walker_stand",
                                      "--methods", "dreamer,vid2act", "--teachers", "walker_walk", "--steps", "1000",
                                      "--first-seed", "1", "--seeds", "2"])
    assert result.exit_code == 0, result.output
    commands = [shlex.split(line) for line in result.stdout.strip().splitlines()]
    runs = sorted((_option(words, "--seed"), Path(_option(words, "--logdir")).name) for words in commands)
    assert runs == [("1", "walker_stand-dreamer-1"), ("1", "walker_stand-vid2act-1"),
                    ("2", "walker_stand-dreamer-2"), ("2", "walker_stand-vid2act-2")]
    paper = expand_experiment("paper-dmc", root=tmp_path / "paper", seeds=1, first_seed=2)
    assert {_option(job.argv, "--seed") for job in paper if job.argv[0] == "transfer"} == {"2"}
    refused = CliRunner().invoke(app, ["experiment", "paper-dmc", "--print", "--first-seed", "-1"])
    assert refused.exit_code == 2 and "--first-seed must be >= 0, got -1" in refused.output
