"""The built-in DeepMind Control and Meta-World domains, written as ordinary vid2act plugins.

They are registered first by `vid2act_teachers.plugins.build_plugin_manager`, under the plugin
names "dmc" and "metaworld", through the same hooks an external plugin implements. The DMC domain's
`train_expert` is the SAC state expert of `vid2act_teachers.experts`. Each imports
its simulator module only when its hook runs, so listing plugins never pays for an unused suite,
and `VID2ACT_DISABLE_PLUGINS=metaworld` drops a suite that is not installed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from vid2act_envs.base import Domain, ExpertTraining, TaskSpec, TrainedExpert

from vid2act_teachers.hookspecs import HOOK_API_VERSION, hookimpl


class DeepMindControlPlugin:
    """Registers the DeepMind Control Suite domain ("dmc": walker_walk, cheetah_run, ...)."""

    VID2ACT_HOOK_API = HOOK_API_VERSION

    @hookimpl
    def vid2act_register_domains(self, register: Callable[[Domain], None]) -> None:
        """Register `vid2act_envs.dmc.dmc_domain()` with the SAC state expert as its `train_expert`."""
        from vid2act_envs.dmc import dmc_domain

        register(replace(dmc_domain(), train_expert=train_dmc_expert))


def train_dmc_expert(spec: TaskSpec, request: ExpertTraining) -> TrainedExpert:
    """The DMC domain's `train_expert` (`vid2act_teachers.experts.rollout.state_expert_hook`).

    Imported when an expert is asked for: torch and the SAC trainer stay out of plugin loading.
    """
    from vid2act_teachers.experts.rollout import state_expert_hook

    return state_expert_hook(spec, request)


class MetaWorldPlugin:
    """Registers the Meta-World v3 domain ("metaworld": door-open, button-press-topdown, ...)."""

    VID2ACT_HOOK_API = HOOK_API_VERSION

    @hookimpl
    def vid2act_register_domains(self, register: Callable[[Domain], None]) -> None:
        """Register `vid2act_envs.metaworld_env.metaworld_domain()`."""
        from vid2act_envs.metaworld_env import metaworld_domain

        register(metaworld_domain())


def builtin_plugins() -> list[tuple[str, object]]:
    """(plugin name, plugin object) for every built-in plugin, in registration order."""
    return [("dmc", DeepMindControlPlugin()), ("metaworld", MetaWorldPlugin())]
