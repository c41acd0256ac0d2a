"""The baselines' agent builders, looked up by `vid2act_core.methods.Method.agent`, on the transfer code path.

- apv (source video-model): `--init-from NAME` names an action-free model (`vid2act pretrain
  --action-free`, kind action-free); the student is `vid2act_core.baselines.apv.APVAgent` fine-tuned from it.
- isodream (source none): no pretrained model and no teachers; `vid2act_core.baselines.isodream.IsoDreamAgent`.
Both run through `run_online` like every other method (resume, logs, evaluation, reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.baselines.apv import APVAgent
from vid2act_core.baselines.isodream import IsoDreamAgent
from vid2act_core.config import Config
from vid2act_core.methods import TRANSFER_AGENT, find_method, get_method
from vid2act_teachers.registry import TeacherRegistry
from vid2act_teachers.teacher_format import KIND_ACTION_FREE

from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.training import AgentFactory


# `compose.transfer` imports this module for its baselines, so the plan both read is defined here
# (and re-exported by `compose.transfer`): neither module imports the other back.
@dataclass
class TransferPlan:
    """What a transfer run will use, resolved and checked before any training starts."""

    method: str
    teacher_names: list[str] = field(default_factory=list)
    source_data: dict[str, Path] = field(default_factory=dict)
    """Teacher -> source dataset read for its action-replay pairs (others use their stored set)."""
    init_from: str | None = None
    replay_sets: list[str] = field(default_factory=list)
    """Teachers whose stored action-replay set is used (`compose.replay_sets`)."""
    notes: list[str] = field(default_factory=list)
    """Lines to show before training (shadowed plugin teachers, teachers without a stored set)."""


Builder = Callable[[TransferPlan, Reporter], AgentFactory]


def is_baseline(method: str) -> bool:
    """Whether `method` is built here rather than by the Vid2Act student's switches (a label of no method: not)."""
    entry = find_method(method)
    return entry is not None and entry.agent != TRANSFER_AGENT


def plan_baseline(method: str, teachers: str | None, init_from: str | None) -> TransferPlan:
    """Check the options of a baseline run; a video model must exist and be of kind action-free."""
    entry = get_method(method)
    if teachers:
        raise ValueError(f"--method {method}: takes no --teachers (it distils nothing)")
    if entry.source != "video-model":
        if init_from:
            raise ValueError(f"--method {method}: takes no --init-from ({entry.title} is trained from scratch)")
        return TransferPlan(method=method)
    if not init_from:
        raise ValueError(f"--method {method}: --init-from NAME must name an action-free model (vid2act pretrain --action-free)")
    info = TeacherRegistry().info(init_from)
    if info.kind != KIND_ACTION_FREE:
        raise ValueError(f"--method {method} --init-from {init_from}: is a {info.kind} model, not an action-free one "
                         "(vid2act pretrain --action-free)")
    return TransferPlan(method=method, init_from=init_from)


def _isodream(plan: TransferPlan, reporter: Reporter) -> AgentFactory:
    return lambda config, action_dim, device: IsoDreamAgent(config, action_dim, device)


def _apv(plan: TransferPlan, reporter: Reporter) -> AgentFactory:
    def factory(config: Config, action_dim: int, device: torch.device) -> DreamerAgent:
        video_model, _, _ = TeacherRegistry().load(plan.init_from, device="cpu", frozen=False)
        agent = APVAgent(config, action_dim, device, video_model)
        reporter.say(f"APV: fine-tuning {plan.init_from} ({', '.join(agent.loaded_modules)} loaded)")
        return agent

    return factory


AGENT_BUILDERS: dict[str, Builder] = {"apv": _apv, "isodream": _isodream}
"""`Method.agent` -> the builder of its agent factory; a new baseline adds its builder here and its entry to the method table."""


def baseline_agent_factory(plan: TransferPlan, reporter: Reporter | None = None) -> AgentFactory:
    """An agent factory for `run_online` building the plan's baseline agent."""
    agent = get_method(plan.method).agent
    if agent not in AGENT_BUILDERS:
        raise ValueError(f"--method {plan.method}: no agent builder {agent!r} in vid2act_cli.compose.baselines")
    return AGENT_BUILDERS[agent](plan, plain_if_none(reporter))
