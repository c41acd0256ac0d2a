"""Resuming pins teachers by content: a transfer run records each teacher's `weights_sha256` when it
starts (the run section of `config.yaml`, key `teacher_sha256`), and a resume whose teacher of the
same name now has other weights is refused. The replay holds the old teacher's features, and the
student was distilled from it: continuing with other weights would mix two teachers in one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

PINS_KEY = "teacher_sha256"
"""Key of the run section (`config.yaml`) mapping each teacher (and the --init-from one) to its weights' sha256."""


def teacher_pins(names: Iterable[str], registry) -> dict[str, str]:
    """Teacher name -> `weights_sha256` as the registry records it now (`registry`: a TeacherRegistry)."""
    return {name: registry.info(name).weights_sha256 for name in names}


def check_teacher_pins(run_dir: Path, recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> None:
    """Raise a one-line ValueError naming the first teacher whose weights changed since `run_dir` started.

    `recorded` is None for runs started before pins were recorded: nothing to compare against.
    """
    for name, sha256 in (recorded or {}).items():
        now = current.get(name)
        if now is not None and now != sha256:
            raise ValueError(
                f"{run_dir}: teacher {name!r} changed since this run started (weights_sha256 {sha256} then, {now} now); "
                "resuming would continue with another teacher: restore the original teacher or use another --logdir"
            )
