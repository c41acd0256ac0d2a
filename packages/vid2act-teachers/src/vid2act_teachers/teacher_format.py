"""The teacher file format: header metadata schema, `TeacherInfo`, teacher names, one-line errors.

A teacher file is a safetensors file whose header `__metadata__` carries namespaced string keys
(`REQUIRED_METADATA_KEYS`): `vid2act.config` is the resolved `Config` as JSON, the others say
where the teacher came from. The file is self-contained; `config.json` beside it in the registry
repeats the metadata as JSON values and adds the weights' sha256 (`config_json_document`).
Reading a header (`read_teacher_file`) never reads tensor data and never unpickles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safetensors import safe_open

from vid2act_core.config import Config, ConfigError, config_from_dict

import vid2act_teachers

FORMAT_VERSION = 1
"""Version of the on-disk teacher format this library writes and the newest it reads."""

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

SOURCE_REGISTRY = "registry"
PLUGIN_SOURCE_PREFIX = "plugin:"
SOURCE_FILE = "file"
"""Source of a `TeacherInfo` read from a loose file (an export being imported)."""

META_PREFIX = "vid2act."
CONFIG_KEY = META_PREFIX + "config"
REQUIRED_METADATA_KEYS: tuple[str, ...] = tuple(
    META_PREFIX + key
    for key in (
        "format_version",
        "domain",
        "task",
        "image_size",
        "action_dim",
        "obs_shape",
        "model_hash",
        "train_steps",
        "dataset_sha256",
        "library_version",
        "created",
        "config",
    )
)
"""Header metadata keys every teacher file must carry."""

NAME_METADATA_KEY = META_PREFIX + "name"
"""Optional header key: the name the teacher was saved under (used when importing)."""
SOURCE_EXPERT_KEY = META_PREFIX + "source_expert"
"""Optional header key: JSON object naming the expert that collected the teacher's dataset
(sha256, algorithm, agent_steps, eval_return), written when every dataset records the same one."""

KIND_KEY = META_PREFIX + "kind"
"""Optional header key: what the model is, one of `TEACHER_KINDS`; absent means KIND_TASK."""
KIND_TASK = "task"
"""A per-task teacher: a world model pretrained on one source task (the paper's F^i)."""
KIND_MULTITASK = "multitask"
"""One world model pretrained on several tasks' data (the pretrained-DreamerV2 baseline's
initialisation, `vid2act pretrain --multitask`); never a transfer teacher."""
KIND_ACTION_FREE = "action-free"
"""APV's action-free video model (`vid2act pretrain --action-free`, no action input); `--method apv
--init-from` fine-tunes it; never a transfer teacher."""
TEACHER_KINDS = (KIND_TASK, KIND_MULTITASK, KIND_ACTION_FREE)

_INTEGER_KEYS = ("format_version", "image_size", "action_dim", "train_steps")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class TeacherError(ValueError):
    """A teacher that cannot be found, read, written or used; the message is one line naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def teacher_error(name: str, problem: str) -> TeacherError:
    """`TeacherError("teacher 'NAME': PROBLEM")`."""
    return TeacherError(f"teacher {name!r}: {problem}")


@dataclass(frozen=True)
class TeacherInfo:
    """Everything the registry knows about one teacher (from its header and config.json)."""

    name: str
    domain: str
    """Domain of the source task, e.g. "dmc" or "toy"."""
    task: str
    """Task inside the domain, e.g. "walker_walk" or "reach"."""
    image_size: int
    """Square image side the teacher was trained on."""
    action_dim: int
    """Action size of the source task (the world model's action input)."""
    obs_shape: tuple[int, ...]
    """Image observation shape (H, W, 3)."""
    model_hash: str
    """`Config.world_model_hash()` of the stored config: equal hashes share an architecture."""
    train_steps: int
    """World-model updates the teacher was trained for."""
    dataset_sha256: str
    """sha256 of the dataset it was trained on."""
    library_version: str
    """vid2act-teachers version that wrote it."""
    format_version: int
    created: str
    """ISO 8601 time (UTC) it was written."""
    source: str
    """"registry", "plugin:<plugin name>", or "file" (a loose file being imported)."""
    path: Path
    """The teacher's directory (for source "file": the file)."""
    weights_sha256: str
    """sha256 of model.safetensors, as recorded in config.json."""
    source_expert: dict[str, Any] | None = None
    """The expert that collected the dataset (see SOURCE_EXPERT_KEY), None when not recorded."""
    replay_set: dict[str, Any] | None = None
    """config.json's summary of the teacher's action-replay set (file, sha256, pairs, ...), None when it has none
    (`vid2act_teachers.teacher_replay_set`)."""
    kind: str = KIND_TASK
    """KIND_TASK (a per-task teacher) or KIND_MULTITASK (several tasks in one model: --init-from only)."""

    @property
    def qualified_task(self) -> str:
        """"domain:task", e.g. "toy:reach"."""
        return f"{self.domain}:{self.task}"

    @property
    def is_plugin(self) -> bool:
        """Whether a plugin ships this teacher (read-only)."""
        return self.source.startswith(PLUGIN_SOURCE_PREFIX)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (path as a string, obs_shape as a list)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["obs_shape"] = list(self.obs_shape)
        return data


@dataclass(frozen=True)
class TeacherFile:
    """A checked teacher file header: its metadata strings, tensor layout and config."""

    metadata: dict[str, str]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    config: Config
    header_fields: dict[str, Any]
    """The `TeacherInfo` fields the header states (typed), keyed by field name."""

    @property
    def action_dim(self) -> int:
        return int(self.header_fields["action_dim"])

    @property
    def image_size(self) -> int:
        return int(self.header_fields["image_size"])

    def info(
        self, name: str, source: str, path: Path, weights_sha256: str, replay_set: dict[str, Any] | None = None
    ) -> TeacherInfo:
        """The `TeacherInfo` of this header for a teacher `name` found at `path`."""
        return TeacherInfo(
            name=name, source=source, path=path, weights_sha256=weights_sha256, replay_set=replay_set, **self.header_fields
        )


def validate_name(name: str) -> str:
    """Return `name` if it is a valid teacher name (letters, digits, `_ - .`, not starting with `.`)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise TeacherError(
            f"invalid teacher name {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit"
            " (at most 128 characters)"
        )
    return name


def shadowing_message(name: str, plugin: str) -> str:
    """One line: local teacher `name` hides plugin `plugin`'s, and how to use either."""
    return (
        f"teacher {name!r} in the local registry hides the teacher of the same name shipped by plugin {plugin!r}; "
        f"the local one is used. To keep both, rename yours (`vid2act teachers export {name} F.safetensors`, "
        f"`vid2act teachers import F.safetensors --name NEW`, `vid2act teachers remove {name}`); "
        f"removing it makes {name!r} the plugin's again"
    )


def check_compatible(info: TeacherInfo, image_size: int, as_teacher: bool = True) -> None:
    """Raise TeacherError if `info`'s teacher cannot serve a target with `image_size` images.

    Action sizes may differ (target actions are zero-padded or truncated to the teacher's).
    `as_teacher`: it will be a transfer teacher, which a multitask model never is (--init-from is
    `as_teacher=False`).
    """
    if as_teacher and info.kind != KIND_TASK:
        use = f"--method apv --init-from {info.name}" if info.kind == KIND_ACTION_FREE else "--init-from"
        raise teacher_error(
            info.name, f"is a {info.kind} model ({info.task}), not a per-task teacher; use it with {use}, not --teachers"
        )
    if info.format_version > FORMAT_VERSION:
        raise teacher_error(info.name, f"format version {info.format_version} is newer than this library's ({FORMAT_VERSION})")
    if int(info.image_size) != int(image_size):
        raise TeacherError(
            f"teacher {info.name!r} was trained on {info.image_size}x{info.image_size} images, "
            f"the target uses {image_size}x{image_size}"
        )


def build_metadata(
    name: str,
    config: Config,
    *,
    domain: str,
    task: str,
    action_dim: int,
    train_steps: int,
    dataset_sha256: str,
    source_expert: Mapping[str, Any] | None = None,
    kind: str = KIND_TASK,
) -> dict[str, str]:
    """The header metadata of a new teacher file (every required key, its name, the source expert if given,
    its kind unless it is a per-task teacher)."""
    if kind not in TEACHER_KINDS:
        raise teacher_error(name, f"kind {kind!r} is not one of {', '.join(TEACHER_KINDS)}")
    image_size = int(config.env.image_size)
    expert = {SOURCE_EXPERT_KEY: json.dumps(dict(source_expert), sort_keys=True)} if source_expert else {}
    kind_entry = {KIND_KEY: kind} if kind != KIND_TASK else {}
    return {
        **expert,
        **kind_entry,
        "vid2act.format_version": str(FORMAT_VERSION),
        NAME_METADATA_KEY: name,
        "vid2act.domain": domain,
        "vid2act.task": task,
        "vid2act.image_size": str(image_size),
        "vid2act.action_dim": str(action_dim),
        "vid2act.obs_shape": json.dumps([image_size, image_size, 3]),
        "vid2act.model_hash": config.world_model_hash(),
        "vid2act.train_steps": str(train_steps),
        "vid2act.dataset_sha256": dataset_sha256,
        "vid2act.library_version": vid2act_teachers.__version__,
        "vid2act.created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        CONFIG_KEY: json.dumps(config.to_dict(), sort_keys=True),
    }


def metadata_json_value(key: str, value: str) -> Any:
    """A header string as the JSON value config.json stores for it (ints as ints, shapes as lists)."""
    short = key[len(META_PREFIX) :]
    if short in _INTEGER_KEYS:
        return int(value)
    if short in ("obs_shape", "source_expert"):
        return json.loads(value)
    return value


def config_json_document(
    name: str, metadata: dict[str, str], weights_sha256: str, replay_set: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The content of a registered teacher's config.json (`replay_set`: the action-replay set's summary, if any)."""
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "weights_sha256": weights_sha256,
        **({"replay_set": replay_set} if replay_set is not None else {}),
        "info": {
            key[len(META_PREFIX) :]: metadata_json_value(key, value)
            for key, value in metadata.items()
            if key.startswith(META_PREFIX) and key != CONFIG_KEY
        },
        "config": json.loads(metadata[CONFIG_KEY]),
    }


def read_config_json(name: str, directory: Path) -> dict[str, Any]:
    """A teacher directory's config.json (checked to be a JSON object with weights_sha256)."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise teacher_error(name, f"{CONFIG_FILE} is missing ({path})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise teacher_error(name, f"{CONFIG_FILE} is not valid JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("weights_sha256"), str):
        raise teacher_error(name, f"{CONFIG_FILE} lacks weights_sha256")
    if "replay_set" in data and not (isinstance(data["replay_set"], dict) and isinstance(data["replay_set"].get("sha256"), str)):
        raise teacher_error(name, f"{CONFIG_FILE}'s replay_set entry is not an object with a sha256")
    return data


def _parse_int(name: str, key: str, value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise teacher_error(name, f"metadata {key} is not an integer: {value!r}") from None


def _open_header(name: str, file: Path, what: str) -> tuple[dict[str, str], dict[str, tuple[int, ...]], dict[str, str]]:
    """(metadata, shapes, dtypes) of a safetensors file, without reading tensor data."""
    if not file.is_file():
        raise teacher_error(name, f"{what} is missing ({file})")
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            shapes: dict[str, tuple[int, ...]] = {}
            dtypes: dict[str, str] = {}
            for key in handle.keys():
                tensor_slice = handle.get_slice(key)
                shapes[key] = tuple(int(size) for size in tensor_slice.get_shape())
                dtypes[key] = str(tensor_slice.get_dtype())
    except Exception as error:  # safetensors raises its own error type for bad headers and sizes
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise teacher_error(name, f"{what} is corrupt or truncated, not a readable safetensors file ({reason})") from None
    return metadata, shapes, dtypes


def json_object(text: str) -> dict[str, Any] | None:
    """`text` (a header value) parsed as a JSON object; None when it is not JSON or not an object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _source_expert(name: str, metadata: dict[str, str]) -> dict[str, Any] | None:
    if SOURCE_EXPERT_KEY not in metadata:
        return None
    value = json_object(metadata[SOURCE_EXPERT_KEY])
    if value is None:
        raise teacher_error(name, f"metadata {SOURCE_EXPERT_KEY} is not a JSON object: {metadata[SOURCE_EXPERT_KEY][:80]!r}")
    return value


def read_teacher_file(name: str, file: Path, what: str = MODEL_FILE) -> TeacherFile:
    """Open a teacher file's header (no tensor data read) and check its metadata and config.

    `what` names the file in error messages ("model.safetensors", "file x.safetensors").
    """
    metadata, shapes, dtypes = _open_header(name, file, what)
    missing = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
    if missing:
        raise teacher_error(name, f"{what} lacks header metadata key {missing[0]}")
    numbers = {key: _parse_int(name, META_PREFIX + key, metadata[META_PREFIX + key]) for key in _INTEGER_KEYS}
    if numbers["format_version"] > FORMAT_VERSION:
        raise teacher_error(
            name,
            f"{what} has format version {numbers['format_version']}, newer than this library reads ({FORMAT_VERSION}); "
            "upgrade vid2act-teachers",
        )
    try:
        config = config_from_dict(json.loads(metadata[CONFIG_KEY]))
    except (json.JSONDecodeError, ConfigError, TypeError, AttributeError) as error:
        raise teacher_error(name, f"the stored config (vid2act.config) is not valid: {error}") from None
    try:
        obs_shape = tuple(int(size) for size in json.loads(metadata["vid2act.obs_shape"]))
    except (json.JSONDecodeError, TypeError, ValueError):
        raise teacher_error(name, f"metadata vid2act.obs_shape is not a list of integers: {metadata['vid2act.obs_shape']!r}") from None
    stated_hash = metadata["vid2act.model_hash"]
    actual_hash = config.world_model_hash()
    if stated_hash != actual_hash:
        raise teacher_error(
            name, f"config hash mismatch: the header states model hash {stated_hash}, the stored config gives {actual_hash}"
        )
    image_size = numbers["image_size"]
    if image_size != config.env.image_size:
        raise teacher_error(
            name, f"metadata image size {image_size} disagrees with the stored config's env.image_size {config.env.image_size}"
        )
    if obs_shape != (image_size, image_size, 3):
        raise teacher_error(name, f"metadata obs_shape {list(obs_shape)} does not match image size {image_size}")
    if numbers["action_dim"] < 1:
        raise teacher_error(name, f"metadata action_dim must be >= 1, got {numbers['action_dim']}")
    kind = metadata.get(KIND_KEY, KIND_TASK)
    if kind not in TEACHER_KINDS:
        raise teacher_error(name, f"metadata {KIND_KEY} is {kind!r}, not one of {', '.join(TEACHER_KINDS)}")
    header_fields = {
        **numbers,
        "obs_shape": obs_shape,
        "model_hash": stated_hash,
        **{key: metadata[META_PREFIX + key] for key in ("domain", "task", "dataset_sha256", "library_version", "created")},
        "source_expert": _source_expert(name, metadata),
        "kind": kind,
    }
    return TeacherFile(metadata=metadata, shapes=shapes, dtypes=dtypes, config=config, header_fields=header_fields)
