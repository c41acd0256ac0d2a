"""`vid2act transfer`: load and check teachers, prepare source data, train the student."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.compat import ARCHITECTURE_FIELDS, LATENT_BEHAVIOUR_FIELDS
from vid2act_core.config import Config
from vid2act_envs.base import TaskSpec
from vid2act_core.runtime.fileio import atomic_write_text
from vid2act_core.loop import LoopState
from vid2act_core.methods import find_method, get_method
from vid2act_core.naming import method_label
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.transfer import UNIFORM_SELECTION, TransferAgent, initialise_from_teacher
from vid2act_teachers.registry import TeacherRegistry, check_compatible, shadowing_message, vid2act_home
from vid2act_teachers.teacher_replay_set import weights_digest

from vid2act_cli.compose.baselines import TransferPlan, baseline_agent_factory, is_baseline, plan_baseline
from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.logger import read_metrics
from vid2act_cli.compose.replay_sets import load_source_pairs, resolve_guidance_sources
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.runs import SavedRun, check_resume, read_saved_run, resolve_run_dir
from vid2act_cli.compose.teacher_choice import check_one_architecture, choose_teachers
from vid2act_cli.compose.training import RESUMABLE_CHANGES, AgentFactory, run_online, task_spec
from vid2act_cli.compose.validation import check_config_counts

__all__ = ["EVALUATE_CONSEQUENCE", "PINS_KEY", "TransferPlan", "TransferRequest", "build_agent_factory", "check_teacher_pins",
           "describe_initialisation", "parse_source_data", "plan_of_run", "plan_transfer", "run_info", "run_transfer", "summarise_transfer", "teacher_pins",
           "transfer_to_target"]


def parse_source_data(entries: list[str]) -> dict[str, Path]:
    """`NAME=PATH` entries of --source-data."""
    result = {}
    for entry in entries:
        if "=" not in entry:
            raise ValueError(f"--source-data {entry!r}: expected TEACHER=PATH")
        name, path = entry.split("=", 1)
        result[name.strip()] = Path(path)
    return result


def plan_transfer(
    config: Config, teachers: str | None, init_from: str | None, source_data: dict[str, Path] | None = None,
    method: str | None = None,
) -> TransferPlan:
    """Resolve teacher names and source datasets; refuse missing, corrupt or incompatible teachers.

    `method`: a baseline of `compose.baselines` plans there; None or a method of the Vid2Act student:
    the config's switches (set from the method table by the front door) decide.
    """
    entry = get_method(method) if method is not None else None  # an unknown name is refused before any registry read
    if entry is not None and is_baseline(entry.name):
        return plan_baseline(entry.name, teachers, init_from)
    registry = TeacherRegistry()
    method = method_label(config, init_from)
    plan = TransferPlan(method=method, init_from=init_from)
    if init_from:
        info = registry.info(init_from)
        check_compatible(info, config.env.image_size, as_teacher=False)  # a multitask model is welcome here
        return plan
    if not config.transfer.distill:
        return plan
    if not teachers or teachers.strip() == "all":
        choice = choose_teachers(registry, config, dict(source_data or {}), vid2act_home())
        names = choice.names
        plan.notes += [*choice.notes, f"teachers: {', '.join(names)} (every registered teacher that can serve "
                                      f"{config.env.task}; --teachers NAME,... picks others)"]
    else:
        names = [name.strip() for name in teachers.split(",") if name.strip()]
        if not names:
            raise ValueError(f"--teachers {teachers!r}: name at least one teacher, or leave it out for all that can serve")
        if len(set(names)) != len(names):
            raise ValueError(f"--teachers {teachers!r}: a teacher is named twice")
        for name in names:
            check_compatible(registry.info(name), config.env.image_size)
        check_one_architecture(registry, names)
    plan.teacher_names = names
    plan.notes += [f"warning: {shadowing_message(name, plugin)}" for name, plugin in registry.shadowed() if name in names]
    if config.transfer.guidance:
        sources = resolve_guidance_sources(registry, names, dict(source_data or {}), vid2act_home())
        plan.source_data, plan.replay_sets = sources.datasets, sources.stored
        plan.notes += sources.notes
    return plan


def build_agent_factory(plan: TransferPlan, reporter: Reporter | None = None) -> AgentFactory:
    """An agent factory for `run_online` that loads the plan's teachers onto the run's device."""
    if is_baseline(plan.method):
        return baseline_agent_factory(plan, reporter)

    def factory(config: Config, action_dim: int, device: torch.device) -> DreamerAgent:
        registry = TeacherRegistry()
        if plan.init_from:
            teacher, _, _ = registry.load(plan.init_from, device="cpu", frozen=True)
            agent = DreamerAgent(config, action_dim, device)
            copied = initialise_from_teacher(agent.world_model, teacher.to(device))
            plain_if_none(reporter).say(describe_initialisation(agent.world_model, teacher, copied, plan.init_from))
            return agent
        if not plan.teacher_names:
            return TransferAgent(config, action_dim, device, teachers=None)
        loaded = [registry.load(name, device="cpu", frozen=True) for name in plan.teacher_names]
        ensemble = TeacherEnsemble([model for model, _, _ in loaded], plan.teacher_names)
        sources = None
        if config.transfer.guidance:
            sources = [
                load_source_pairs(registry, name, model, plan.source_data.get(name), device)
                for name, (model, _, _) in zip(plan.teacher_names, loaded)
            ]
        return TransferAgent(config, action_dim, device, ensemble, sources)

    return factory


def apply_init_architecture(config: Config, init_from: str) -> None:
    """The init-from baseline's student takes the teacher's world-model architecture (plus a reward head)."""
    _, teacher_config, _ = TeacherRegistry().load(init_from, device="cpu", frozen=True)
    for key in ARCHITECTURE_FIELDS + LATENT_BEHAVIOUR_FIELDS:
        setattr(config.world_model, key, getattr(teacher_config.world_model, key))


def run_info(plan: TransferPlan, pins: dict[str, Any]) -> dict[str, Any]:
    """The plan as a run directory keeps it (`config.yaml`'s run section); `plan_of_run` reads it back."""
    return {"teachers": plan.teacher_names, "init_from": plan.init_from,
            "source_data": {name: str(path) for name, path in plan.source_data.items()},
            "replay_sets": plan.replay_sets, PINS_KEY: pins}


def plan_of_run(info: Mapping[str, Any]) -> TransferPlan:
    """The plan a finished or interrupted run was trained with, from its run section, for rebuilding its
    agent (`evaluate`). Only a method that fine-tunes a video model keeps `init_from`: its agent is built
    from that model's architecture; `init`'s architecture is already in the run's config."""
    method = info.get("method", "dreamer")
    entry = find_method(method)
    keeps_init = entry is not None and entry.needs_video_model
    return TransferPlan(
        method=method,
        teacher_names=list(info.get("teachers") or []),
        source_data={name: Path(path) for name, path in (info.get("source_data") or {}).items()},
        init_from=info.get("init_from") if keeps_init else None,
        replay_sets=list(info.get("replay_sets") or []),
    )


def _run_section(config: Config, plan: TransferPlan) -> dict[str, Any]:
    """What a resumed transfer run must agree with (`runs.check_resume`)."""
    return {"task": config.env.task, "method": plan.method, "teachers": plan.teacher_names}


def run_transfer(
    config: Config,
    plan: TransferPlan,
    run_dir: Path,
    device: torch.device,
    reporter: Reporter | None = None,
    explicit: dict[str, str] | None = None,
    saved_run: SavedRun | None = None,
    spec: TaskSpec | None = None,
) -> tuple[LoopState, DreamerAgent, dict[str, Any]]:
    """Train the student online in `run_dir` (resuming), then write `transfer_summary.json`.

    explicit: what the command gave explicitly (`run_online`); a resumed run's teachers must always match.
    saved_run, spec: the run's `config.yaml` and the target's TaskSpec where the caller has them already."""
    run_dir = Path(run_dir)
    if saved_run is None:
        saved_run = read_saved_run(run_dir)
    pins = teacher_pins(plan.teacher_names + ([plan.init_from] if plan.init_from else []), TeacherRegistry())
    # Its replay stores the teachers' states: a resumed run refuses other teachers, named or not.
    explicit = {"teachers": "--teachers", **(explicit or {})}
    check_resume(saved_run, config, _run_section(config, plan), explicit, RESUMABLE_CHANGES)
    if saved_run is not None:
        check_teacher_pins(run_dir, saved_run.info.get(PINS_KEY), pins)
    if plan.init_from and plan.method == "init":
        apply_init_architecture(config, plan.init_from)
    state, agent = run_online(
        config, run_dir, device, plan.method, agent_factory=build_agent_factory(plan, reporter), reporter=reporter,
        run_info=run_info(plan, pins), explicit=explicit, saved_run=saved_run, spec=spec,
    )
    summary = summarise_transfer(run_dir, plan.teacher_names)
    atomic_write_text(run_dir / "transfer_summary.json", json.dumps(summary, indent=2) + "\n")
    return state, agent, summary


def summarise_transfer(run_dir: Path, teacher_names: list[str]) -> dict[str, Any]:
    """Mean task weight per teacher over the last quarter of training, and the acting selection share."""
    records = read_metrics(run_dir)
    summary: dict[str, Any] = {"teachers": teacher_names}
    if not teacher_names:
        return summary
    weight_rows = [r for r in records if f"losses/weight/{teacher_names[0]}" in r]
    selected_rows = [r for r in records if f"charts/selected/{teacher_names[0]}" in r]
    if weight_rows:
        tail = weight_rows[-max(1, len(weight_rows) // 4):]
        weights = {name: sum(r[f"losses/weight/{name}"] for r in tail) / len(tail) for name in teacher_names}
        summary["final_mean_weight"] = weights
        # Under the uniform ablation no teacher dominates (tied weights, k drawn at random).
        uniform = any(f"charts/selected/{UNIFORM_SELECTION}" in r for r in records)
        summary["dominant_teacher"] = UNIFORM_SELECTION if uniform else max(weights, key=weights.get)
    if selected_rows:
        tail = selected_rows[-max(1, len(selected_rows) // 4):]
        summary["final_selected_share"] = {
            name: sum(r[f"charts/selected/{name}"] for r in tail) / len(tail) for name in teacher_names
        }
    return summary


@dataclass
class TransferRequest:
    """What `vid2act transfer` was asked for, besides the config (which holds the target and the switches)."""

    teachers: str | None
    init_from: str | None
    source_data: list[str]
    """--source-data entries, TEACHER=FILE.h5."""
    device: str | torch.device
    logdir: Path | None
    root: Path
    method: str | None = None
    """--method: None or a method of the Vid2Act student (the switches decide), or a baseline (`compose.baselines`)."""
    explicit: dict[str, str] = field(default_factory=dict)
    """Settings the command line gave (`runs.requested_keys`; --teachers is added here): a resumed run must match them."""


def transfer_to_target(
    config: Config, request: TransferRequest, reporter: Reporter | None = None
) -> tuple[LoopState, Path, dict[str, Any]]:
    """`vid2act transfer`: plan (teachers checked before training), then train the student; returns counters, run dir, summary."""
    check_config_counts(config)
    reporter = plain_if_none(reporter)
    torch_device = resolve_device(request.device, reporter)
    spec = task_spec(config)
    config.env.task = spec.name
    source_data = parse_source_data(list(request.source_data))
    plan = plan_transfer(config, request.teachers, request.init_from, source_data, request.method)
    run_dir, resumed = resolve_run_dir(request.logdir, request.root, config.env.task, plan.method, config.seed)
    saved_run = read_saved_run(run_dir)
    explicit = dict(request.explicit)
    if request.teachers:
        explicit["teachers"] = "--teachers"
    elif saved_run is not None and plan.teacher_names:
        # Teachers chosen by default: a resumed run goes on with its own (its replay holds their states),
        # even where the registry has changed since; they are checked again like named ones.
        saved_teachers = saved_run.info.get("teachers") or []
        if saved_teachers and saved_teachers != plan.teacher_names:
            plan = plan_transfer(config, ",".join(saved_teachers), request.init_from, source_data, request.method)
            plan.notes.append(f"note: resuming with the run's own teachers: {', '.join(saved_teachers)}")
    check_resume(saved_run, config, _run_section(config, plan), {"teachers": "--teachers", **explicit}, RESUMABLE_CHANGES)
    for note in plan.notes:
        reporter.say(note)
    reporter.echo(f"{'resuming' if resumed else 'new run'}: {run_dir} ({plan.method}, "
                  f"teachers: {', '.join(plan.teacher_names) or 'none'}, device {torch_device})")
    state, _, summary = run_transfer(config, plan, run_dir, torch_device, reporter, explicit, saved_run, spec)
    return state, run_dir, summary


# What `--init-from TEACHER` copied into the student and what it left freshly initialised.
def describe_initialisation(student: torch.nn.Module, teacher: torch.nn.Module, copied: list[str], teacher_name: str) -> str:
    """One line: tensors copied, tensors skipped (grouped by module), and a partly copied action input.

    `copied` is what `vid2act_core.transfer.initialise_from_teacher` returned. A tensor is skipped
    when the teacher lacks it (the reward head: teachers have none) or its shape differs (an
    action-size-dependent layer, when the teacher's action size is not the student's).
    """
    student_state, teacher_state = student.state_dict(), teacher.state_dict()
    copied_set = set(copied)
    absent = [key for key in student_state if key not in copied_set and key not in teacher_state]
    mismatched = [key for key in student_state if key not in copied_set and key in teacher_state]
    line = f"initialised {len(copied)} of {len(student_state)} world-model tensors from teacher {teacher_name!r}"
    details = []
    if absent:
        details.append(f"{len(absent)} not in the teacher, left fresh ({_modules(absent)})")
    if mismatched:
        shapes = ", ".join(f"{key} {list(teacher_state[key].shape)} vs {list(student_state[key].shape)}" for key in mismatched[:3])
        more = f" and {len(mismatched) - 3} more" if len(mismatched) > 3 else ""
        details.append(f"{len(mismatched)} of another shape, left fresh ({shapes}{more})")
    teacher_actions = getattr(teacher, "action_dim", None)
    student_actions = getattr(student, "action_dim", None)
    if teacher_actions is not None and student_actions is not None and teacher_actions != student_actions:
        shared = min(teacher_actions, student_actions)
        details.append(
            f"the teacher takes {teacher_actions} actions, the student {student_actions}: "
            f"the action input copies the first {shared} columns, the rest start at zero"
        )
    return line + ("; " + "; ".join(details) if details else "")


def _modules(keys: list[str]) -> str:
    """Tensor names grouped by their top-level module: "reward_head (4 tensors)"."""
    counts: dict[str, int] = {}
    for key in keys:
        module = key.split(".", 1)[0]
        counts[module] = counts.get(module, 0) + 1
    return ", ".join(f"{module} ({count} tensor{'s' if count > 1 else ''})" for module, count in counts.items())


# Resuming pins teachers by content: a transfer run records the sha256 of each teacher's weight
# tensors when it starts (the run section of `config.yaml`, key `teacher_sha256`), and a resume (or
# `vid2act evaluate`) whose teacher of the same name now has other weights is refused. The replay holds
# the old teacher's features, and the student was distilled from it: continuing with other weights
# would mix two teachers in one run.
#
# The pin is `weights_digest` of the tensors, not the registry's `weights_sha256` of the file:
# safetensors writes the header metadata in no fixed order, so the same weights written again (an
# import, an attached action-replay set) make a file with another hash.

PINS_KEY = "teacher_sha256"
"""Key of the run section (`config.yaml`) mapping each teacher (and the --init-from one) to its tensors' sha256."""


def teacher_pins(names: Iterable[str], registry) -> dict[str, str]:
    """Teacher name -> `weights_digest` of its weights as the registry holds them now (`registry`: a TeacherRegistry)."""
    return {name: weights_digest(registry.load(name, device="cpu", frozen=True)[0].state_dict()) for name in names}


RESUME_CONSEQUENCE = "resuming would continue with another teacher: restore the original teacher or use another --logdir"
EVALUATE_CONSEQUENCE = "evaluating would act with another teacher: restore the original teacher"


def check_teacher_pins(
    run_dir: Path, recorded: Mapping[str, str] | None, current: Mapping[str, str], consequence: str = RESUME_CONSEQUENCE
) -> None:
    """Raise a one-line ValueError naming the first teacher whose weights changed since `run_dir` started.

    `recorded` is None for a run directory that holds no pins: nothing to compare against.
    `consequence` ends the line (what the command would otherwise do).
    """
    for name, sha256 in (recorded or {}).items():
        now = current.get(name)
        if now is not None and now != sha256:
            raise ValueError(
                f"{run_dir}: teacher {name!r} changed since this run started (tensor sha256 {sha256} then, {now} now); "
                + consequence
            )
