"""`--method apv|isodream`: the paper's model-based baselines on the transfer code path.

- apv: `--init-from NAME` names an action-free model (`vid2act pretrain --action-free`, kind
  action-free); the student is `vid2act_core.baselines.apv.APVAgent` fine-tuned from it.
- isodream: no pretrained model and no teachers; `vid2act_core.baselines.isodream.IsoDreamAgent`.
Both run through `run_online` like every other method (resume, logs, evaluation, reports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.config import Config

from vid2act_cli.compose.reporter import Reporter, plain_if_none

if TYPE_CHECKING:
    from vid2act_cli.compose.transfer import TransferPlan

BASELINE_METHODS: tuple[str, ...] = ("apv", "isodream")
"""Methods of this module (`vid2act_core.naming.METHODS` lists them too)."""


def plan_baseline(method: str, teachers: str | None, init_from: str | None) -> "TransferPlan":
    """Check the options of a baseline run; the APV model must exist and be of kind action-free."""
    from vid2act_teachers.registry import TeacherRegistry
    from vid2act_teachers.teacher_format import KIND_ACTION_FREE

    from vid2act_cli.compose.transfer import TransferPlan

    if method not in BASELINE_METHODS:
        raise ValueError(f"--method {method!r}: choose from vid2act, {', '.join(BASELINE_METHODS)}")
    if teachers:
        raise ValueError(f"--method {method}: takes no --teachers (it distils nothing)")
    if method == "isodream":
        if init_from:
            raise ValueError("--method isodream: takes no --init-from (Iso-Dream is trained from scratch)")
        return TransferPlan(method=method)
    if not init_from:
        raise ValueError("--method apv: --init-from NAME must name an action-free model (vid2act pretrain --action-free)")
    info = TeacherRegistry().info(init_from)
    if info.kind != KIND_ACTION_FREE:
        raise ValueError(f"--method apv --init-from {init_from}: is a {info.kind} model, not an action-free one "
                         "(vid2act pretrain --action-free)")
    return TransferPlan(method=method, init_from=init_from)


def baseline_agent_factory(plan: "TransferPlan", reporter: Reporter | None = None):
    """An agent factory for `run_online` building the plan's baseline agent."""
    from vid2act_core.baselines.apv import APVAgent
    from vid2act_core.baselines.isodream import IsoDreamAgent

    def factory(config: Config, action_dim: int, device: torch.device) -> DreamerAgent:
        if plan.method == "isodream":
            return IsoDreamAgent(config, action_dim, device)
        from vid2act_teachers.registry import TeacherRegistry

        video_model, _, _ = TeacherRegistry().load(plan.init_from, device="cpu", frozen=False)
        agent = APVAgent(config, action_dim, device, video_model)
        plain_if_none(reporter).say(f"APV: fine-tuning {plan.init_from} ({', '.join(agent.loaded_modules)} loaded)")
        return agent

    return factory
