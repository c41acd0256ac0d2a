"""What `--init-from TEACHER` copied into the student and what it left freshly initialised."""

from __future__ import annotations

import torch


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
