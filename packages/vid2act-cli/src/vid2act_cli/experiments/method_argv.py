"""The `vid2act transfer` options of one method's run in a grid, from its entry in `vid2act_core.methods`."""

from __future__ import annotations

from vid2act_core.methods import Method


def method_argv(method: Method, teachers: str, init_teacher: str, video_model: str) -> list[str]:
    """What `method.source` needs (`--teachers`, `--init-from`) and `method.flags`, in the order the grids write them.

    teachers: comma-separated names the distilling methods use; init_teacher: the teacher an
    `init-teacher` method starts from; video_model: the action-free model a `video-model` method fine-tunes.
    """
    if method.source == "init-teacher":
        return ["--init-from", init_teacher, *method.flags]
    if method.source == "video-model":
        return [*method.flags, "--init-from", video_model]
    if method.source == "none":
        return list(method.flags)
    return ["--teachers", teachers, *method.flags]
