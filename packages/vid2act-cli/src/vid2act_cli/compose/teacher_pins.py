"""Resuming pins teachers by content: a transfer run records the sha256 of each teacher's weight
tensors when it starts (the run section of `config.yaml`, key `teacher_sha256`), and a resume (or
`vid2act evaluate`) whose teacher of the same name now has other weights is refused. The replay holds
the old teacher's features, and the student was distilled from it: continuing with other weights
would mix two teachers in one run.

The pin is `weights_digest` of the tensors, not the registry's `weights_sha256` of the file:
safetensors writes the header metadata in no fixed order, so the same weights written again (an
import, an attached action-replay set) make a file with another hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

PINS_KEY = "teacher_sha256"
"""Key of the run section (`config.yaml`) mapping each teacher (and the --init-from one) to its tensors' sha256."""


def teacher_pins(names: Iterable[str], registry) -> dict[str, str]:
    """Teacher name -> `weights_digest` of its weights as the registry holds them now (`registry`: a TeacherRegistry)."""
    from vid2act_teachers.teacher_replay_set import weights_digest

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
