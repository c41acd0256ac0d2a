"""The HDF5 episode dataset format: its version, layout names, file attributes and errors.

Layout and crash-safety protocol: see the package docstring (`vid2act_envs.dataset`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import h5py
import numpy as np

from vid2act_envs import __version__ as LIBRARY_VERSION
from vid2act_envs.base import Env
from vid2act_envs.episodes import EpisodeError

FORMAT_VERSION = 1
"""Version of the on-disk layout written by this module; readers refuse any other."""

EPISODES_GROUP = "episodes"
PARTIAL_PREFIX = "partial-"
FINAL_NAME_RE = re.compile(r"^\d{6,}$")


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or violates the format; the message names file and field."""


def one_line(text: str) -> str:
    """`text` (e.g. an h5py error) on one line, for one-line error messages."""
    return " ".join(str(text).split())


def _normalize_image_size(value: Any) -> tuple[int, int]:
    array = np.asarray(value).reshape(-1)
    if array.size == 1:
        return int(array[0]), int(array[0])
    if array.size == 2:
        return int(array[0]), int(array[1])
    raise ValueError(f"image_size must be an int or (height, width), got {value!r}")


def _normalize_camera(value: Any) -> str | int:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (int, np.integer)):
        return int(value)
    return str(value)


@dataclass(frozen=True)
class DatasetAttrs:
    """File-level attributes of a dataset: what the episodes are and who collected them."""

    domain: str
    task: str
    action_repeat: int
    camera: str | int
    collector: str
    """Name of the policy that produced the actions (e.g. "expert", "random")."""
    image_size: tuple[int, int]
    """(height, width) of every image."""
    action_dim: int
    format_version: int = FORMAT_VERSION
    library_version: str = LIBRARY_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _normalize_image_size(self.image_size))
        object.__setattr__(self, "camera", _normalize_camera(self.camera))
        object.__setattr__(self, "action_repeat", int(self.action_repeat))
        object.__setattr__(self, "action_dim", int(self.action_dim))
        object.__setattr__(self, "format_version", int(self.format_version))

    @classmethod
    def from_env(cls, env: Env, collector: str) -> DatasetAttrs:
        """Attributes for episodes collected from `env` by a policy named `collector`."""
        spec = env.spec
        return cls(
            domain=spec.domain,
            task=spec.task,
            action_repeat=spec.action_repeat,
            camera=spec.camera,
            collector=collector,
            image_size=tuple(env.image_size),  # type: ignore[arg-type]
            action_dim=env.action_dim,
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DatasetAttrs:
        """Build from a mapping with (at least) every field except the two version fields."""
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def matching_fields(self) -> dict[str, Any]:
        """The fields two writers must agree on to append to the same file."""
        values = asdict(self)
        values.pop("library_version")
        return values


COMPARED_ATTRS: tuple[str, ...] = (
    "domain",
    "task",
    "action_repeat",
    "camera",
    "collector",
    "image_size",
    "action_dim",
    "format_version",
)


def read_attrs(file: h5py.File, where: str) -> DatasetAttrs:
    """Read and check the file attributes; raise DatasetError naming the first bad one."""
    stored = file.attrs
    if "format_version" not in stored:
        raise DatasetError(f"{where}: format_version: missing attribute (not a vid2act dataset?)")
    version = stored["format_version"]
    if not isinstance(version, (int, np.integer)) or int(version) != FORMAT_VERSION:
        shown = int(version) if isinstance(version, (int, np.integer)) else repr(version)
        raise DatasetError(f"{where}: format_version: unsupported version {shown} (this library reads {FORMAT_VERSION})")
    values: dict[str, Any] = {}
    for name in ("domain", "task", "action_repeat", "camera", "collector", "image_size", "action_dim"):
        if name not in stored:
            raise DatasetError(f"{where}: {name}: missing attribute")
        values[name] = stored[name]
    for name in ("domain", "task", "collector"):
        values[name] = values[name].decode() if isinstance(values[name], bytes) else str(values[name])
    for name in ("action_repeat", "action_dim"):
        if not isinstance(values[name], (int, np.integer)) or int(values[name]) < 1:
            raise DatasetError(f"{where}: {name}: must be a positive integer, got {np.asarray(values[name]).tolist()!r}")
    try:
        image_size = _normalize_image_size(values["image_size"])
    except (ValueError, TypeError) as error:
        raise DatasetError(f"{where}: image_size: {one_line(str(error))}") from None
    library_version = stored.get("library_version", "unknown")
    return DatasetAttrs(
        domain=values["domain"],
        task=values["task"],
        action_repeat=int(values["action_repeat"]),
        camera=_normalize_camera(values["camera"]),
        collector=values["collector"],
        image_size=image_size,
        action_dim=int(values["action_dim"]),
        format_version=int(version),
        library_version=library_version.decode() if isinstance(library_version, bytes) else str(library_version),
    )


@contextlib.contextmanager
def as_dataset_error() -> Iterator[None]:
    """Report an episode-convention violation as a DatasetError (same one-line message)."""
    try:
        yield
    except EpisodeError as error:
        raise DatasetError(str(error)) from None
