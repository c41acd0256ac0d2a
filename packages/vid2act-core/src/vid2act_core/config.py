"""Every hyperparameter of vid2act in typed dataclasses: the single source of truth.

A `Config` is built from a preset stack (`paper-dmc`, `paper-metaworld`, `small`, `tiny`,
optionally followed by override blocks: `small,cpu-demo`), then optionally a YAML file, then
`key.sub=value` overrides, in that order. The resolved config is saved beside every run and every
teacher (`config.yaml` / `config.json`).

This module is the config API: the schema lives in `config_schema`, presets in `presets`, typed
dotted-key setting in `config_overrides`; their public names are importable from here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from vid2act_core.config_overrides import apply_mapping, apply_overrides, set_value
from vid2act_core.config_schema import (
    ActorCriticConfig,
    Config,
    ConfigError,
    EnvConfig,
    PretrainConfig,
    TrainConfig,
    TransferConfig,
    WorldModelConfig,
)
from vid2act_core.presets import PRESET_BLOCKS, PRESETS, preset

__all__ = [
    "PRESETS",
    "PRESET_BLOCKS",
    "ActorCriticConfig",
    "Config",
    "ConfigError",
    "EnvConfig",
    "PretrainConfig",
    "TrainConfig",
    "TransferConfig",
    "WorldModelConfig",
    "apply_mapping",
    "apply_overrides",
    "config_from_dict",
    "load_config",
    "preset",
    "set_value",
]


LEGACY_DISTILLATION = {"distill_form": "paper", "distill_reduction": "sum"}
"""The distillation of a saved config that names no `transfer.distill_form`."""


def load_config(
    preset_name: str = "paper-dmc",
    yaml_path: str | Path | None = None,
    overrides: list[str] | None = None,
) -> Config:
    """Preset stack (e.g. `small,cpu-demo`), then YAML file, then overrides."""
    config = preset(preset_name)
    if yaml_path is not None:
        path = Path(yaml_path)
        try:
            mapping = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
        if mapping:
            apply_mapping(config, mapping, str(path))
    apply_overrides(config, overrides or [])
    return config


def config_from_dict(mapping: dict[str, Any]) -> Config:
    """Rebuild a Config saved with `to_dict` (starts from its own preset stack's values)."""
    mapping = copy.deepcopy(mapping)
    transfer = mapping.get("transfer")
    if isinstance(transfer, dict) and "distill_form" not in transfer:
        # Saved before the distillation had forms: such a run trained Eq. 4 as written, and its checkpoint holds f_distill.
        transfer.update(LEGACY_DISTILLATION)
    config = preset(mapping.pop("preset", "paper-dmc"))
    return apply_mapping(config, mapping, "saved config")
