"""The plugin module named by this package's entry point (`[project.entry-points.vid2act]`).

It declares the hook API it is written for (`VID2ACT_HOOK_API`) and implements all three hooks:

- `vid2act_register_domains`: the `toy` domain with one task, `reach` (see `toy_env`);
- `vid2act_register_teachers`: a prebuilt teacher `toy_reach`, shipped as package data under
  `teachers/toy_reach/`, registered only once that directory holds `model.safetensors`;
- `vid2act_register_commands`: a `vid2act toy-info` command.

Importing this module is cheap: MuJoCo is imported only when an environment is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from vid2act_envs.base import Domain, Env, Policy, TaskSpec
from vid2act_teachers.hookspecs import hookimpl

VID2ACT_HOOK_API = "1.0"
"""The vid2act hook API this plugin is written for (a vid2act with another major version refuses it)."""

DOMAIN_NAME = "toy"
"""Prefix of this plugin's qualified task names ("toy:reach")."""

TOY_TASKS: dict[str, TaskSpec] = {
    "reach": TaskSpec(
        domain=DOMAIN_NAME,
        task="reach",
        action_repeat=2,
        episode_steps=250,
        camera="top",
        has_success=True,
    ),
}
"""Default spec of every task of the domain (250 physics steps of 20 ms = 125 agent steps)."""

TEACHERS_DIR = Path(__file__).resolve().parent / "teachers"
"""Package data: one directory per shipped teacher (model.safetensors + config.json)."""

TOY_REACH_TEACHER = "toy_reach"
"""Name the shipped teacher is registered under."""


def toy_task_names() -> list[str]:
    """Every task of the toy domain."""
    return list(TOY_TASKS)


def toy_task_spec(task: str) -> TaskSpec:
    """Default TaskSpec of one toy task."""
    if task not in TOY_TASKS:
        raise ValueError(f"the toy domain has no task {task!r} (tasks: {', '.join(TOY_TASKS)})")
    return TOY_TASKS[task]


def make_toy_env(
    spec: TaskSpec,
    seed: int = 0,
    image_size: int | tuple[int, int] = 64,
    render: bool = True,
    fast_render: bool = True,
) -> Env:
    """Build the environment for `spec` (a toy TaskSpec, possibly with overridden repeat/length)."""
    if spec.domain != DOMAIN_NAME or spec.task not in TOY_TASKS:
        raise ValueError(f"make_toy_env() needs a toy task spec, got {spec.name!r}")
    from vid2act_plugin_example.toy_env import ToyReachEnv

    return ToyReachEnv(spec, seed=seed, image_size=image_size, render=render, fast_render=fast_render)


def make_toy_expert(spec: TaskSpec) -> Policy:
    """The scripted expert (a PD controller on the state) for a toy task."""
    if spec.domain != DOMAIN_NAME or spec.task not in TOY_TASKS:
        raise ValueError(f"make_toy_expert() needs a toy task spec, got {spec.name!r}")
    from vid2act_plugin_example.toy_env import ToyReachExpert

    return ToyReachExpert()


def toy_domain() -> Domain:
    """The `toy` domain record this plugin registers."""
    return Domain(
        name=DOMAIN_NAME,
        task_names=toy_task_names,
        task_spec=toy_task_spec,
        make_env=make_toy_env,
        make_expert=make_toy_expert,
        description="Example plugin: a MuJoCo point mass pushed onto a target (vid2act-plugin-example)",
    )


def shipped_teacher_dir() -> Path | None:
    """`teachers/toy_reach/` if the package ships weights there (model.safetensors present), else None."""
    directory = TEACHERS_DIR / TOY_REACH_TEACHER
    return directory if (directory / "model.safetensors").is_file() else None


@hookimpl
def vid2act_register_domains(register: Callable[[Domain], None]) -> None:
    """Register the toy domain."""
    register(toy_domain())


@hookimpl
def vid2act_register_teachers(register: Callable[[str, Path], None]) -> None:
    """Register the shipped toy_reach teacher, if the package contains its weights."""
    directory = shipped_teacher_dir()
    if directory is not None:
        register(TOY_REACH_TEACHER, directory)


@hookimpl
def vid2act_register_commands(app: Any) -> None:
    """Add `vid2act toy-info`."""

    @app.command("toy-info")
    def toy_info(task: str = "reach") -> None:
        """Show a toy task's settings and whether this plugin ships a teacher for it."""
        spec = toy_task_spec(task)
        teacher = shipped_teacher_dir()
        print(f"task: {spec.name}")
        print(f"action repeat: {spec.action_repeat}, episode: {spec.agent_steps} agent steps, camera: {spec.camera}")
        print("actions: 2 forces in [-1, 1]; reward 1 inside the target; expert: toy-reach-pd")
        print(f"teacher {TOY_REACH_TEACHER}: {teacher if teacher else 'not shipped in this build'}")
