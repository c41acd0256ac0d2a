"""Setting config fields by dotted key, with the field's type enforced: `--set` and YAML files."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal

import yaml

from vid2act_core.config_schema import Config, ConfigError


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert a YAML/CLI value to the field's annotated type, or raise ConfigError naming key."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if origin is Literal:
        for option in args:
            if value == option or str(value) == str(option):
                return option
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, args))}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
        if not number.is_integer():
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(number)
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if annotation is str:
        return str(value)
    raise ConfigError(f"{key}: unsupported field type {annotation!r}")


def _field_types(node: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(node))


def set_value(config: Config, key: str, value: Any) -> None:
    """Set one dotted key (`world_model.deter`) with type checking."""
    node: Any = config
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not dataclasses.is_dataclass(node):
            raise ConfigError(f"unknown config key {key!r}")
        names = [f.name for f in dataclasses.fields(node)]
        if part not in names:
            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join('.'.join(parts[:depth] + [c]) for c in close)}?" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}")
        if depth == len(parts) - 1:
            annotation = _field_types(node)[part]
            if dataclasses.is_dataclass(getattr(node, part)):
                if not isinstance(value, dict):
                    raise ConfigError(f"{key}: expected a mapping of sub-keys")
                for sub_key, sub_value in value.items():
                    set_value(config, f"{key}.{sub_key}", sub_value)
            else:
                setattr(node, part, _coerce(value, annotation, key))
        else:
            node = getattr(node, part)


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply `a.b=value` strings; values are parsed as YAML scalars (`1e-4`, `true`, `none`)."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like key.sub=value")
        key, raw = override.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        set_value(config, key.strip(), value)
    return config


def apply_mapping(config: Config, mapping: dict[str, Any], source: str = "mapping") -> Config:
    """Apply a nested dict (as read from YAML); unknown keys raise ConfigError naming `source`."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    for key, value in mapping.items():
        try:
            set_value(config, key, value)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    return config
