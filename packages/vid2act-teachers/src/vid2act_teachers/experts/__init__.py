"""State-based DeepMind Control experts: SAC on flattened proprioceptive state, cached as artefacts.

Training needs no rendering; the trained actor is then rolled out in the pixel environment to
write source datasets (`rollout.py`). See docs/experts.md for budgets and measured returns.
"""

from vid2act_teachers.experts.config import DEFAULT_STEPS, ExpertConfig, default_steps
from vid2act_teachers.experts.store import ExpertError, ExpertMetadata, expert_dir, list_experts, load_expert
from vid2act_teachers.experts.train import TrainResult, train_expert

__all__ = [
    "DEFAULT_STEPS",
    "ExpertConfig",
    "ExpertError",
    "ExpertMetadata",
    "TrainResult",
    "default_steps",
    "expert_dir",
    "list_experts",
    "load_expert",
    "train_expert",
]
