"""Settings a task decides for a run: where the config meets the task's TaskSpec.

Today one: a task whose domain declares that its episodes can terminate (`TaskSpec.can_terminate`)
needs the world model's continuation head, or imagined returns bootstrap past the end of the task.
"""

from __future__ import annotations

from vid2act_core.config import Config
from vid2act_envs.base import TaskSpec


def apply_task_settings(config: Config, spec: TaskSpec) -> list[str]:
    """Adjust `config` in place for `spec`; return one line per change or warning, for the run's output.

    With `world_model.auto_cont_head` (the default) a task that can terminate gets
    `world_model.use_cont_head = True`; with it off, a terminating task without the head is
    reported, since its continuation targets (`is_terminal`) would go unused.
    """
    notes: list[str] = []
    world_model = config.world_model
    if not spec.can_terminate or world_model.use_cont_head:
        return notes
    if world_model.auto_cont_head:
        world_model.use_cont_head = True
        notes.append(
            f"world_model.use_cont_head: on, because {spec.name} can terminate (its domain declares "
            "TaskSpec.can_terminate); --set world_model.auto_cont_head=false keeps it off"
        )
    else:
        notes.append(
            f"warning: {spec.name} can terminate but world_model.use_cont_head is off "
            "(world_model.auto_cont_head=false): imagined returns continue past terminal states"
        )
    return notes
