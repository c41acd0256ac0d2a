"""Where teachers live on disk and how a teacher directory is written, replaced and removed.

Layout under `$VID2ACT_HOME` (default `~/.cache/vid2act`, or `$XDG_CACHE_HOME/vid2act`):

    teachers/<name>/model.safetensors   weights; header `__metadata__` holds the vid2act.* keys
    teachers/<name>/config.json         the same config and metadata, plus the weights' sha256
    teachers/<name>/replay_set.safetensors   the action-replay set (optional; `teacher_replay_set`)
    teachers/.<name>.lock               per-name lock file (fcntl.flock) taken by every write

Every write builds the teacher directory in a temporary directory inside `teachers/` and renames
it into place under the name's lock, so a reader sees the old teacher or the new one, never a
half-written one, and two processes adding the same name cannot both win. A failed write leaves
every other teacher untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import torch
from safetensors.torch import save_file

from vid2act_core.runtime.fileio import atomic_path, atomic_write_text, sha256_file

from vid2act_teachers.teacher_format import (
    CONFIG_FILE,
    MODEL_FILE,
    NAME_PATTERN,
    config_json_document,
    teacher_error,
)
from vid2act_teachers.teacher_replay_set import ReplaySet, write_replay_set

HOME_ENV = "VID2ACT_HOME"
"""Environment variable naming the vid2act home directory (teachers/, datasets/)."""

TEACHERS_DIR = "teachers"

LOCK_TIMEOUT_S = 120.0
"""How long a write waits for another process holding the same name's lock."""

_TEMP_SEPARATOR = "~"  # never part of a teacher name, so ".tmp~<name>~..." is unambiguous


def vid2act_home() -> Path:
    """`$VID2ACT_HOME`, else `$XDG_CACHE_HOME/vid2act`, else `~/.cache/vid2act`."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "vid2act"


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class TeacherStore:
    """The local teacher directories under `<root>/teachers/`: listing, locking, writing, removing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.teachers_dir = root / TEACHERS_DIR

    def names(self) -> list[str]:
        """Names of the teacher directories present, sorted (temporary and lock entries excluded)."""
        if not self.teachers_dir.is_dir():
            return []
        return sorted(
            entry.name for entry in self.teachers_dir.iterdir() if entry.is_dir() and NAME_PATTERN.match(entry.name)
        )

    def directory(self, name: str) -> Path:
        """`teachers/<name>` (whether or not it exists)."""
        return self.teachers_dir / name

    @contextlib.contextmanager
    def name_lock(self, name: str, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
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
                        raise teacher_error(name, f"another process has been writing it for over {timeout_s:.0f} s ({lock_path})") from None
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

    def _retired_path(self, name: str) -> Path:
        return self.teachers_dir / f".old{_TEMP_SEPARATOR}{name}{_TEMP_SEPARATOR}{uuid.uuid4().hex[:8]}"

    def write(
        self,
        name: str,
        tensors: dict[str, torch.Tensor],
        metadata: dict[str, str],
        overwrite: bool,
        replay_set: ReplaySet | None = None,
    ) -> Path:
        """Write `teachers/<name>` (weights with `metadata` in the header, the action-replay set if
        given, and config.json) atomically.

        Refuses an existing name unless `overwrite`. Returns the teacher's directory.
        """
        with self.name_lock(name):
            self._remove_leftovers(name)
            final = self.directory(name)
            if final.exists() and not overwrite:
                raise teacher_error(name, f"already exists in {self.teachers_dir}; pass overwrite to replace it")
            staging = Path(tempfile.mkdtemp(prefix=f".tmp{_TEMP_SEPARATOR}{name}{_TEMP_SEPARATOR}", dir=self.teachers_dir))
            try:
                model_file = staging / MODEL_FILE
                with atomic_path(model_file) as partial:
                    save_file(tensors, str(partial), metadata=metadata)
                summary = replay_set.summary(write_replay_set(staging, replay_set)) if replay_set is not None else None
                document = config_json_document(name, metadata, sha256_file(model_file), summary)
                atomic_write_text(staging / CONFIG_FILE, json.dumps(document, indent=2, sort_keys=False) + "\n")
                staging.chmod(0o755)
                if final.exists():
                    retired = self._retired_path(name)
                    os.rename(final, retired)
                    os.rename(staging, final)
                    shutil.rmtree(retired, ignore_errors=True)
                else:
                    os.rename(staging, final)
                _fsync_directory(self.teachers_dir)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return final

    def remove(self, name: str) -> bool:
        """Delete `teachers/<name>` under its lock; False if it does not exist."""
        final = self.directory(name)
        if not final.is_dir():
            return False
        with self.name_lock(name):
            if not final.is_dir():
                return False
            retired = self._retired_path(name)
            os.rename(final, retired)
            _fsync_directory(self.teachers_dir)
            shutil.rmtree(retired, ignore_errors=True)
        return True
