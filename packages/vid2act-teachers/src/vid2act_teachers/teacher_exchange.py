"""Moving teachers between machines: one self-contained .safetensors file per teacher.

An exported teacher is its model.safetensors as is: the header holds the weights' config and
every metadata key, so importing it needs nothing else. Both directions check the teacher fully
before writing anything.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from vid2act_core.fileio import atomic_path, sha256_file

from vid2act_teachers.teacher_format import (
    MODEL_FILE,
    NAME_METADATA_KEY,
    TeacherInfo,
    read_teacher_file,
    teacher_error,
    validate_name,
)
from vid2act_teachers.teacher_verify import check_file_layout, load_tensors, require_finite


@dataclass(frozen=True)
class ImportedTeacher:
    """A checked teacher read from an exported file, ready to be written to the registry."""

    name: str
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str]
    """Header metadata, with the vid2act.name key set to `name`."""


def check_export_target(name: str, file: Path, overwrite: bool) -> Path:
    """`file` (user-expanded) if an export may be written there."""
    file = Path(file).expanduser()
    if file.exists() and not overwrite:
        raise teacher_error(name, f"cannot export to {file}: the file exists (pass overwrite to replace it)")
    if file.is_dir():
        raise teacher_error(name, f"cannot export to {file}: it is a directory")
    return file


def write_export(info: TeacherInfo, tensors: dict[str, torch.Tensor], file: Path) -> Path:
    """Copy the (already checked) teacher `info` to `file` atomically; `tensors` are its loaded weights."""
    require_finite(info.name, tensors, lambda key: f"tensor {key!r} contains NaN or infinity; not exporting")
    with atomic_path(file) as partial:
        shutil.copyfile(info.path / MODEL_FILE, partial)
        if sha256_file(partial) != info.weights_sha256:
            raise teacher_error(info.name, f"{MODEL_FILE} changed while it was being exported; try again")
    return file


def read_export(file: Path, name: str | None = None) -> ImportedTeacher:
    """Read and fully check an exported teacher file, named `name`, else the name stored in it,
    else the file's stem."""
    file = Path(file).expanduser()
    what = f"file {file.name}"
    teacher_file = read_teacher_file(name if name is not None else file.name, file, what=what)
    if name is None:
        name = teacher_file.metadata.get(NAME_METADATA_KEY) or file.stem
    validate_name(name)
    check_file_layout(name, teacher_file)
    tensors = load_tensors(name, file, what=what)
    require_finite(name, tensors, lambda key: f"tensor {key!r} in {file.name} contains NaN or infinity; not importing")
    metadata = dict(teacher_file.metadata)
    metadata[NAME_METADATA_KEY] = name
    return ImportedTeacher(name=name, tensors=tensors, metadata=metadata)
