"""Trained experts as artefacts under `$VID2ACT_HOME/experts/<task>/`.

    experts/<task>/policy.safetensors   the deterministic actor's weights (see `policy.py`)
    experts/<task>/expert.json          metadata: algorithm, task, seed, steps, config, evaluation
                                        return, library versions, sha256 of the weights
    experts/<task>/checkpoint/          resumable training state (SB3 model + replay buffer;
                                        private to `train.py`, pickled by SB3, never shipped)

Seed 0 lives in `experts/<task>/`, another seed N in `experts/<task>-seed<N>/`. The weights are
written first and `expert.json` last (both atomically), so an expert exists exactly when its
metadata does. Loading never unpickles; every problem is an `ExpertError` with a one-line
message naming the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vid2act_core.runtime.fileio import atomic_path, atomic_write_text, sha256_file

from vid2act_teachers.experts.config import ExpertConfig
from vid2act_teachers.experts.policy import StateExpertPolicy, build_actor

EXPERTS_DIR = "experts"
POLICY_FILE = "policy.safetensors"
METADATA_FILE = "expert.json"
CHECKPOINT_DIR = "checkpoint"
FORMAT_VERSION = 1


class ExpertError(ValueError):
    """A cached expert is missing, corrupt or does not fit; the message is one line naming the file."""


def expert_dir(home: Path | str, task: str, seed: int = 0) -> Path:
    """Directory of one task's expert: `<home>/experts/<task>` (seed 0) or `<task>-seed<N>`."""
    name = task if seed == 0 else f"{task}-seed{seed}"
    return Path(home) / EXPERTS_DIR / name


@dataclass(frozen=True)
class ExpertMetadata:
    """Contents of `expert.json`."""

    task: str
    seed: int
    algorithm: str
    agent_steps: int
    """Policy decisions trained on (each repeated for action_repeat simulator steps)."""
    env_steps: int
    """Simulator steps trained on (agent_steps x action_repeat)."""
    state_dim: int
    action_dim: int
    config: dict[str, Any]
    eval_mean: float
    eval_std: float
    eval_returns: list[float]
    train_seconds: float
    """Wall-clock of training summed over every (resumed) session, evaluation excluded."""
    versions: dict[str, str]
    sha256: str
    """sha256 of policy.safetensors: the expert's identity, recorded in datasets it produced."""
    created: str
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @property
    def expert_config(self) -> ExpertConfig:
        return ExpertConfig.from_dict(self.config)


def _read_metadata(path: Path) -> ExpertMetadata:
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExpertError(f"{path}: unreadable expert metadata ({' '.join(str(error).split())})") from None
    if not isinstance(values, dict):
        raise ExpertError(f"{path}: expert metadata must be a JSON object")
    known = set(ExpertMetadata.__dataclass_fields__)
    missing = sorted(name for name in known if name not in values and name != "format_version")
    if missing:
        raise ExpertError(f"{path}: missing field(s) {', '.join(missing)}")
    if values.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ExpertError(f"{path}: format_version {values['format_version']!r} unsupported (this library reads {FORMAT_VERSION})")
    try:
        metadata = ExpertMetadata(**{key: value for key, value in values.items() if key in known})
        ExpertConfig.from_dict(metadata.config)
    except (TypeError, ValueError) as error:
        raise ExpertError(f"{path}: invalid expert metadata ({' '.join(str(error).split())})") from None
    return metadata


def read_metadata(directory: Path) -> ExpertMetadata | None:
    """The metadata of the expert in `directory`, None if no expert was written there."""
    path = Path(directory) / METADATA_FILE
    return _read_metadata(path) if path.exists() else None


def write_expert(directory: Path, weights: dict[str, torch.Tensor], metadata: ExpertMetadata) -> ExpertMetadata:
    """Write weights then metadata (atomically); returns the metadata with the weights' sha256 set."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header = {"vid2act.expert.task": metadata.task, "vid2act.expert.algorithm": metadata.algorithm,
              "vid2act.expert.agent_steps": str(metadata.agent_steps)}
    with atomic_path(directory / POLICY_FILE) as temporary:
        save_file(weights, str(temporary), metadata=header)
    final = ExpertMetadata(**{**asdict(metadata), "sha256": sha256_file(directory / POLICY_FILE)})
    atomic_write_text(directory / METADATA_FILE, final.to_json())
    return final


def load_expert(directory: Path) -> tuple[StateExpertPolicy, ExpertMetadata]:
    """The expert policy stored in `directory` and its metadata; ExpertError if absent or corrupt."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    if metadata is None:
        raise ExpertError(f"{directory / METADATA_FILE}: no trained expert here (run `vid2act experts train`)")
    weights_path = directory / POLICY_FILE
    if not weights_path.is_file():
        raise ExpertError(f"{weights_path}: missing expert weights")
    actual = sha256_file(weights_path)
    if actual != metadata.sha256:
        raise ExpertError(f"{weights_path}: sha256 {actual[:12]} does not match expert.json ({metadata.sha256[:12]}); corrupt or replaced, retrain with --force")
    try:
        weights = load_file(str(weights_path))
        actor = build_actor(weights, metadata.expert_config.hidden_sizes)
    except (SafetensorError, OSError, KeyError, RuntimeError, ValueError) as error:
        raise ExpertError(f"{weights_path}: unreadable expert weights ({' '.join(str(error).split())[:200]})") from None
    if (actor.state_dim, actor.action_dim) != (metadata.state_dim, metadata.action_dim):
        raise ExpertError(f"{weights_path}: weights are {actor.state_dim}->{actor.action_dim}, expert.json says {metadata.state_dim}->{metadata.action_dim}")
    return StateExpertPolicy(actor, name=f"sac-expert:{metadata.task}:{metadata.sha256[:12]}"), metadata


def list_experts(home: Path | str) -> list[tuple[Path, ExpertMetadata | None, str | None]]:
    """Every expert directory under `<home>/experts`: (dir, metadata or None, problem or None).

    A directory with a training checkpoint but no finished expert has metadata None and no problem.
    Directories of other tools (the pixel DreamerV2 experts' run directories) are skipped.
    """
    root = Path(home) / EXPERTS_DIR
    found: list[tuple[Path, ExpertMetadata | None, str | None]] = []
    if not root.is_dir():
        return found
    for directory in sorted(path for path in root.iterdir() if path.is_dir()):
        if not ((directory / METADATA_FILE).exists() or (directory / CHECKPOINT_DIR).is_dir()):
            continue
        try:
            found.append((directory, read_metadata(directory), None))
        except ExpertError as error:
            found.append((directory, None, str(error)))
    return found
