"""Which registered teachers `vid2act transfer` uses: all that can serve the target, or the named ones.

Without --teachers (or with `all`) the run takes every per-task teacher of the registry
(`transfer_teacher_names`: never multitask or action-free models) that can serve the target:
kind, format and image size as `check_compatible` says; a source of action-replay pairs when
guidance is on (`resolve_guidance_sources`); and one architecture for all of them
(`architecture_mismatches`: the ensemble stacks their weights), the student's where a teacher has
it, else the one most teachers share. Each teacher left out gets one note naming it and why.
Teachers named in --teachers are refused instead when one cannot serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vid2act_core.compat import architecture_mismatches
from vid2act_core.config import Config
from vid2act_teachers.registry import check_compatible
from vid2act_teachers.teacher_kinds import transfer_teacher_names

from vid2act_cli.compose.replay_sets import resolve_guidance_sources

ADD_HINT = "add one with `vid2act teachers add TASK`"


@dataclass
class TeacherChoice:
    """The teachers a run takes when none are named, and one note per registered teacher left out."""

    names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _serving_problem(registry: Any, name: str, config: Config, given: dict[str, Path], home: Path) -> str | None:
    """Why teacher `name` cannot serve a run of `config` (one line naming it), None when it can."""
    try:
        check_compatible(registry.info(name), config.env.image_size)
        if config.transfer.guidance:
            resolve_guidance_sources(registry, [name], {key: value for key, value in given.items() if key == name}, home)
    except ValueError as error:  # TeacherError included: unreadable, wrong kind or size, no pairs
        return str(error).splitlines()[0]
    return None


def _shared_architecture(architectures: dict[str, Any], student: Any) -> tuple[Any, str | None]:
    """The architecture the chosen teachers share and whose it is (None: the student's, else a
    teacher's name): the student's where a teacher has it, else the one most teachers have (the
    first by name on a tie)."""
    if any(not architecture_mismatches(settings, student) for settings in architectures.values()):
        return student, None

    def peers(name: str) -> int:
        return sum(not architecture_mismatches(architectures[name], other) for other in architectures.values())

    best = max(architectures, key=peers)  # max keeps the first of equals, and names are sorted
    return architectures[best], best


def choose_teachers(registry: Any, config: Config, given: dict[str, Path], home: Path) -> TeacherChoice:
    """Every registered teacher that can serve a run of `config` (module docstring); refuses in one
    line when the registry has none, or none of them can serve."""
    candidates = sorted(transfer_teacher_names(registry))
    if not candidates:
        raise ValueError(f"no teachers: the registry at {registry.teachers_dir} holds no per-task teacher; "
                         f"{ADD_HINT}, or train without teachers (--no-distill)")
    reasons: dict[str, str] = {}
    architectures: dict[str, Any] = {}
    for name in candidates:
        problem = _serving_problem(registry, name, config, given, home)
        if problem is None:
            architectures[name] = registry.config(name).world_model
        else:
            reasons[name] = problem
    if architectures:
        reference, owner = _shared_architecture(architectures, config.world_model)
        label = "the student" if owner is None else f"teacher {owner!r}"
        for name in list(architectures):
            mismatches = architecture_mismatches(architectures[name], reference, labels=(name, owner or "student"))
            if mismatches:
                reasons[name] = f"teacher {name!r} has another architecture than {label} ({'; '.join(mismatches)})"
                del architectures[name]
    if not architectures:
        raise ValueError(f"no registered teacher can serve {config.env.task}: {'; '.join(reasons.values())}; {ADD_HINT}")
    notes = [f"note: left out {reasons[name]}" for name in candidates if name in reasons]
    return TeacherChoice(names=list(architectures), notes=notes)


def check_one_architecture(registry: Any, names: list[str]) -> None:
    """Refuse named teachers that do not share one architecture (the ensemble stacks their weights)."""
    first = registry.config(names[0]).world_model
    for name in names[1:]:
        mismatches = architecture_mismatches(registry.config(name).world_model, first, labels=(name, names[0]))
        if mismatches:
            raise ValueError(f"--teachers: teacher {name!r} has another architecture than {names[0]!r} "
                             f"({'; '.join(mismatches)}); teachers of one run share one")
