"""The teacher registry: pretrained world models stored as safetensors with their config.

Layout under `$VID2ACT_HOME` (default `~/.cache/vid2act`, or `$XDG_CACHE_HOME/vid2act`):

    teachers/<name>/model.safetensors   weights; header `__metadata__` holds the vid2act.* keys
    teachers/<name>/config.json         the same config and metadata, plus the weights' sha256
    teachers/.<name>.lock               per-name lock file (fcntl.flock) taken by every write

The safetensors header is self-contained: `vid2act.config` is the resolved `Config` as JSON and
the other `vid2act.*` keys (all strings) describe where the teacher came from. An exported
teacher is that one file; importing it writes the directory again.

Safety: loading never unpickles (safetensors only). Every write builds the teacher directory in
a temporary directory inside `teachers/` and renames it into place under the name's lock, so a
reader sees the old teacher or the new one, never a half-written one, and two processes adding
the same name cannot both win. Every problem is a `TeacherError` whose message is one line
naming the teacher and what is wrong; a failed write leaves every other teacher untouched.

Teachers shipped by plugins (`vid2act_teachers.plugins.registered_teachers()`) appear in
`names`, `list`, `info`, `load` and `verify` with source "plugin:<plugin>"; they are read-only.
A teacher added to the local registry under the same name shadows the plugin's.
"""

from __future__ import annotations

import builtins
import contextlib
import difflib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vid2act_core.config import Config, ConfigError, config_from_dict
from vid2act_core.world_model import WorldModel

import vid2act_teachers

logger = logging.getLogger("vid2act.registry")

FORMAT_VERSION = 1
"""Version of the on-disk teacher format this library writes and the newest it reads."""

HOME_ENV = "VID2ACT_HOME"
"""Environment variable naming the vid2act home directory (teachers/, datasets/)."""

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TEACHERS_DIR = "teachers"

SOURCE_REGISTRY = "registry"
PLUGIN_SOURCE_PREFIX = "plugin:"

META_PREFIX = "vid2act."
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
"""Optional header key: the name the teacher was saved under (used by `import_file`)."""

LOCK_TIMEOUT_S = 120.0
"""How long a write waits for another process holding the same name's lock."""

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_TEMP_SEPARATOR = "~"  # never part of a teacher name, so ".tmp~<name>~..." is unambiguous


class TeacherError(ValueError):
    """A teacher that cannot be found, read, written or used; the message is one line naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def _teacher_error(name: str, problem: str) -> TeacherError:
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
    """"registry" or "plugin:<plugin name>"."""
    path: Path
    """The teacher's directory."""
    weights_sha256: str
    """sha256 of model.safetensors, as recorded in config.json."""

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


