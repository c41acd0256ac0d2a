"""Moving teachers between machines: one self-contained .safetensors file per teacher.

An exported teacher is its model.safetensors as is: the header holds the weights' config and
every metadata key, so importing it needs nothing else. A teacher with an action-replay set is
exported as one file holding the weights plus the set's tensors under `replay_set/` and its
metadata under the header key `vid2act.replay_set` (`teacher_replay_set.export_entries`); importing
splits them again. Both directions check the teacher fully before writing anything.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from vid2act_core.runtime.fileio import atomic_path, sha256_file

from vid2act_teachers.teacher_format import (
    CONFIG_FILE,
    MODEL_FILE,
    NAME_METADATA_KEY,
    TeacherInfo,
    read_teacher_file,
    teacher_error,
    validate_name,
)
from vid2act_teachers.teacher_replay_set import (
    EXPORT_TENSOR_PREFIX,
    REPLAY_SET_FILE,
    ReplaySet,
    check_fits_teacher,
    export_entries,
    split_export,
    weights_digest,
)
from vid2act_teachers.teacher_verify import build_world_model, check_file_layout, load_tensors, require_finite


@dataclass(frozen=True)
class ImportedTeacher:
    """A checked teacher read from an exported file, ready to be written to the registry."""

    name: str
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str]
    """Header metadata, with the vid2act.name key set to `name`."""
    replay_set: ReplaySet | None = None
    """The action-replay set the file carries, checked against the weights."""


def check_export_target(name: str, file: Path, overwrite: bool) -> Path:
    """`file` (user-expanded) if an export may be written there."""
    file = Path(file).expanduser()
    if file.exists() and not overwrite:
        raise teacher_error(name, f"cannot export to {file}: the file exists (pass overwrite to replace it)")
    if file.is_dir():
        raise teacher_error(name, f"cannot export to {file}: it is a directory")
    return file


def write_export(
    info: TeacherInfo,
    tensors: dict[str, torch.Tensor],
    file: Path,
    metadata: dict[str, str] | None = None,
    replay_set: ReplaySet | None = None,
) -> Path:
    """Write the (already checked) teacher `info` to `file` atomically; `tensors` are its loaded weights.

    Without a replay set the file is a copy of model.safetensors; with one (`metadata`: the
    weights' header metadata) it is the weights and the set in one safetensors file.
    """
    from safetensors.torch import save_file

    require_finite(info.name, tensors, lambda key: f"tensor {key!r} contains NaN or infinity; not exporting")
    with atomic_path(file) as partial:
        if replay_set is None:
            shutil.copyfile(info.path / MODEL_FILE, partial)
            if sha256_file(partial) != info.weights_sha256:
                raise teacher_error(info.name, f"{MODEL_FILE} changed while it was being exported; try again")
        else:
            set_tensors, set_metadata = export_entries(replay_set)
            save_file({**tensors, **set_tensors}, str(partial), metadata={**(metadata or {}), **set_metadata})
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
    weights_only = dataclasses.replace(
        teacher_file,
        shapes={key: shape for key, shape in teacher_file.shapes.items() if not key.startswith(EXPORT_TENSOR_PREFIX)},
        dtypes={key: dtype for key, dtype in teacher_file.dtypes.items() if not key.startswith(EXPORT_TENSOR_PREFIX)},
    )
    check_file_layout(name, weights_only)
    tensors, metadata, replay_set = split_export(name, load_tensors(name, file, what=what), teacher_file.metadata, what)
    require_finite(name, tensors, lambda key: f"tensor {key!r} in {file.name} contains NaN or infinity; not importing")
    if replay_set is not None:
        with torch.device("meta"):
            feature_size = build_world_model(
                name, teacher_file.config, teacher_file.action_dim, teacher_file.image_size, "meta"
            ).feature_size
        check_fits_teacher(name, replay_set, feature_size, teacher_file.action_dim, weights_digest(tensors), f"the replay set in {file.name}")
    metadata[NAME_METADATA_KEY] = name
    return ImportedTeacher(name=name, tensors=tensors, metadata=metadata, replay_set=replay_set)


def write_plugin_directory(info: TeacherInfo, target: Path, overwrite: bool) -> Path:
    """Copy the (already verified) teacher `info` into `target`, the layout a plugin ships:
    model.safetensors, config.json and, when it has one, replay_set.safetensors."""
    if target.exists() and not overwrite:
        raise teacher_error(info.name, f"cannot export to {target}: it exists (pass overwrite to replace it)")
    files = [MODEL_FILE, CONFIG_FILE] + ([str(info.replay_set.get("file", REPLAY_SET_FILE))] if info.replay_set else [])
    target.mkdir(parents=True, exist_ok=True)
    (target / REPLAY_SET_FILE).unlink(missing_ok=True)  # an older export's set must not outlive it
    for file_name in files:
        with atomic_path(target / file_name) as partial:
            shutil.copyfile(info.path / file_name, partial)
    return target
