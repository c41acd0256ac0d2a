"""Vid2Act transfer (paper 4.3-4.4, Algorithm 1); docs/method.md maps each equation to its function.

| module | job |
|---|---|
| `scorers.py` | f_weight of Eq. 3 (`prediction_error`, `paper`, `mlp`, `similarity`) |
| `distill_heads.py` | f_distill, shared or per teacher |
| `distillation.py` | W (Eq. 3) and L_distill (Eq. 4) with burn-in |
| `action_vae.py` | G (Eq. 6-7) |
| `sources.py` | source (state, action) pairs; initialisation from a teacher |
| `selection.py` | task selection k and the actor's guidance in imagination |
| `agent.py` | `TransferAgent`, the student |
"""

from vid2act_core.transfer.action_vae import ActionVAE
from vid2act_core.transfer.agent import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY, UNIFORM_SELECTION, TransferAgent
from vid2act_core.transfer.distillation import TaskSelectiveDistillation
from vid2act_core.transfer.selection import ImaginationGuidance, TaskSelector
from vid2act_core.transfer.sources import SourcePairs, initialise_from_teacher

__all__ = [
    "TEACHER_FEATURE_KEY",
    "TEACHER_POSTERIOR_KEY",
    "UNIFORM_SELECTION",
    "ActionVAE",
    "ImaginationGuidance",
    "SourcePairs",
    "TaskSelectiveDistillation",
    "TaskSelector",
    "TransferAgent",
    "initialise_from_teacher",
]