def vid2act_home() -> Path:
    """`$VID2ACT_HOME`, else `$XDG_CACHE_HOME/vid2act`, else `~/.cache/vid2act`."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "vid2act"


def validate_name(name: str) -> str:
    """Return `name` if it is a valid teacher name (letters, digits, `_ - .`, not starting with `.`)."""
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise TeacherError(
            f"invalid teacher name {name!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit"
            " (at most 128 characters)"
        )
    return name


def check_compatible(info: TeacherInfo, image_size: int) -> None:
    """Raise TeacherError if `info`'s teacher cannot serve a target with `image_size` images.

    Action sizes may differ (target actions are zero-padded or truncated to the teacher's).
    """
    if info.format_version > FORMAT_VERSION:
        raise _teacher_error(info.name, f"format version {info.format_version} is newer than this library's ({FORMAT_VERSION})")
    if int(info.image_size) != int(image_size):
        raise TeacherError(
            f"teacher {info.name!r} was trained on {info.image_size}x{info.image_size} images, "
            f"the target uses {image_size}x{image_size}"
        )


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- reading and checking one teacher file ----------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """What the safetensors header of a teacher file says (parsed and checked)."""

    metadata: dict[str, str]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    config: Config
    domain: str
    task: str
    image_size: int
    action_dim: int
    obs_shape: tuple[int, ...]
    model_hash: str
    train_steps: int
    dataset_sha256: str
    library_version: str
    format_version: int
    created: str


def _parse_int(name: str, key: str, value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _teacher_error(name, f"metadata {key} is not an integer: {value!r}") from None


def _read_header(name: str, file: Path, what: str = MODEL_FILE) -> _Header:
    """Open a teacher file's header (no tensor data read) and check its metadata and config."""
    if not file.is_file():
        raise _teacher_error(name, f"{what} is missing ({file})")
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
        raise _teacher_error(name, f"{what} is corrupt or truncated, not a readable safetensors file ({reason})") from None
    missing = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
    if missing:
        raise _teacher_error(name, f"{what} lacks header metadata key {missing[0]}")
    format_version = _parse_int(name, "vid2act.format_version", metadata["vid2act.format_version"])
    if format_version > FORMAT_VERSION:
        raise _teacher_error(
            name,
            f"{what} has format version {format_version}, newer than this library reads ({FORMAT_VERSION}); "
            "upgrade vid2act-teachers",
        )
    try:
        config = config_from_dict(json.loads(metadata["vid2act.config"]))
    except (json.JSONDecodeError, ConfigError, TypeError, AttributeError) as error:
        raise _teacher_error(name, f"the stored config (vid2act.config) is not valid: {error}") from None
    image_size = _parse_int(name, "vid2act.image_size", metadata["vid2act.image_size"])
    action_dim = _parse_int(name, "vid2act.action_dim", metadata["vid2act.action_dim"])
    train_steps = _parse_int(name, "vid2act.train_steps", metadata["vid2act.train_steps"])
    try:
        obs_shape = tuple(int(size) for size in json.loads(metadata["vid2act.obs_shape"]))
    except (json.JSONDecodeError, TypeError, ValueError):
        raise _teacher_error(name, f"metadata vid2act.obs_shape is not a list of integers: {metadata['vid2act.obs_shape']!r}") from None
    stated_hash = metadata["vid2act.model_hash"]
    actual_hash = config.world_model_hash()
    if stated_hash != actual_hash:
        raise _teacher_error(
            name, f"config hash mismatch: the header states model hash {stated_hash}, the stored config gives {actual_hash}"
        )
    if image_size != config.env.image_size:
        raise _teacher_error(
            name, f"metadata image size {image_size} disagrees with the stored config's env.image_size {config.env.image_size}"
        )
    if obs_shape != (image_size, image_size, 3):
        raise _teacher_error(name, f"metadata obs_shape {list(obs_shape)} does not match image size {image_size}")
    if action_dim < 1:
        raise _teacher_error(name, f"metadata action_dim must be >= 1, got {action_dim}")
    return _Header(
        metadata=metadata,
        shapes=shapes,
        dtypes=dtypes,
        config=config,
        domain=metadata["vid2act.domain"],
        task=metadata["vid2act.task"],
        image_size=image_size,
        action_dim=action_dim,
        obs_shape=obs_shape,
        model_hash=stated_hash,
        train_steps=train_steps,
        dataset_sha256=metadata["vid2act.dataset_sha256"],
        library_version=metadata["vid2act.library_version"],
        format_version=format_version,
        created=metadata["vid2act.created"],
    )


def _build_world_model(name: str, config: Config, action_dim: int, image_size: int, device: str | torch.device = "cpu") -> WorldModel:
    try:
        return WorldModel(config.world_model, action_dim, image_size).to(device)
    except (ValueError, RuntimeError, TypeError) as error:
        raise _teacher_error(name, f"cannot build the stated architecture: {str(error).splitlines()[0]}") from None


def _expected_tensors(name: str, config: Config, action_dim: int, image_size: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of the state dict of `WorldModel(...)` built from the stated config."""
    with torch.device("meta"):
        model = _build_world_model(name, config, action_dim, image_size, device="meta")
    return {key: (tuple(tensor.shape), tensor.dtype) for key, tensor in model.state_dict().items()}


_SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def _check_tensor_layout(
    name: str,
    shapes: dict[str, tuple[int, ...]],
    dtypes: dict[str, str] | None,
    expected: dict[str, tuple[tuple[int, ...], torch.dtype]],
) -> None:
    """Raise naming the first tensor that is missing, unexpected, or of the wrong shape or dtype."""
    for key in sorted(set(expected) | set(shapes)):
        if key not in shapes:
            raise _teacher_error(name, f"weights lack tensor {key!r} that the stated architecture has")
        if key not in expected:
            raise _teacher_error(name, f"weights have tensor {key!r} that the stated architecture does not have")
        expected_shape, expected_dtype = expected[key]
        if shapes[key] != expected_shape:
            raise _teacher_error(
                name, f"tensor {key!r} has shape {list(shapes[key])}, the stated architecture needs {list(expected_shape)}"
            )
        if dtypes is not None:
            wanted = _SAFETENSORS_DTYPES.get(expected_dtype, str(expected_dtype))
            if dtypes[key] != wanted:
                raise _teacher_error(name, f"tensor {key!r} has dtype {dtypes[key]}, the stated architecture needs {wanted}")


def _first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    for key in sorted(tensors):
        tensor = tensors[key]
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return key
    return None


def _load_tensors(name: str, file: Path, device: str | torch.device = "cpu", what: str = MODEL_FILE) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file), device=str(device))
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _teacher_error(name, f"{what} is corrupt or truncated, its tensors cannot be read ({reason})") from None


# -- the registry -----------------------------------------------------------------------------


class TeacherRegistry:
    """Teachers in `<root>/teachers/` (root: `vid2act_home()` by default) plus plugin-shipped ones."""

    def __init__(self, root: Path | None = None, include_plugins: bool = True) -> None:
        """`root` is the vid2act home (the registry lives in `root/teachers`); `include_plugins`
        adds the teachers that installed plugins ship."""
        self.root = Path(root).expanduser() if root is not None else vid2act_home()
        self.include_plugins = include_plugins

    @property
    def teachers_dir(self) -> Path:
        """`<root>/teachers`."""
        return self.root / TEACHERS_DIR

    # -- finding teachers ------------------------------------------------------------------

    def _local_names(self) -> list[str]:
        if not self.teachers_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.teachers_dir.iterdir()
            if entry.is_dir() and _NAME_PATTERN.match(entry.name)
        )

    def _plugin_teachers(self) -> dict[str, tuple[str, Path]]:
        """Teacher name -> (plugin name, directory) for every plugin-shipped teacher."""
        if not self.include_plugins:
            return {}
        from vid2act_teachers.plugins import PluginError, plugin_report, registered_teachers

        try:
            directories = registered_teachers()
        except PluginError as error:
            logger.warning("plugin teachers are unavailable: %s", error)
            return {}
        owners = {teacher: info.name for info in plugin_report() for teacher in info.teachers}
        return {name: (owners.get(name, "unknown"), Path(path)) for name, path in directories.items()}

    def names(self) -> list[str]:
        """Every teacher name, local and plugin-shipped, sorted."""
        return sorted(set(self._local_names()) | set(self._plugin_teachers()))

    def _locate(self, name: str) -> tuple[Path, str]:
        """(directory, source) of teacher `name`; local teachers shadow plugin ones."""
        validate_name(name)
        local = self.teachers_dir / name
        if local.is_dir():
            return local, SOURCE_REGISTRY
        plugin_teachers = self._plugin_teachers()
        if name in plugin_teachers:
            plugin, directory = plugin_teachers[name]
            return directory, PLUGIN_SOURCE_PREFIX + plugin
        raise self._unknown(name)

    def _unknown(self, name: str) -> TeacherError:
        known = self.names()
        if not known:
            return TeacherError(f"unknown teacher {name!r}: the registry at {self.teachers_dir} is empty")
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return TeacherError(f"unknown teacher {name!r}; {hint}(known: {', '.join(known)})")

    def _read_config_json(self, name: str, directory: Path) -> dict[str, Any]:
        path = directory / CONFIG_FILE
        if not path.is_file():
            raise _teacher_error(name, f"{CONFIG_FILE} is missing ({path})")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _teacher_error(name, f"{CONFIG_FILE} is not valid JSON ({error})") from None
        if not isinstance(data, dict) or not isinstance(data.get("weights_sha256"), str):
            raise _teacher_error(name, f"{CONFIG_FILE} lacks weights_sha256")
        return data

    def _info_from(self, name: str, directory: Path, source: str) -> tuple[TeacherInfo, _Header, dict[str, Any]]:
        header = _read_header(name, directory / MODEL_FILE)
        stored = self._read_config_json(name, directory)
        info = TeacherInfo(
            name=name,
            domain=header.domain,
            task=header.task,
            image_size=header.image_size,
            action_dim=header.action_dim,
            obs_shape=header.obs_shape,
            model_hash=header.model_hash,
            train_steps=header.train_steps,
            dataset_sha256=header.dataset_sha256,
            library_version=header.library_version,
            format_version=header.format_version,
            created=header.created,
            source=source,
            path=directory,
            weights_sha256=stored["weights_sha256"],
        )
        return info, header, stored

    def info(self, name: str) -> TeacherInfo:
        """Metadata of one teacher (reads its header and config.json, not its tensors)."""
        directory, source = self._locate(name)
        return self._info_from(name, directory, source)[0]

    def list(self) -> list[TeacherInfo]:
        """Metadata of every readable teacher, sorted by name; unreadable ones are logged and skipped
        (`verify` reports them)."""
        infos: list[TeacherInfo] = []
        for name in self.names():
            try:
                infos.append(self.info(name))
            except TeacherError as error:
                logger.warning("%s (skipped)", error)
        return infos

    # -- loading ---------------------------------------------------------------------------

    def _load_checked(
        self, name: str, device: str | torch.device = "cpu", check_weights_hash: bool = True
    ) -> tuple[WorldModel, Config, TeacherInfo, dict[str, torch.Tensor]]:
        directory, source = self._locate(name)
        info, header, _ = self._info_from(name, directory, source)
        file = directory / MODEL_FILE
        if check_weights_hash:
            actual = sha256_of_file(file)
            if actual != info.weights_sha256:
                raise _teacher_error(
                    name, f"{MODEL_FILE} sha256 {actual[:16]}... does not match {CONFIG_FILE}'s {info.weights_sha256[:16]}..."
                )
        expected = _expected_tensors(name, header.config, header.action_dim, header.image_size)
        _check_tensor_layout(name, header.shapes, header.dtypes, expected)
        tensors = _load_tensors(name, file, device)
        model = _build_world_model(name, header.config, header.action_dim, header.image_size, device)
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as error:
            raise _teacher_error(name, f"weights do not load into the stated architecture ({str(error).splitlines()[0]})") from None
        return model, header.config, info, tensors

    def load(self, name: str, device: str | torch.device = "cpu", frozen: bool = True) -> tuple[WorldModel, Config, TeacherInfo]:
        """Build the teacher's WorldModel from its stored config and load its weights.

        Checks the header, the config hash, the weights' sha256 against config.json and every
        tensor's name, shape and dtype. `frozen` (for transfer): eval mode, no parameter requires grad.
        """
        model, config, info, _ = self._load_checked(name, device)
        if frozen:
            model.eval()
            model.requires_grad_(False)
        return model, config, info

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _name_lock(self, name: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold `teachers/.<name>.lock` exclusively (fcntl.flock) for the block."""
        self.teachers_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.teachers_dir / f".{name}.lock"
        with open(lock_path, "a+") as handle:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise _teacher_error(name, f"another process has been writing it for over {timeout_s:.0f} s ({lock_path})") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _remove_leftovers(self, name: str) -> None:
        """Delete temporary directories that a crashed writer of `name` left (call under the lock)."""
        for prefix in (".tmp", ".old"):
            for leftover in self.teachers_dir.glob(f"{prefix}{_TEMP_SEPARATOR}{name}{_TEMP_SEPARATOR}*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def _commit(
        self, name: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str], overwrite: bool
    ) -> TeacherInfo:
        """Write a checked teacher into `teachers/<name>` atomically, under the name's lock."""
        if name in self._plugin_teachers() and not (self.teachers_dir / name).is_dir():
            logger.info("teacher %r shadows the plugin-shipped teacher of the same name", name)
        with self._name_lock(name):
            self._remove_leftovers(name)
            final = self.teachers_dir / name
            if final.exists() and not overwrite:
                raise _teacher_error(name, f"already exists in {self.teachers_dir}; pass overwrite to replace it")
            staging = Path(tempfile.mkdtemp(prefix=f".tmp{_TEMP_SEPARATOR}{name}{_TEMP_SEPARATOR}", dir=self.teachers_dir))
            try:
                model_file = staging / MODEL_FILE
                save_file(tensors, str(model_file), metadata=metadata)
                _fsync_file(model_file)
                weights_sha256 = sha256_of_file(model_file)
                config_json = {
                    "format_version": FORMAT_VERSION,
                    "name": name,
                    "weights_sha256": weights_sha256,
                    "info": {
                        key[len(META_PREFIX) :]: _json_value(key, value)
                        for key, value in metadata.items()
                        if key.startswith(META_PREFIX) and key != "vid2act.config"
                    },
                    "config": json.loads(metadata["vid2act.config"]),
                }
                config_file = staging / CONFIG_FILE
                config_file.write_text(json.dumps(config_json, indent=2, sort_keys=False) + "\n")
                _fsync_file(config_file)
                staging.chmod(0o755)
                if final.exists():
                    retired = self.teachers_dir / f".old{_TEMP_SEPARATOR}{name}{_TEMP_SEPARATOR}{uuid.uuid4().hex[:8]}"
                    os.rename(final, retired)
                    os.rename(staging, final)
                    shutil.rmtree(retired, ignore_errors=True)
                else:
                    os.rename(staging, final)
                _fsync_directory(self.teachers_dir)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return self.info(name)

    def add(
        self,
        name: str,
        world_model: torch.nn.Module,
        config: Config,
        *,
        domain: str,
        task: str,
        train_steps: int,
        dataset_sha256: str,
        overwrite: bool = False,
    ) -> TeacherInfo:
        """Save a trained world model as teacher `name` (refuses an existing name unless `overwrite`).

        `config` must be the config the model was built from (its world_model section and
        env.image_size); the model's action size comes from `world_model.action_dim`. A model
        wrapped by DataParallel, DistributedDataParallel or torch.compile is saved unwrapped.
        """
        validate_name(name)
        if not isinstance(world_model, torch.nn.Module):
            raise _teacher_error(name, f"expected a torch.nn.Module world model, got {type(world_model).__name__}")
        world_model = _unwrap_module(world_model)
        action_dim = getattr(world_model, "action_dim", None)
        if not isinstance(action_dim, int) or action_dim < 1:
            raise _teacher_error(name, "the world model has no integer action_dim attribute (build it with vid2act_core WorldModel)")
        image_size = int(config.env.image_size)
        model_image_size = getattr(world_model, "image_size", image_size)
        if model_image_size != image_size:
            raise _teacher_error(name, f"the world model takes {model_image_size}x{model_image_size} images, the config says {image_size}")
        for field_name, value in (("domain", domain), ("task", task)):
            if not isinstance(value, str) or not value or any(character.isspace() for character in value):
                raise _teacher_error(name, f"{field_name} must be a non-empty string without spaces, got {value!r}")
        if isinstance(train_steps, bool) or not isinstance(train_steps, int) or train_steps < 0:
            raise _teacher_error(name, f"train_steps must be an integer >= 0, got {train_steps!r}")
        dataset_hash = str(dataset_sha256).lower()
        if not _SHA256_PATTERN.match(dataset_hash):
            raise _teacher_error(name, f"dataset_sha256 must be 64 hex digits, got {dataset_sha256!r}")
        tensors = {key: value.detach().to("cpu").contiguous().clone() for key, value in world_model.state_dict().items()}
        expected = _expected_tensors(name, config, action_dim, image_size)
        dtypes = {key: _SAFETENSORS_DTYPES.get(tensor.dtype, str(tensor.dtype)) for key, tensor in tensors.items()}
        _check_tensor_layout(name, {key: tuple(tensor.shape) for key, tensor in tensors.items()}, dtypes, expected)
        bad = _first_non_finite(tensors)
        if bad is not None:
            raise _teacher_error(name, f"refusing to save: tensor {bad!r} contains NaN or infinity")
        metadata = {
            "vid2act.format_version": str(FORMAT_VERSION),
            "vid2act.name": name,
            "vid2act.domain": domain,
            "vid2act.task": task,
            "vid2act.image_size": str(image_size),
            "vid2act.action_dim": str(action_dim),
            "vid2act.obs_shape": json.dumps([image_size, image_size, 3]),
            "vid2act.model_hash": config.world_model_hash(),
            "vid2act.train_steps": str(train_steps),
            "vid2act.dataset_sha256": dataset_hash,
            "vid2act.library_version": vid2act_teachers.__version__,
            "vid2act.created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "vid2act.config": json.dumps(config.to_dict(), sort_keys=True),
        }
        return self._commit(name, tensors, metadata, overwrite)

    def remove(self, name: str) -> None:
        """Delete a local teacher (plugin-shipped teachers cannot be removed)."""
        validate_name(name)
        final = self.teachers_dir / name
        if not final.is_dir():
            plugin_teachers = self._plugin_teachers()
            if name in plugin_teachers:
                plugin = plugin_teachers[name][0]
                raise _teacher_error(
                    name,
                    f"is shipped by plugin {plugin!r} and cannot be removed "
                    f"(uninstall the plugin or set VID2ACT_DISABLE_PLUGINS={plugin})",
                )
            raise self._unknown(name)
        with self._name_lock(name):
            if not final.is_dir():
                raise self._unknown(name)
            retired = self.teachers_dir / f".old{_TEMP_SEPARATOR}{name}{_TEMP_SEPARATOR}{uuid.uuid4().hex[:8]}"
            os.rename(final, retired)
            _fsync_directory(self.teachers_dir)
            shutil.rmtree(retired, ignore_errors=True)

    # -- moving teachers between machines --------------------------------------------------

    def export(self, name: str, file: Path, overwrite: bool = False) -> Path:
        """Write teacher `name` as one self-contained .safetensors file (weights, config and every
        metadata key in the header); the teacher is fully checked first. Returns the file's path."""
        file = Path(file).expanduser()
        if file.exists() and not overwrite:
            raise _teacher_error(name, f"cannot export to {file}: the file exists (pass overwrite to replace it)")
        if file.is_dir():
            raise _teacher_error(name, f"cannot export to {file}: it is a directory")
        model, _, info, tensors = self._load_checked(name)
        del model
        bad = _first_non_finite(tensors)
        if bad is not None:
            raise _teacher_error(name, f"tensor {bad!r} contains NaN or infinity; not exporting")
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(f".{file.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            shutil.copyfile(info.path / MODEL_FILE, partial)
            _fsync_file(partial)
            if sha256_of_file(partial) != info.weights_sha256:
                raise _teacher_error(name, f"{MODEL_FILE} changed while it was being exported; try again")
            os.replace(partial, file)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return file

    def import_file(self, file: Path, name: str | None = None, overwrite: bool = False) -> TeacherInfo:
        """Add the teacher in an exported .safetensors file (named `name`, else the name stored in
        it, else the file's stem). The file is fully checked before anything is written."""
        file = Path(file).expanduser()
        label = name if name is not None else file.name
        header = _read_header(label, file, what=f"file {file.name}")
        if name is None:
            name = header.metadata.get(NAME_METADATA_KEY) or file.stem
        validate_name(name)
        expected = _expected_tensors(name, header.config, header.action_dim, header.image_size)
        _check_tensor_layout(name, header.shapes, header.dtypes, expected)
        tensors = _load_tensors(name, file, what=f"file {file.name}")
        bad = _first_non_finite(tensors)
        if bad is not None:
            raise _teacher_error(name, f"tensor {bad!r} in {file.name} contains NaN or infinity; not importing")
        metadata = dict(header.metadata)
        metadata[NAME_METADATA_KEY] = name
        return self._commit(name, tensors, metadata, overwrite)

    # -- checking --------------------------------------------------------------------------

    def verify_one(self, name: str) -> None:
        """Fully check one teacher; raise TeacherError describing the first problem."""
        model, _, info, tensors = self._load_checked(name)
        del model
        bad = _first_non_finite(tensors)
        if bad is not None:
            raise _teacher_error(name, f"tensor {bad!r} contains NaN or infinity")
        stored = self._read_config_json(name, info.path)
        header = _read_header(name, info.path / MODEL_FILE)
        if stored.get("config") != json.loads(header.metadata["vid2act.config"]):
            raise _teacher_error(name, f"{CONFIG_FILE}'s config differs from the one in {MODEL_FILE}'s header")
        stored_info = stored.get("info") or {}
        for key, value in header.metadata.items():
            short = key[len(META_PREFIX) :]
            if key == "vid2act.config" or not key.startswith(META_PREFIX) or short not in stored_info:
                continue
            if stored_info[short] != _json_value(key, value):
                raise _teacher_error(name, f"{CONFIG_FILE} says {short}={stored_info[short]!r}, the header says {value!r}")

    def verify(self, name: str | None = None) -> builtins.list[tuple[str, bool, str]]:
        """Check one teacher (or all): (name, ok, "ok" or the problem) for each.

        Checks: the header and metadata, the config hash, the weights' sha256 against
        config.json, that config.json agrees with the header, that every tensor loads into the
        stated architecture, and that no weight is NaN or infinite. An unknown `name` raises.
        """
        if name is not None:
            self._locate(name)
        results: builtins.list[tuple[str, bool, str]] = []
        for teacher in [name] if name is not None else self.names():
            try:
                self.verify_one(teacher)
            except TeacherError as error:
                results.append((teacher, False, str(error)))
            else:
                results.append((teacher, True, "ok"))
        return results


def _unwrap_module(module: torch.nn.Module) -> torch.nn.Module:
    """The model inside DataParallel / DistributedDataParallel / torch.compile wrappers."""
    while True:
        if isinstance(module, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)):
            module = module.module
        elif isinstance(getattr(module, "_orig_mod", None), torch.nn.Module):
            module = module._orig_mod  # type: ignore[assignment]
        else:
            return module


def _json_value(key: str, value: str) -> Any:
    """A header string as the JSON value config.json stores for it (ints as ints, shapes as lists)."""
    if key in ("vid2act.format_version", "vid2act.image_size", "vid2act.action_dim", "vid2act.train_steps"):
        return int(value)
    if key == "vid2act.obs_shape":
        return json.loads(value)
    return value


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def teacher_size_bytes(info: TeacherInfo) -> int:
    """Bytes the teacher's directory takes on disk (its files)."""
    return sum(entry.stat().st_size for entry in info.path.iterdir() if entry.is_file())


__all__ = [
    "FORMAT_VERSION",
    "TeacherError",
    "TeacherInfo",
    "TeacherRegistry",
    "check_compatible",
    "sha256_of_file",
    "teacher_size_bytes",
    "validate_name",
    "vid2act_home",
]
