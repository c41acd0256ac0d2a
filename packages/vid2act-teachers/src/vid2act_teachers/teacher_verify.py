"""Checking a teacher's tensors against its stated architecture, and its config.json against its header.

Every check raises `TeacherError` naming the teacher and the first problem: a tensor that is
missing, unexpected, or of the wrong shape or dtype for the `WorldModel` the stored config builds;
a NaN or infinite weight; unreadable tensor data; a config.json that disagrees with the header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file

from vid2act_core.config import Config
from vid2act_core.world_model import WorldModel

from vid2act_teachers.teacher_format import (
    CONFIG_FILE,
    CONFIG_KEY,
    META_PREFIX,
    MODEL_FILE,
    TeacherFile,
    metadata_json_value,
    teacher_error,
)

SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
"""torch dtype -> the dtype name safetensors reports for it."""

ExpectedTensors = dict[str, tuple[tuple[int, ...], torch.dtype]]


def build_world_model(
    name: str, config: Config, action_dim: int, image_size: int, device: str | torch.device = "cpu"
) -> WorldModel:
    """The `WorldModel` the stored config describes (raises TeacherError if it cannot be built)."""
    try:
        return WorldModel(config.world_model, action_dim, image_size).to(device)
    except (ValueError, RuntimeError, TypeError) as error:
        raise teacher_error(name, f"cannot build the stated architecture: {str(error).splitlines()[0]}") from None


def expected_tensors(name: str, config: Config, action_dim: int, image_size: int) -> ExpectedTensors:
    """Name -> (shape, dtype) of the state dict of `WorldModel(...)` built from the stated config."""
    with torch.device("meta"):
        model = build_world_model(name, config, action_dim, image_size, device="meta")
    return {key: (tuple(tensor.shape), tensor.dtype) for key, tensor in model.state_dict().items()}


def check_tensor_layout(
    name: str,
    shapes: dict[str, tuple[int, ...]],
    dtypes: dict[str, str] | None,
    expected: ExpectedTensors,
) -> None:
    """Raise naming the first tensor that is missing, unexpected, or of the wrong shape or dtype."""
    for key in sorted(set(expected) | set(shapes)):
        if key not in shapes:
            raise teacher_error(name, f"weights lack tensor {key!r} that the stated architecture has")
        if key not in expected:
            raise teacher_error(name, f"weights have tensor {key!r} that the stated architecture does not have")
        expected_shape, expected_dtype = expected[key]
        if shapes[key] != expected_shape:
            raise teacher_error(
                name, f"tensor {key!r} has shape {list(shapes[key])}, the stated architecture needs {list(expected_shape)}"
            )
        if dtypes is not None:
            wanted = SAFETENSORS_DTYPES.get(expected_dtype, str(expected_dtype))
            if dtypes[key] != wanted:
                raise teacher_error(name, f"tensor {key!r} has dtype {dtypes[key]}, the stated architecture needs {wanted}")


def check_file_layout(name: str, teacher_file: TeacherFile) -> None:
    """Check a teacher file's tensor names, shapes and dtypes against the architecture its header states."""
    expected = expected_tensors(name, teacher_file.config, teacher_file.action_dim, teacher_file.image_size)
    check_tensor_layout(name, teacher_file.shapes, teacher_file.dtypes, expected)


def check_state_dict(name: str, tensors: dict[str, torch.Tensor], config: Config, action_dim: int) -> None:
    """Check tensors about to be saved: the layout of the stated architecture, and all finite."""
    expected = expected_tensors(name, config, action_dim, int(config.env.image_size))
    dtypes = {key: SAFETENSORS_DTYPES.get(tensor.dtype, str(tensor.dtype)) for key, tensor in tensors.items()}
    check_tensor_layout(name, {key: tuple(tensor.shape) for key, tensor in tensors.items()}, dtypes, expected)
    require_finite(name, tensors, lambda key: f"refusing to save: {_non_finite_problem(key)}")


def first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """Name of the first floating-point tensor (sorted) holding NaN or infinity, else None."""
    for key in sorted(tensors):
        tensor = tensors[key]
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return key
    return None


def _non_finite_problem(key: str) -> str:
    return f"tensor {key!r} contains NaN or infinity"


def require_finite(name: str, tensors: dict[str, torch.Tensor], problem: Callable[[str], str] = _non_finite_problem) -> None:
    """Raise `teacher NAME: problem(KEY)` for the first tensor KEY holding NaN or infinity."""
    bad = first_non_finite(tensors)
    if bad is not None:
        raise teacher_error(name, problem(bad))


def load_tensors(name: str, file: Path, device: str | torch.device = "cpu", what: str = MODEL_FILE) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file (no unpickling); corrupt data raises TeacherError."""
    try:
        return load_file(str(file), device=str(device))
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise teacher_error(name, f"{what} is corrupt or truncated, its tensors cannot be read ({reason})") from None


def load_world_model(
    name: str, teacher_file: TeacherFile, file: Path, device: str | torch.device = "cpu"
) -> tuple[WorldModel, dict[str, torch.Tensor]]:
    """Build the stated architecture and load the file's tensors into it (strict)."""
    check_file_layout(name, teacher_file)
    tensors = load_tensors(name, file, device)
    model = build_world_model(name, teacher_file.config, teacher_file.action_dim, teacher_file.image_size, device)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise teacher_error(name, f"weights do not load into the stated architecture ({str(error).splitlines()[0]})") from None
    return model, tensors


def check_config_json_agrees(name: str, stored: dict[str, Any], teacher_file: TeacherFile) -> None:
    """Raise if config.json's config or info values disagree with the model file's header."""
    if stored.get("config") != json.loads(teacher_file.metadata[CONFIG_KEY]):
        raise teacher_error(name, f"{CONFIG_FILE}'s config differs from the one in {MODEL_FILE}'s header")
    stored_info = stored.get("info") or {}
    for key, value in teacher_file.metadata.items():
        short = key[len(META_PREFIX) :]
        if key == CONFIG_KEY or not key.startswith(META_PREFIX) or short not in stored_info:
            continue
        if stored_info[short] != metadata_json_value(key, value):
            raise teacher_error(name, f"{CONFIG_FILE} says {short}={stored_info[short]!r}, the header says {value!r}")


def unwrap_module(module: torch.nn.Module) -> torch.nn.Module:
    """The model inside DataParallel / DistributedDataParallel / torch.compile wrappers."""
    while True:
        if isinstance(module, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
            module = module.module
        elif isinstance(getattr(module, "_orig_mod", None), torch.nn.Module):
            module = module._orig_mod  # type: ignore[assignment]
        else:
            return module
