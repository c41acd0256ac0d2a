"""Command paths that other tests never ran: `evaluate` on a transfer run and on an `--init-from` run,
`transfer --init-from` end to end, and `teachers add TASK --policy RUN_DIR` (the DMC grid's experts).

Everything runs in-process on cartpole with the tiny preset and teachers pretrained for 60 steps
(the session fixture `pretrained_teachers`, tests/pretrained_teachers.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner, Result

from pretrained_teachers import TeacherStore

from vid2act_core.runtime.checkpoint import load_checkpoint
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.registry import TeacherRegistry

from vid2act_cli.app import app
from vid2act_cli.compose.agent_expert import load_agent_policy
from vid2act_cli.compose.evaluation import load_run_agent
from vid2act_cli.compose.runs import load_run_config

TARGET = "cartpole_balance"
TINY = ["--preset", "tiny", "--device", "cpu", "--no-progress"]
NO_EVAL = ["--set", "train.eval_every=100000"]
TRANSFER_TEACHERS = ["swingup_src", "balance_src"]


def _vid2act(args: list[str], home: Path) -> Result:
    """`vid2act ARGS` in-process with VID2ACT_HOME=home."""
    return CliRunner().invoke(app, args, env={"VID2ACT_HOME": str(home), "COLUMNS": "200"})


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output[-3000:]
    return result


def _checkpoint(run_dir: Path) -> dict:
    return load_checkpoint(run_dir / "checkpoints" / "latest.pt", "cpu")


def _one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output[-3000:]
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


@pytest.fixture(scope="module")
def home(pretrained_teachers: TeacherStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VID2ACT_HOME holding pretrained teachers: two cartpole ones and a walker (6 actions, the target has 1)."""
    home = tmp_path_factory.mktemp("paths_home")
    pretrained_teachers.install(home, {"swingup_src": "cartpole_swingup", "balance_src": "cartpole_balance",
                                       "walker_src": "walker_walk"})
    return home


# ----- transfer --init-from, and evaluate on it ------------------------------------------------------


