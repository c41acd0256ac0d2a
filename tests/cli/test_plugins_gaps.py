"""Plugins without surprises: per-task experts, shadowed teachers, failing plugin commands, an 80-column
`vid2act plugins`, and what `--init-from` skipped."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
import typer
from typer.testing import CliRunner

from registry_fakes import add_teacher, tiny_world_model
from vid2act_cli.app import app
from vid2act_cli.commands.plugin_glue import register_cli_commands
from vid2act_cli.compose.transfer import describe_initialisation
from vid2act_core.transfer import initialise_from_teacher
from vid2act_core.world_model import WorldModel
from vid2act_envs.base import Domain
from vid2act_envs.policies import NoExpertError, expert_policy
from vid2act_envs.tasks import DomainRegistry
from vid2act_plugin_example.plugin import make_toy_env, make_toy_expert, toy_task_spec
from vid2act_teachers.hookspecs import hookimpl
from vid2act_teachers.plugins import build_plugin_manager
from vid2act_teachers.registry import TeacherRegistry


def _two_task_domain() -> Domain:
    """The toy domain with a second task, `reach-blind`, declared without a scripted expert."""
    specs = {"reach": toy_task_spec("reach"), "reach-blind": dataclasses.replace(toy_task_spec("reach"), task="reach-blind", has_expert=False)}
    return Domain(name="toy2", task_names=lambda: list(specs),
                  task_spec=lambda task: dataclasses.replace(specs[task], domain="toy2"),
                  make_env=make_toy_env, make_expert=make_toy_expert)


def test_experts_are_declared_per_task() -> None:
    domain = _two_task_domain()
    registry = DomainRegistry()
    registry.register(domain)
    with_expert, without = registry.resolve("toy2:reach"), registry.resolve("toy2:reach-blind")
    assert domain.has_expert(with_expert) and not domain.has_expert(without)
    assert not dataclasses.replace(domain, make_expert=None).has_expert(with_expert)
    with pytest.raises(NoExpertError, match="toy2:reach-blind"):
        expert_policy(registry, without)


def test_teachers_add_on_a_task_without_expert_says_what_it_does_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    import vid2act_cli.compose.teacher_add as teacher_add
    import vid2act_teachers.plugins as plugins
    from vid2act_core.config import preset

    registry = DomainRegistry()
    registry.register(_two_task_domain())
    monkeypatch.setattr(plugins, "domain_registry", lambda pm=None: registry)
    said: list[str] = []

    class Recorder:
        def echo(self, message: str) -> None:
            said.append(message)

        def say(self, message: str) -> None:
            said.append(message)

        def progress(self, description, total):  # noqa: ANN001, ANN201
            raise AssertionError("nothing is collected in this test")

    class Stop(Exception):
        pass

    def no_training(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise Stop

    monkeypatch.setattr(teacher_add, "ensure_trained_expert", no_training)
    request = teacher_add.AddTeacherRequest(task="toy2:reach-blind", config=preset("tiny"), device="cpu", expert_steps=20)
    with pytest.raises(Stop):
        teacher_add.add_teacher(request, Recorder())
    [line] = [message for message in said if "no scripted expert" in message]
    assert "toy2:reach-blind" in line and "training a DreamerV2 agent" in line and "20 env steps" in line
    assert "--policy random" in line and "--data FILE.h5" in line


def test_a_local_teacher_hiding_a_plugin_one_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    registry = TeacherRegistry()
    assert registry.info("toy_reach").is_plugin
    with caplog.at_level(logging.WARNING, logger="vid2act.registry"):
        add_teacher(registry, "toy_reach")
    [warning] = [record.getMessage() for record in caplog.records if record.name == "vid2act.registry"]
    assert "plugin 'example'" in warning and "vid2act teachers remove toy_reach" in warning and "--name NEW" in warning
    assert registry.shadowed() == [("toy_reach", "example")] and not registry.info("toy_reach").is_plugin
    listed = CliRunner().invoke(app, ["teachers", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and "hides the teacher of the same name shipped by plugin 'example'" in " ".join(listed.output.split())
    registry.remove("toy_reach")
    assert registry.info("toy_reach").is_plugin and registry.shadowed() == []


def test_an_exception_in_a_plugin_command_is_one_line_naming_the_plugin() -> None:
    class Broken:
        @hookimpl
        def vid2act_register_commands(self, app):  # noqa: ANN001, ANN202
            @app.command("explode")
            def explode() -> None:
                raise RuntimeError("the simulator is not installed\nsecond line")

            group = typer.Typer()

            @group.command("inner")
            def inner() -> None:
                raise KeyError("missing")

            @app.command("leave")
            def leave() -> None:
                raise typer.Exit(3)

            app.add_typer(group, name="broken-group")

    cli = typer.Typer()

    @cli.callback()
    def root() -> None:
        """Test app."""

    pm = build_plugin_manager(entry_points=False)
    pm.add_plugin(Broken(), "broken")
    assert register_cli_commands(cli, pm) == {"broken": ("explode", "leave", "broken-group")}
    result = CliRunner().invoke(cli, ["explode"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: plugin 'broken', command 'explode': RuntimeError: the simulator is not installed (at ")
    nested = CliRunner().invoke(cli, ["broken-group", "inner"])
    assert nested.exit_code == 1 and "plugin 'broken', command 'inner': KeyError" in nested.stderr
    assert CliRunner().invoke(cli, ["leave"]).exit_code == 3  # a deliberate exit passes through


def test_vid2act_plugins_fits_80_columns() -> None:
    result = CliRunner().invoke(app, ["plugins"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    for whole in ("vid2act-plugin-example", "teachers: toy_reach", "commands: toy-info", "domains: metaworld"):
        assert any(whole in line for line in lines), whole


def test_init_from_a_teacher_with_another_action_size_says_what_it_skipped() -> None:
    teacher, config = tiny_world_model(action_dim=4)
    student_config = dataclasses.replace(config.world_model, use_reward_head=True)
    torch.manual_seed(1)
    student = WorldModel(student_config, 2, config.env.image_size)
    copied = initialise_from_teacher(student, teacher)
    line = describe_initialisation(student, teacher, copied, "walker")
    assert line.startswith(f"initialised {len(copied)} of {len(student.state_dict())} world-model tensors from teacher 'walker'")
    assert "reward_head" in line and "not in the teacher" in line
    assert "the teacher takes 4 actions, the student 2: the action input copies the first 2 columns" in line
    assert "\n" not in line
    same, _ = tiny_world_model(action_dim=4)
    assert "actions" not in describe_initialisation(same, teacher, initialise_from_teacher(same, teacher), "walker")

