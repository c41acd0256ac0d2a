"""A second, throwaway vid2act plugin, written as an installed distribution under a temporary directory.

`write_throwaway_plugin(root)` writes a package `vid2act_throwaway_plugin` and its dist-info (with an
entry point in the "vid2act" group) into `root/site`, the way an installer lays out site-packages;
putting that directory on `sys.path` (PYTHONPATH for a subprocess) makes importlib.metadata find the
entry point, and the shared environment is never modified. The plugin stands for a third-party gym
domain that ships a teacher: it registers the domain `gymbox` (task `reach`, the name the example's
toy domain and Meta-World also use) and a teacher `gymbox_reach`, a renamed copy of the example
plugin's shipped teacher, so `--teachers all` meets it and can load it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vid2act_plugin_example import plugin as example_plugin

PLUGIN_NAME = "throwaway"
"""The entry-point name: the plugin's name in `vid2act plugins` and in VID2ACT_PLUGINS."""

DISTRIBUTION = "vid2act-throwaway-plugin"
MODULE = "vid2act_throwaway_plugin"
DOMAIN = "gymbox"
TEACHER = "gymbox_reach"

_PLUGIN_SOURCE = '''\
"""A throwaway vid2act plugin (tests/throwaway_plugin.py): a gym domain and the teacher it ships."""

from pathlib import Path

from vid2act_envs.base import Domain, TaskSpec
from vid2act_teachers.hookspecs import hookimpl

VID2ACT_HOOK_API = "1.0"
SPEC = TaskSpec(domain="{domain}", task="reach", action_repeat=2, episode_steps=250, camera="top", has_success=True)


def _make_env(spec, seed=0, image_size=64, render=True, fast_render=True):
    # The example's point mass stands in for the gym simulator, so the domain passes the conformance test.
    from vid2act_plugin_example.toy_env import ToyReachEnv

    return ToyReachEnv(spec, seed=seed, image_size=image_size, render=render, fast_render=fast_render)


def _make_expert(spec):
    from vid2act_plugin_example.toy_env import ToyReachExpert

    return ToyReachExpert()


@hookimpl
def vid2act_register_domains(register):
    register(Domain(name="{domain}", task_names=lambda: ["reach"], task_spec=lambda task: SPEC,
                    make_env=_make_env, make_expert=_make_expert))


@hookimpl
def vid2act_register_teachers(register):
    register("{teacher}", Path(__file__).resolve().parent / "teachers" / "{teacher}")
'''


def _copy_teacher(source: Path, target: Path, name: str) -> None:
    """The example's shipped teacher under another name (the name is recorded twice in its config.json)."""
    shutil.copytree(source, target)
    config_path = target / "config.json"
    config = json.loads(config_path.read_text())
    config["name"] = name
    if isinstance(config.get("info"), dict):
        config["info"]["name"] = name
    config_path.write_text(json.dumps(config, indent=2))


def write_throwaway_plugin(root: Path) -> Path:
    """Write the plugin and its dist-info under `root/site`; return that directory (for sys.path or PYTHONPATH)."""
    site = root / "site"
    package = site / MODULE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(_PLUGIN_SOURCE.format(domain=DOMAIN, teacher=TEACHER))
    _copy_teacher(example_plugin.TEACHERS_DIR / example_plugin.TOY_REACH_TEACHER, package / "teachers" / TEACHER, TEACHER)
    dist_info = site / f"{MODULE}-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[vid2act]\n{PLUGIN_NAME} = {MODULE}\n")
    return site
