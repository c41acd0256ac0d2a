"""The teacher registry: pretrained world models stored as safetensors with their config.

`TeacherRegistry` is the public entry point; it composes one module per job:

- `teacher_format`: the file format (header metadata schema, `TeacherInfo`, names, errors);
- `teacher_storage`: where teachers live (`$VID2ACT_HOME/teachers/<name>/`), per-name locks,
  atomic directory writes;
- `teacher_exchange`: export to and import from one self-contained .safetensors file;
- `teacher_verify`: tensors against the stated architecture, config.json against the header;
- `teacher_replay_set`: the action-replay set stored beside the weights (what transfer's
  action-replay model needs, so guidance works without the source dataset).

Safety: loading never unpickles (safetensors only). Every problem is a `TeacherError` whose
message is one line naming the teacher and what is wrong; a failed write leaves every other
teacher untouched.

Teachers shipped by plugins (`vid2act_teachers.plugins.registered_teachers()`) appear in
`names`, `list`, `info`, `load` and `verify` with source "plugin:<plugin>"; they are read-only.
A teacher added to the local registry under the same name shadows the plugin's; that is
reported (`shadowing_message`) when it is added and by `vid2act teachers list`.
"""

from __future__ import annotations

import builtins
import difflib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vid2act_core.config import Config
from vid2act_core.runtime.fileio import sha256_file
from vid2act_core.world_model import WorldModel

from vid2act_teachers.teacher_exchange import check_export_target, read_export, write_export, write_plugin_directory
from vid2act_teachers.teacher_format import (
    CONFIG_FILE,
    FORMAT_VERSION,
    KIND_TASK,
    MODEL_FILE,
    NAME_METADATA_KEY,
    PLUGIN_SOURCE_PREFIX,
    REQUIRED_METADATA_KEYS,
    SHA256_PATTERN,
    SOURCE_REGISTRY,
    TeacherError,
    TeacherFile,
    TeacherInfo,
    build_metadata,
    check_compatible,
    read_config_json,
    read_teacher_file,
    shadowing_message,
    teacher_error,
    validate_name,
)
from vid2act_teachers.teacher_replay_set import (
    REPLAY_SET_FILE,
    ReplaySet,
    check_fits_teacher,
    read_replay_set_file,
    weights_digest,
)
from vid2act_teachers.teacher_storage import HOME_ENV, LOCK_TIMEOUT_S, TeacherStore, vid2act_home
from vid2act_teachers.teacher_verify import (
    check_config_json_agrees,
    check_state_dict,
    load_world_model,
    require_finite,
    unwrap_module,
)

logger = logging.getLogger("vid2act.registry")

sha256_of_file = sha256_file
"""Hex sha256 of a file's bytes (`vid2act_core.runtime.fileio.sha256_file`, kept under its registry name)."""


