"""Task-name resolution, the domain registry, GL backend choice and render settings."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from vid2act_envs.base import Domain, TaskSpec
from vid2act_envs.rendering import (
    HEADLESS_BACKENDS,
    RenderSettings,
    ensure_gl_backend,
    fast_render_settings,
    render_settings_for,
)
from vid2act_envs.tasks import DomainRegistry, UnknownTaskError
from vid2act_teachers.plugins import build_plugin_manager, domain_registry


def _toy_domain(name: str, tasks: list[str]) -> Domain:
    def spec(task: str) -> TaskSpec:
        return TaskSpec(domain=name, task=task, action_repeat=1, episode_steps=10, camera=0, has_success=False)

    def build(spec: TaskSpec, **kwargs: object) -> object:
        return ("built", spec, kwargs)

    return Domain(name=name, task_names=lambda: list(tasks), task_spec=spec, make_env=build)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "domain", "task"),
    [
        ("walker_walk", "dmc", "walker_walk"),
        ("dmc:walker_walk", "dmc", "walker_walk"),
        ("ball_in_cup_catch", "dmc", "ball_in_cup_catch"),
        ("door-open", "metaworld", "door-open"),
        ("metaworld:door-open", "metaworld", "door-open"),
        ("metaworld:button-press-topdown", "metaworld", "button-press-topdown"),
    ],
)
def test_resolve_accepts_bare_and_qualified_names(name: str, domain: str, task: str) -> None:
    spec = domain_registry().resolve(name)
    assert (spec.domain, spec.task) == (domain, task)
    assert spec.name == f"{domain}:{task}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("walker_wlak", "dmc:walker_walk"),
        ("dor-open", "metaworld:door-open"),
        ("metaworld:door-opn", "metaworld:door-open"),
        ("dcm:walker_walk", "dmc"),
    ],
)
def test_unknown_names_raise_one_line_error_with_suggestions(name: str, expected: str) -> None:
    with pytest.raises(UnknownTaskError) as caught:
        domain_registry().resolve(name)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in message
    assert repr(name.split(":")[0]) in message or repr(name) in message
    assert "did you mean" in message and expected in message


def test_unknown_name_without_close_match_points_to_the_listing() -> None:
    with pytest.raises(UnknownTaskError, match="vid2act envs"):
        domain_registry().resolve("zzzzzz")


def test_bare_name_known_to_two_domains_is_ambiguous_and_qualified_names_still_work() -> None:
    registry = domain_registry(build_plugin_manager(entry_points=False))  # the built-in plugins only
    registry.register(_toy_domain("toy", ["walker_walk", "spin"]))
    with pytest.raises(UnknownTaskError, match="ambiguous") as caught:
        registry.resolve("walker_walk")
    assert "dmc:walker_walk" in str(caught.value) and "toy:walker_walk" in str(caught.value)
    assert registry.resolve("toy:walker_walk").domain == "toy"
    assert registry.resolve("dmc:walker_walk").domain == "dmc"
    assert registry.resolve("spin").domain == "toy"
    assert registry.domain_names() == ["dmc", "metaworld", "toy"]


def test_register_rejects_duplicates_and_bad_names() -> None:
    registry = DomainRegistry()
    registry.register(_toy_domain("toy", ["a"]))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_toy_domain("toy", ["b"]))
    with pytest.raises(ValueError, match="invalid domain name"):
        registry.register(_toy_domain("a:b", ["c"]))
    with pytest.raises(UnknownTaskError, match="unknown domain 'nope'"):
        registry.domain("nope")


def test_make_env_applies_overrides_to_the_spec() -> None:
    registry = DomainRegistry()
    registry.register(_toy_domain("toy", ["spin"]))
    built = registry.make_env("spin", seed=5, image_size=16, render=False, action_repeat=3, episode_steps=30, camera=2)
    _, spec, kwargs = built  # type: ignore[misc]
    assert (spec.action_repeat, spec.episode_steps, spec.camera) == (3, 30, 2)
    assert kwargs == {"seed": 5, "image_size": 16, "render": False, "fast_render": True}


def test_module_make_env_builds_a_real_env_with_overrides() -> None:
    env = domain_registry().make_env("dmc:hopper_stand", seed=0, image_size=16, render=False, action_repeat=4, episode_steps=8)
    try:
        assert env.spec.action_repeat == 4 and env.spec.episode_steps == 8
        obs = env.reset()
        assert env.step(np.zeros(env.action_dim))["is_last"] is False
        assert env.step(np.zeros(env.action_dim))["is_last"] is True
        assert obs["image"].shape == (16, 16, 3)
    finally:
        env.close()


def test_building_domains_imports_no_simulator() -> None:
    code = (
        "import sys; from vid2act_teachers.plugins import build_plugin_manager, domain_registry; "
        "r = domain_registry(build_plugin_manager(entry_points=False)); "
        "assert r.domain_names() == ['dmc', 'metaworld']; "
        "loaded = [m for m in ('mujoco', 'dm_control', 'metaworld', 'gymnasium', 'torch') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_gl_backend_is_chosen_when_unset() -> None:
    environment = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    code = (
        "import os; from vid2act_envs.rendering import ensure_gl_backend; b = ensure_gl_backend(); "
        "assert os.environ['MUJOCO_GL'] == b == os.environ['PYOPENGL_PLATFORM'], b; print(b)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=environment, check=True, timeout=120, capture_output=True, text=True
    )
    assert completed.stdout.strip() in HEADLESS_BACKENDS
    assert ensure_gl_backend() == os.environ["MUJOCO_GL"]


def test_fast_render_settings_are_sized_to_the_image() -> None:
    settings = fast_render_settings(64)
    assert settings.framebuffer_size == (64, 64)
    assert settings.shadow_map_size is not None and 64 <= settings.shadow_map_size <= 1024
    assert fast_render_settings((48, 80)).framebuffer_size == (80, 48)
    assert fast_render_settings(512).shadow_map_size == 2048
    assert render_settings_for(64, fast_render=False) == RenderSettings()
    with pytest.raises(ValueError, match="image_size"):
        fast_render_settings(0)


def test_envs_cli_lists_both_domains() -> None:
    from typer.testing import CliRunner
    from vid2act_cli.app import app

    result = CliRunner().invoke(app, ["envs"])
    assert result.exit_code == 0, result.output
    assert "dmc:walker_walk" in result.output and "metaworld:door-open" in result.output
    bad = CliRunner().invoke(app, ["envs", "--domain", "dcm"])
    assert bad.exit_code != 0
