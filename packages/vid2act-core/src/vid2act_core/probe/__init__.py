"""The offline dynamics-transfer probe: does distillation make the student's world model better?

| module | job |
|---|---|
| `student.py` | configurations (`ProbeVariant`), the offline student update loop (`train_student`), W per teacher |
| `metrics.py` | open-loop image and reward errors on fixed held-out windows (`open_loop_errors`) |
| `controls.py` | the controls that train nothing: mean image, last frame, a teacher's own prediction |

The grid, the teachers' features, resumable cells, the table and the plots are the CLI's
(`vid2act_cli.compose.probe`, `vid2act probe`).
"""

from vid2act_core.probe.controls import PREDICTORS, LastFramePredictor, MeanImagePredictor, teacher_predictor
from vid2act_core.probe.metrics import (
    OpenLoopPrediction,
    OpenLoopPredictor,
    WorldModelPredictor,
    fixed_windows,
    open_loop_errors,
)
from vid2act_core.probe.student import (
    DIAGNOSTIC_PREFIX,
    LOSS_KEYS,
    SOURCES,
    TEACHER_SETS,
    ProbeHistory,
    ProbeSchedule,
    ProbeStudent,
    ProbeVariant,
    build_student,
    select_teacher_columns,
    student_config,
    train_student,
)

__all__ = [
    "DIAGNOSTIC_PREFIX",
    "LOSS_KEYS",
    "PREDICTORS",
    "SOURCES",
    "LastFramePredictor",
    "MeanImagePredictor",
    "TEACHER_SETS",
    "OpenLoopPrediction",
    "OpenLoopPredictor",
    "ProbeHistory",
    "ProbeSchedule",
    "ProbeStudent",
    "ProbeVariant",
    "WorldModelPredictor",
    "build_student",
    "fixed_windows",
    "open_loop_errors",
    "select_teacher_columns",
    "student_config",
    "teacher_predictor",
    "train_student",
]
