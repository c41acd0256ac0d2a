"""Which registered models may be transfer teachers: per-task teachers, never multitask models.

A multitask model (`vid2act pretrain --multitask`, kind "multitask" in its header) is one world
model pretrained on several tasks' data: the pretrained-DreamerV2 baseline starts from it
(`--init-from`). It is not one source task's dynamics, so Eq. 3-4 cannot weigh it as a teacher.
"""

from __future__ import annotations

from vid2act_teachers.teacher_format import KIND_TASK, TeacherError


def transfer_teacher_names(registry) -> list[str]:
    """What `--teachers all` means: every name of `registry` (a TeacherRegistry) except multitask models.

    Unreadable teachers stay in the list, so that using them is refused naming them.
    """
    names = []
    for name in registry.names():
        try:
            kind = registry.info(name).kind
        except TeacherError:
            kind = KIND_TASK
        if kind == KIND_TASK:
            names.append(name)
    return names