class TeacherRegistry:
    """Teachers in `<root>/teachers/` (root: `vid2act_home()` by default) plus plugin-shipped ones."""

    def __init__(self, root: Path | None = None, include_plugins: bool = True) -> None:
        """`root` is the vid2act home (the registry lives in `root/teachers`); `include_plugins`
        adds the teachers that installed plugins ship."""
        self.root = Path(root).expanduser() if root is not None else vid2act_home()
        self.include_plugins = include_plugins
        self.store = TeacherStore(self.root)

    @property
    def teachers_dir(self) -> Path:
        """`<root>/teachers`."""
        return self.store.teachers_dir

    # -- finding teachers ------------------------------------------------------------------

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

    def names(self) -> builtins.list[str]:
        """Every teacher name, local and plugin-shipped, sorted."""
        return sorted(set(self.store.names()) | set(self._plugin_teachers()))

    def _locate(self, name: str) -> tuple[Path, str]:
        """(directory, source) of teacher `name`; local teachers shadow plugin ones."""
        validate_name(name)
        local = self.store.directory(name)
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

    def _read(self, name: str) -> tuple[TeacherInfo, TeacherFile]:
        """The teacher's info and checked header (reads its header and config.json, not its tensors)."""
        directory, source = self._locate(name)
        teacher_file = read_teacher_file(name, directory / MODEL_FILE)
        stored = read_config_json(name, directory)
        info = teacher_file.info(name, source, directory, stored["weights_sha256"], stored.get("replay_set"))
        return info, teacher_file

    def info(self, name: str) -> TeacherInfo:
        """Metadata of one teacher (reads its header and config.json, not its tensors)."""
        return self._read(name)[0]

    def config(self, name: str) -> Config:
        """The config a teacher was trained with, from its header (its tensors are not read)."""
        return self._read(name)[1].config

    def list(self) -> builtins.list[TeacherInfo]:
        """Metadata of every readable teacher, sorted by name; unreadable ones are logged and skipped
        (`verify` reports them)."""
        infos: builtins.list[TeacherInfo] = []
        for name in self.names():
            try:
                infos.append(self.info(name))
            except TeacherError as error:
                logger.warning("%s (skipped)", error)
        return infos

    # -- loading ---------------------------------------------------------------------------

    def _load_checked(
        self, name: str, device: str | torch.device = "cpu"
    ) -> tuple[WorldModel, TeacherInfo, TeacherFile, dict[str, torch.Tensor]]:
        info, teacher_file = self._read(name)
        file = info.path / MODEL_FILE
        actual = sha256_file(file)
        if actual != info.weights_sha256:
            raise teacher_error(
                name, f"{MODEL_FILE} sha256 {actual[:16]}... does not match {CONFIG_FILE}'s {info.weights_sha256[:16]}..."
            )
        model, tensors = load_world_model(name, teacher_file, file, device)
        return model, info, teacher_file, tensors

    def load(self, name: str, device: str | torch.device = "cpu", frozen: bool = True) -> tuple[WorldModel, Config, TeacherInfo]:
        """Build the teacher's WorldModel from its stored config and load its weights.

        Checks the header, the config hash, the weights' sha256 against config.json and every
        tensor's name, shape and dtype. `frozen` (for transfer): eval mode, no parameter requires grad.
        """
        model, info, teacher_file, _ = self._load_checked(name, device)
        if frozen:
            model.eval()
            model.requires_grad_(False)
        return model, teacher_file.config, info

    # -- writing ---------------------------------------------------------------------------

    def shadowed(self) -> builtins.list[tuple[str, str]]:
        """(name, plugin) of every local teacher that hides a plugin-shipped teacher of the same name."""
        local = set(self.store.names())
        return sorted((name, plugin) for name, (plugin, _) in self._plugin_teachers().items() if name in local)

    def _commit(
        self,
        name: str,
        tensors: dict[str, torch.Tensor],
        metadata: dict[str, str],
        overwrite: bool,
        replay_set: ReplaySet | None = None,
    ) -> TeacherInfo:
        """Write a checked teacher into `teachers/<name>` atomically, under the name's lock."""
        plugin = self._plugin_teachers().get(name)
        if plugin is not None:
            logger.warning(shadowing_message(name, plugin[0]))
        self.store.write(name, tensors, metadata, overwrite, replay_set)
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
        source_expert: Mapping[str, Any] | None = None,
        replay_set: ReplaySet | None = None,
        kind: str = KIND_TASK,
    ) -> TeacherInfo:
        """Save a trained world model as teacher `name` (refuses an existing name unless `overwrite`).

        `config` must be the config the model was built from (its world_model section and
        env.image_size); the model's action size comes from `world_model.action_dim`. A model
        wrapped by DataParallel, DistributedDataParallel or torch.compile is saved unwrapped.
        `source_expert` (optional) describes the expert that collected the dataset (shown by `list`).
        `replay_set` (`teacher_replay_set.make_replay_set`, computed with these weights) is stored beside them.
        `kind`: KIND_TASK, or KIND_MULTITASK for one model of several tasks (--init-from only, never a teacher).
        """
        validate_name(name)
        if not isinstance(world_model, torch.nn.Module):
            raise teacher_error(name, f"expected a torch.nn.Module world model, got {type(world_model).__name__}")
        world_model = unwrap_module(world_model)
        action_dim = getattr(world_model, "action_dim", None)
        if not isinstance(action_dim, int) or action_dim < 1:
            raise teacher_error(name, "the world model has no integer action_dim attribute (build it with vid2act_core WorldModel)")
        image_size = int(config.env.image_size)
        model_image_size = getattr(world_model, "image_size", image_size)
        if model_image_size != image_size:
            raise teacher_error(name, f"the world model takes {model_image_size}x{model_image_size} images, the config says {image_size}")
        for field_name, value in (("domain", domain), ("task", task)):
            if not isinstance(value, str) or not value or any(character.isspace() for character in value):
                raise teacher_error(name, f"{field_name} must be a non-empty string without spaces, got {value!r}")
        if isinstance(train_steps, bool) or not isinstance(train_steps, int) or train_steps < 0:
            raise teacher_error(name, f"train_steps must be an integer >= 0, got {train_steps!r}")
        dataset_hash = str(dataset_sha256).lower()
        if not SHA256_PATTERN.match(dataset_hash):
            raise teacher_error(name, f"dataset_sha256 must be 64 hex digits, got {dataset_sha256!r}")
        tensors = {key: value.detach().to("cpu").contiguous().clone() for key, value in world_model.state_dict().items()}
        check_state_dict(name, tensors, config, action_dim)
        if replay_set is not None:
            check_fits_teacher(name, replay_set, world_model.feature_size, action_dim, weights_digest(tensors), "the action-replay set")
        metadata = build_metadata(
            name,
            config,
            domain=domain,
            task=task,
            action_dim=action_dim,
            train_steps=train_steps,
            dataset_sha256=dataset_hash,
            source_expert=source_expert,
            kind=kind,
        )
        return self._commit(name, tensors, metadata, overwrite, replay_set)

    # -- the action-replay set -------------------------------------------------------------

    def load_replay_set(self, name: str) -> ReplaySet | None:
        """Teacher `name`'s action-replay set (checked against config.json and its weights), None when it has none."""
        return self._checked_replay_set(name, *self._load_checked(name))

    def _checked_replay_set(
        self, name: str, model: WorldModel, info: TeacherInfo, teacher_file: TeacherFile, tensors: dict[str, torch.Tensor]
    ) -> ReplaySet | None:
        if info.replay_set is None:
            return None
        replay_set = read_replay_set_file(name, info.path, info.replay_set)
        check_fits_teacher(name, replay_set, model.feature_size, teacher_file.action_dim, weights_digest(tensors), REPLAY_SET_FILE)
        return replay_set

    def attach_replay_set(self, name: str, replay_set: ReplaySet) -> TeacherInfo:
        """Store (or replace) the action-replay set of local teacher `name`; its weights stay as they are."""
        model, info, teacher_file, tensors = self._load_checked(name)
        if info.is_plugin:
            raise teacher_error(
                name,
                f"is shipped by plugin {info.source[len(PLUGIN_SOURCE_PREFIX):]!r} and read-only; import a copy under another "
                "name (`vid2act teachers export`, then `vid2act teachers import FILE --name NEW`) and attach data to that",
            )
        check_fits_teacher(name, replay_set, model.feature_size, info.action_dim, weights_digest(tensors), "the action-replay set")
        self.store.write(name, tensors, dict(teacher_file.metadata), True, replay_set)
        return self.info(name)

    def remove(self, name: str) -> None:
        """Delete a local teacher (plugin-shipped teachers cannot be removed)."""
        validate_name(name)
        if self.store.directory(name).is_dir() and self.store.remove(name):
            return
        plugin_teachers = self._plugin_teachers()
        if name in plugin_teachers:
            plugin = plugin_teachers[name][0]
            raise teacher_error(
                name,
                f"is shipped by plugin {plugin!r} and cannot be removed "
                f"(uninstall the plugin or set VID2ACT_DISABLE_PLUGINS={plugin})",
            )
        raise self._unknown(name)

    # -- moving teachers between machines --------------------------------------------------

    def export(self, name: str, file: Path, overwrite: bool = False) -> Path:
        """Write teacher `name` as one self-contained .safetensors file (weights, config and every
        metadata key in the header); the teacher is fully checked first. Returns the file's path."""
        file = check_export_target(name, file, overwrite)
        loaded = self._load_checked(name)
        _, info, teacher_file, tensors = loaded
        return write_export(info, tensors, file, dict(teacher_file.metadata), self._checked_replay_set(name, *loaded))

    def export_for_plugin(self, name: str, directory: Path, overwrite: bool = False) -> Path:
        """Write teacher `name`, fully checked, as `directory/<name>/` in the layout a plugin ships
        (model.safetensors, config.json, replay_set.safetensors when it has one). Returns that directory."""
        self.verify_one(name)
        return write_plugin_directory(self.info(name), Path(directory).expanduser() / name, overwrite)

    def import_file(self, file: Path, name: str | None = None, overwrite: bool = False) -> TeacherInfo:
        """Add the teacher in an exported .safetensors file (named `name`, else the name stored in
        it, else the file's stem). The file is fully checked before anything is written."""
        imported = read_export(file, name)
        return self._commit(imported.name, imported.tensors, imported.metadata, overwrite, imported.replay_set)

    # -- checking --------------------------------------------------------------------------

    def verify_one(self, name: str) -> None:
        """Fully check one teacher; raise TeacherError describing the first problem."""
        loaded = self._load_checked(name)
        _, info, teacher_file, tensors = loaded
        require_finite(name, tensors)
        check_config_json_agrees(name, read_config_json(name, info.path), teacher_file)
        self._checked_replay_set(name, *loaded)

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


def teacher_size_bytes(info: TeacherInfo) -> int:
    """Bytes the teacher's directory takes on disk (its files)."""
    return sum(entry.stat().st_size for entry in info.path.iterdir() if entry.is_file())


__all__ = [
    "CONFIG_FILE",
    "FORMAT_VERSION",
    "HOME_ENV",
    "LOCK_TIMEOUT_S",
    "MODEL_FILE",
    "NAME_METADATA_KEY",
    "REQUIRED_METADATA_KEYS",
    "TeacherError",
    "TeacherInfo",
    "TeacherRegistry",
    "check_compatible",
    "sha256_of_file",
    "shadowing_message",
    "teacher_size_bytes",
    "validate_name",
    "vid2act_home",
]