@pytest.fixture(scope="module")
def init_run(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An --init-from walker_src run: 40 env steps (all prefill: no update yet), then extended to 100 (updates)."""
    root = tmp_path_factory.mktemp("init_run")
    run_dir = root / "init"
    command = ["transfer", "--target", TARGET, "--init-from", "walker_src", *TINY, *NO_EVAL, "--logdir", str(run_dir)]
    first = _ok(_vid2act(command + ["--steps", "40"], home))
    step_zero = root / "step0.pt"
    shutil.copy(run_dir / "checkpoints" / "latest.pt", step_zero)
    extended = _ok(_vid2act(command + ["--steps", "100"], home))
    return {"run_dir": run_dir, "step0": load_checkpoint(step_zero, "cpu"), "first": first, "extended": extended}


def test_init_from_starts_the_student_from_the_teachers_weights_and_says_what_it_skipped(home: Path, init_run: dict) -> None:
    teacher, _, _ = TeacherRegistry(home).load("walker_src")
    teacher_state = teacher.state_dict()
    step0 = init_run["step0"]
    assert step0["loop"]["updates"] == 0 and step0["loop"]["env_steps"] == 40
    student = {key.removeprefix("world_model."): value for key, value in step0["agent"]["model"].items()
               if key.startswith("world_model.")}
    action_input = "rssm.img_in_action.weight"
    copied = [key for key in student if key in teacher_state and key != action_input]
    assert any(key.startswith("encoder.") for key in copied) and sum(key.startswith("rssm.") for key in copied) >= 5
    for key in copied:
        assert torch.equal(student[key], teacher_state[key]), key
    # The walker teacher takes 6 actions, the cartpole student 1: the first column is copied.
    assert teacher_state[action_input].shape[1] == 6 and student[action_input].shape[1] == 1
    assert torch.equal(student[action_input], teacher_state[action_input][:, :1])
    skipped = [key for key in student if key not in teacher_state]
    assert skipped and all(key.startswith("reward_head.") for key in skipped)

    output = init_run["first"].output
    line = next(line for line in output.splitlines() if line.startswith("initialised "))
    assert line.startswith(f"initialised {len(copied) + 1} of {len(student)} world-model tensors from teacher 'walker_src'")
    assert f"{len(skipped)} not in the teacher, left fresh (reward_head ({len(skipped)} tensors))" in line
    assert "the teacher takes 6 actions, the student 1: the action input copies the first 1 columns" in line

    _, info = load_run_config(init_run["run_dir"])
    assert info["method"] == "init" and info["init_from"] == "walker_src" and info["teachers"] == []
    assert set(info["teacher_sha256"]) == {"walker_src"}


def test_an_extended_init_from_run_trains_on_from_its_checkpoint(init_run: dict) -> None:
    assert "resuming" in init_run["extended"].output
    final = _checkpoint(init_run["run_dir"])
    assert final["loop"]["env_steps"] == 100 and final["loop"]["updates"] > 0
    before, after = init_run["step0"]["agent"]["model"], final["agent"]["model"]
    assert not torch.equal(before["world_model.encoder.net.0.weight"], after["world_model.encoder.net.0.weight"])


def test_evaluate_an_init_from_run_without_its_teacher_in_the_registry(init_run: dict, tmp_path: Path) -> None:
    run_dir = init_run["run_dir"]
    empty_home = tmp_path / "empty_home"  # the student is self-contained once trained: no teacher is read
    result = _ok(_vid2act(["evaluate", str(run_dir), "--episodes", "1", "--device", "cpu"], empty_home))
    assert f"{TARGET} (init, 100 env steps, deterministic)" in result.output
    evaluation = json.loads((run_dir / "evaluation_deterministic.json").read_text())
    assert evaluation["method"] == "init" and evaluation["env_steps_trained"] == 100 and evaluation["episodes"] == 1
    assert np.isfinite(evaluation["return_mean"]) and "selected_share" not in evaluation
    again = _ok(_vid2act(["evaluate", str(run_dir), "--episodes", "1", "--device", "cpu"], empty_home))
    assert again.output.splitlines()[0] == result.output.splitlines()[0]  # same seed, same episode, same return
    agent, _, _, payload = load_run_agent(run_dir, torch.device("cpu"))
    for key, value in agent.state_dict().items():
        assert torch.equal(value, payload["agent"]["model"][key]), key


# ----- evaluate on a transfer run ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def transfer_run(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("transfer_run") / "vid2act"
    _ok(_vid2act(["transfer", "--target", TARGET, "--teachers", ",".join(TRANSFER_TEACHERS), "--steps", "100", *TINY,
                  *NO_EVAL, "--logdir", str(run_dir)], home))
    return run_dir


def test_evaluate_a_transfer_run_acts_with_its_teachers(home: Path, transfer_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _ok(_vid2act(["evaluate", str(transfer_run), "--episodes", "1", "--device", "cpu"], home))
    assert f"{TARGET} (vid2act, 100 env steps, deterministic)" in result.output
    evaluation = json.loads((transfer_run / "evaluation_deterministic.json").read_text())
    assert evaluation["method"] == "vid2act" and evaluation["env_steps_trained"] == 100
    shares = evaluation["selected_share"]
    assert list(shares) == TRANSFER_TEACHERS and abs(sum(shares.values()) - 1) < 1e-6

    # The rebuilt student holds the run's teachers, in the run's order: on an episode of its replay
    # they produce exactly the features the run stored while acting.
    monkeypatch.setenv("VID2ACT_HOME", str(home))
    agent, _, _, _ = load_run_agent(transfer_run, torch.device("cpu"))
    assert agent.teacher_names == TRANSFER_TEACHERS
    with np.load(sorted((transfer_run / "episodes").glob("ep-00000000-*.npz"))[0]) as episode:
        images, actions = torch.from_numpy(episode["image"])[None], torch.from_numpy(episode["action"])[None]
        is_first = torch.from_numpy(episode["is_first"])[None]
        stored_priors, stored_posts = episode[TEACHER_FEATURE_KEY], episode[TEACHER_POSTERIOR_KEY]
    with torch.no_grad():
        posts, priors = agent.teachers.observe(images, actions.float(), is_first)
    assert stored_priors.shape == tuple(priors.shape[1:]) and stored_priors.shape[1] == 2
    np.testing.assert_allclose(stored_priors.astype(np.float32), priors[0].numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(stored_posts.astype(np.float32), posts[0].numpy(), rtol=2e-3, atol=2e-3)


def test_evaluate_a_transfer_run_refuses_a_missing_or_replaced_teacher(pretrained_teachers: TeacherStore, transfer_run: Path,
                                                                       tmp_path: Path) -> None:
    evaluate = ["evaluate", str(transfer_run), "--episodes", "1", "--device", "cpu"]
    missing = tmp_path / "missing"
    pretrained_teachers.install(missing, {"swingup_src": "cartpole_swingup"})
    _one_line_error(_vid2act(evaluate, missing), "balance_src")

    # Another model registered under the run's teacher name (of the same shape, or another action size):
    # evaluating would act with another teacher.
    for index, replacement in enumerate(("cartpole_swingup", "walker_walk")):
        replaced = tmp_path / f"replaced_{index}"
        pretrained_teachers.install(replaced, {"swingup_src": "cartpole_swingup", "balance_src": replacement})
        _one_line_error(_vid2act(evaluate, replaced), "teacher 'balance_src' changed since this run started",
                        "evaluating would act with another teacher")


# ----- teachers add TASK --policy RUN_DIR --------------------------------------------------------------


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny `vid2act train` run on the target with action repeat 4 (80 env steps: prefill, then updates)."""
    root = tmp_path_factory.mktemp("agent_run")
    run_dir = root / "balance_agent"
    _ok(_vid2act(["train", "--task", TARGET, "--steps", "80", *TINY, *NO_EVAL, "--set", "env.action_repeat=4",
                  "--logdir", str(run_dir)], root / "home"))
    assert _checkpoint(run_dir)["loop"]["updates"] > 0
    return run_dir


def test_teachers_add_with_a_train_run_as_policy_collects_with_that_agent(agent_run: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = _ok(_vid2act(["teachers", "add", TARGET, "--policy", str(agent_run), "--episodes", "2", "--steps", "2", *TINY],
                          home))
    assert f"[1/4] expert: the agent of {agent_run}" in result.output
    dataset = home / "datasets" / f"{TARGET}.h5"
    assert f"collecting 2 episode(s) of dmc:{TARGET} with the agent of {agent_run} into {dataset}" in result.output
    assert TeacherRegistry(home).info(TARGET).train_steps == 2

    policy, _ = load_agent_policy(agent_run, torch.device("cpu"))
    with open_dataset(dataset) as data:
        assert len(data) == 2 and data.attrs.collector == f"agent:{agent_run.name}" == policy.name
        assert data.attrs.action_repeat == 4  # the agent acts as it was trained, not with the preset's repeat (2)
        episodes = [data[index] for index in range(len(data))]
    # Every stored action is the one the run's agent (deterministic) takes on the frame before it.
    for episode in episodes:
        policy.reset()
        assert not episode["action"][0].any()
        replayed = [policy({"image": image, "is_first": first}) for image, first in zip(episode["image"][:-1], episode["is_first"][:-1])]
        np.testing.assert_allclose(np.stack(replayed), episode["action"][1:], atol=1e-6)
    assert not np.allclose(episodes[0]["action"][1:], episodes[1]["action"][1:])  # two episodes, two start states


def test_teachers_add_refuses_an_agent_of_another_task_or_a_transfer_run(agent_run: Path, transfer_run: Path,
                                                                         tmp_path: Path) -> None:
    other_task = _vid2act(["teachers", "add", "cartpole_swingup", "--policy", str(agent_run), "--episodes", "1", *TINY],
                          tmp_path / "home")
    _one_line_error(other_task, f"--policy {agent_run}", f"trained on dmc:{TARGET}, not dmc:cartpole_swingup")
    student = _vid2act(["teachers", "add", TARGET, "--policy", str(transfer_run), "--episodes", "1", *TINY], tmp_path / "home")
    _one_line_error(student, f"--policy {transfer_run}", "a 'vid2act' run", "vid2act train")
    assert not (tmp_path / "home" / "datasets").exists()


def test_evaluate_an_unpinned_run_with_a_teacher_of_another_size_is_a_one_line_error(
    pretrained_teachers: TeacherStore, transfer_run: Path, tmp_path: Path
) -> None:
    # A run from before teacher pins were recorded: nothing to compare the registry's teachers with.
    legacy = tmp_path / "legacy_run"
    shutil.copytree(transfer_run, legacy)
    config_path = legacy / "config.yaml"
    data = yaml.safe_load(config_path.read_text())
    data["run"].pop("teacher_sha256")
    config_path.write_text(yaml.safe_dump(data))
    replaced = tmp_path / "replaced"
    pretrained_teachers.install(replaced, {"swingup_src": "cartpole_swingup", "balance_src": "walker_walk"})
    _one_line_error(_vid2act(["evaluate", str(legacy), "--episodes", "1", "--device", "cpu"], replaced), str(legacy), "balance_src")
