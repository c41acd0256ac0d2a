"""Which world-model settings a teacher and a student (or two teachers) must share.

One definition used by the config's architecture hash, registry import, transfer planning,
teacher ensembles and --init-from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # config imports this module (for the hash fields); no runtime import back
    from vid2act_core.config import WorldModelConfig

    WorldModelSettings = WorldModelConfig | Mapping[str, Any]

ARCHITECTURE_FIELDS: tuple[str, ...] = ("latent", "stoch", "classes", "deter", "hidden", "cnn_depth")
"""Settings that shape the encoder, the RSSM and the decoder, and so the latent state: teachers
evaluated together, and a teacher and the student it initialises, must agree on all of them."""

HEAD_FIELDS: tuple[str, ...] = ("mlp_units", "reward_layers", "use_reward_head", "use_cont_head")
"""Settings that shape the reward and continuation heads (a teacher has none, a student has)."""

LATENT_BEHAVIOUR_FIELDS: tuple[str, ...] = ("min_std", "unimix")
"""Settings that change no weight shape but how the latent distribution is read from the weights:
a student initialised from a teacher takes these too."""

MODEL_HASH_FIELDS: tuple[str, ...] = ARCHITECTURE_FIELDS + HEAD_FIELDS
"""Everything that shapes the world model's weights: `Config.world_model_hash` covers these."""

def _as_mapping(settings: WorldModelSettings) -> Mapping[str, Any]:
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return dataclasses.asdict(settings)
    return settings  # type: ignore[return-value]


def architecture_mismatches(
    teacher: WorldModelSettings,
    student: WorldModelSettings,
    fields: Iterable[str] = ARCHITECTURE_FIELDS,
    labels: tuple[str, str] = ("teacher", "student"),
) -> list[str]:
    """One line per differing field, "field: teacher X vs student Y"; empty when compatible.

    teacher, student: `WorldModelConfig`s or their `dataclasses.asdict` mappings.
    labels: the words naming the two sides in each line (e.g. two teachers' names).
    """
    first, second = _as_mapping(teacher), _as_mapping(student)
    mismatches = []
    for name in fields:
        if name not in first or name not in second:
            raise KeyError(f"architecture field {name!r} is not a world-model setting")
        if first[name] != second[name]:
            mismatches.append(f"{name}: {labels[0]} {first[name]} vs {labels[1]} {second[name]}")
    return mismatches
