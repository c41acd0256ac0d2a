"""A teacher's action-replay set: what transfer's action-replay model needs from its source data.

The set is the frozen teacher's posterior features s_t on its own source episodes paired with the
action taken next, a_{t+1} (`vid2act_core.transfer.SourcePairs`), stored beside the weights as
`replay_set.safetensors` so that transfer with guidance needs no source dataset on disk:

    features   (N, F) float16   teacher posterior means (deterministic), F = the teacher's feature size
    actions    (N, A) float32   the next action, in [-1, 1], A = the teacher's action size

The header `__metadata__` holds `vid2act.replay_set.*` keys (`ReplaySet.metadata`): format version,
pair counts before and after subsampling, episodes, the dataset's sha256, the byte budget, the
subsampling seed, and `weights_digest`, a digest of the weight tensors the features were computed
with (a set is refused with other weights). config.json records the file's sha256 and a summary
(`ReplaySet.summary`).

Size budget: a set keeps at most `budget_bytes // (2 F + 4 A)` pairs. A larger source dataset is
subsampled without replacement by a generator seeded with `SUBSAMPLE_SEED`, indices kept in
dataset order, so the same teacher and data always give the same set. Default budget:
`DEFAULT_REPLAY_SET_MB` MiB (`--replay-set-mb`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from vid2act_core.runtime.fileio import atomic_path, sha256_file

from vid2act_teachers.teacher_format import META_PREFIX, json_object, teacher_error

REPLAY_SET_FILE = "replay_set.safetensors"
REPLAY_SET_FORMAT_VERSION = 1
DEFAULT_REPLAY_SET_MB = 4.0
"""Default size budget of an action-replay set, in MiB (about 1,200 pairs at paper-dmc's feature size)."""
SUBSAMPLE_SEED = 0
FEATURES_KEY = "features"
ACTIONS_KEY = "actions"
EXPORT_TENSOR_PREFIX = "replay_set/"
"""In an exported teacher file, the set's tensors are stored under this prefix beside the weights."""
EXPORT_METADATA_KEY = META_PREFIX + "replay_set"
"""In an exported teacher file, the set's header metadata as one JSON object."""
ATTACH_HINT = "vid2act teachers attach-data {name} --data FILE.h5"

_KEY = META_PREFIX + "replay_set."
_INTEGER_FIELDS = ("format_version", "pairs", "pairs_total", "episodes", "feature_size", "action_dim", "budget_bytes", "subsample_seed")


def missing_set_message(name: str) -> str:
    """One line: teacher `name` has no action-replay set, and how to add one."""
    return (
        f"teacher {name!r} has no action-replay set (registered before teachers carried one); "
        f"add it with `{ATTACH_HINT.format(name=name)}` (its source dataset), or pass --source-data {name}=FILE.h5"
    )


def budget_bytes_from_mb(megabytes: float, option: str = "--replay-set-mb") -> int:
    """The byte budget of `megabytes` MiB; raises ValueError naming `option` unless it is > 0."""
    if not isinstance(megabytes, (int, float)) or isinstance(megabytes, bool) or not megabytes > 0 or megabytes != megabytes:
        raise ValueError(f"{option} must be a number of MiB > 0, got {megabytes!r}")
    return int(float(megabytes) * 1024 * 1024)


def pairs_within_budget(feature_size: int, action_dim: int, budget_bytes: int) -> int:
    """How many (float16 feature, float32 action) pairs fit in `budget_bytes`."""
    return int(budget_bytes) // (2 * int(feature_size) + 4 * int(action_dim))


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the weight tensors (names sorted; dtype, shape and bytes of each), independent of file layout."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().to("cpu").contiguous()
        digest.update(f"{key}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class ReplaySet:
    """A teacher's (feature, next action) pairs and where they came from."""

    features: torch.Tensor
    """(N, F) float16 on the CPU."""
    actions: torch.Tensor
    """(N, A) float32 on the CPU."""
    pairs_total: int
    """Pairs in the source data before subsampling."""
    episodes: int
    dataset_sha256: str
    budget_bytes: int
    weights_digest: str
    """`weights_digest` of the teacher weights the features were computed with."""
    subsample_seed: int = SUBSAMPLE_SEED
    created: str = ""

    @property
    def pairs(self) -> int:
        return int(self.features.shape[0])

    def metadata(self) -> dict[str, str]:
        """The safetensors header metadata of `replay_set.safetensors`."""
        values: dict[str, Any] = {
            "format_version": REPLAY_SET_FORMAT_VERSION,
            "pairs": self.pairs,
            "pairs_total": self.pairs_total,
            "episodes": self.episodes,
            "feature_size": int(self.features.shape[1]),
            "action_dim": int(self.actions.shape[1]),
            "dataset_sha256": self.dataset_sha256,
            "budget_bytes": self.budget_bytes,
            "subsample_seed": self.subsample_seed,
            "weights_digest": self.weights_digest,
            "created": self.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return {_KEY + key: str(value) for key, value in values.items()}

    def summary(self, sha256: str) -> dict[str, Any]:
        """The `replay_set` entry of config.json."""
        return {
            "file": REPLAY_SET_FILE,
            "sha256": sha256,
            "pairs": self.pairs,
            "pairs_total": self.pairs_total,
            "episodes": self.episodes,
            "dataset_sha256": self.dataset_sha256,
            "budget_bytes": self.budget_bytes,
        }

    def tensors(self) -> dict[str, torch.Tensor]:
        return {FEATURES_KEY: self.features.contiguous(), ACTIONS_KEY: self.actions.contiguous()}


def make_replay_set(
    name: str,
    features: torch.Tensor,
    actions: torch.Tensor,
    *,
    episodes: int,
    dataset_sha256: str,
    budget_bytes: int,
    weights_digest: str,
    seed: int = SUBSAMPLE_SEED,
) -> ReplaySet:
    """Subsample (features, actions) deterministically to the budget; features stored as float16."""
    if features.ndim != 2 or actions.ndim != 2 or len(features) != len(actions) or len(features) == 0:
        raise teacher_error(
            name, f"an action-replay set needs (N, F) features and (N, A) actions with N > 0, got {list(features.shape)} and {list(actions.shape)}"
        )
    capacity = pairs_within_budget(features.shape[1], actions.shape[1], budget_bytes)
    if capacity < 1:
        raise ValueError(f"--replay-set-mb: {budget_bytes} bytes hold no pair of {features.shape[1]} features; raise the budget")
    total = len(features)
    if total > capacity:
        chosen = np.sort(np.random.default_rng(seed).choice(total, size=capacity, replace=False))
        index = torch.from_numpy(chosen).to(features.device)
        features, actions = features[index], actions[index]
    return ReplaySet(
        features=features.detach().to("cpu", torch.float16).contiguous(),
        actions=actions.detach().to("cpu", torch.float32).contiguous(),
        pairs_total=total,
        episodes=int(episodes),
        dataset_sha256=str(dataset_sha256),
        budget_bytes=int(budget_bytes),
        weights_digest=weights_digest,
        subsample_seed=int(seed),
    )


def write_replay_set(directory: Path, replay_set: ReplaySet) -> str:
    """Write `directory/replay_set.safetensors` atomically; return its sha256."""
    file = Path(directory) / REPLAY_SET_FILE
    with atomic_path(file) as partial:
        save_file(replay_set.tensors(), str(partial), metadata=replay_set.metadata())
    return sha256_file(file)


def replay_set_from_tensors(name: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str], where: str) -> ReplaySet:
    """Check and build a ReplaySet from its tensors and header metadata (`where` names the file)."""
    missing = [key for key in ("features", "actions") if key not in tensors]
    if missing:
        raise teacher_error(name, f"{where} lacks tensor {missing[0]!r}")
    values: dict[str, Any] = {}
    for field in _INTEGER_FIELDS:
        text = metadata.get(_KEY + field)
        try:
            values[field] = int(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise teacher_error(name, f"{where} header key {_KEY + field} is missing or not an integer ({text!r})") from None
    if values["format_version"] > REPLAY_SET_FORMAT_VERSION:
        raise teacher_error(name, f"{where} has format version {values['format_version']}, newer than this library reads; upgrade vid2act-teachers")
    features, actions = tensors[FEATURES_KEY], tensors[ACTIONS_KEY]
    if features.dtype != torch.float16 or actions.dtype != torch.float32:
        raise teacher_error(name, f"{where}: features must be float16 and actions float32, got {features.dtype} and {actions.dtype}")
    expected = (values["pairs"], values["feature_size"]), (values["pairs"], values["action_dim"])
    if (tuple(features.shape), tuple(actions.shape)) != expected:
        raise teacher_error(
            name, f"{where}: tensors have shapes {list(features.shape)} and {list(actions.shape)}, the header states {list(expected[0])} and {list(expected[1])}"
        )
    if values["pairs"] < 1:
        raise teacher_error(name, f"{where} holds no pairs")
    if not bool(torch.isfinite(features).all()) or not bool(torch.isfinite(actions).all()):
        raise teacher_error(name, f"{where} contains NaN or infinity")
    if float(actions.abs().max()) > 1.0 + 1e-5:
        raise teacher_error(name, f"{where}: actions must lie in [-1, 1], found {float(actions.abs().max()):.3f}")
    return ReplaySet(
        features=features, actions=actions, pairs_total=values["pairs_total"], episodes=values["episodes"],
        dataset_sha256=metadata.get(_KEY + "dataset_sha256", ""), budget_bytes=values["budget_bytes"],
        weights_digest=metadata.get(_KEY + "weights_digest", ""), subsample_seed=values["subsample_seed"],
        created=metadata.get(_KEY + "created", ""),
    )


def read_replay_set_file(name: str, directory: Path, summary: dict[str, Any]) -> ReplaySet:
    """Read the set config.json's `summary` describes in `directory`, checking its sha256 and content."""
    from safetensors import safe_open

    file = Path(directory) / str(summary.get("file", REPLAY_SET_FILE))
    if not file.is_file():
        raise teacher_error(name, f"config.json lists an action-replay set, but {file} is missing")
    actual = sha256_file(file)
    if actual != summary.get("sha256"):
        raise teacher_error(
            name, f"{file.name} sha256 {actual[:16]}... does not match config.json's {str(summary.get('sha256'))[:16]}..."
        )
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own error type for bad headers and sizes
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise teacher_error(name, f"{file.name} is corrupt or truncated ({reason})") from None
    replay_set = replay_set_from_tensors(name, tensors, metadata, file.name)
    if replay_set.pairs != summary.get("pairs"):
        raise teacher_error(name, f"{file.name} holds {replay_set.pairs} pairs, config.json says {summary.get('pairs')}")
    return replay_set


def check_fits_teacher(name: str, replay_set: ReplaySet, feature_size: int, action_dim: int, digest: str, where: str) -> None:
    """Raise unless the set was computed by these weights (digest) and matches their sizes."""
    if int(replay_set.features.shape[1]) != int(feature_size) or int(replay_set.actions.shape[1]) != int(action_dim):
        raise teacher_error(
            name,
            f"{where} holds {replay_set.features.shape[1]} features and {replay_set.actions.shape[1]} actions per pair, "
            f"the teacher has feature size {feature_size} and {action_dim} actions",
        )
    if replay_set.weights_digest != digest:
        raise teacher_error(
            name, f"{where} was computed with other weights than the teacher's; rebuild it with `{ATTACH_HINT.format(name=name)}`"
        )


def export_entries(replay_set: ReplaySet) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header metadata) that carry the set inside an exported teacher file."""
    tensors = {EXPORT_TENSOR_PREFIX + key: value for key, value in replay_set.tensors().items()}
    return tensors, {EXPORT_METADATA_KEY: json.dumps(replay_set.metadata(), sort_keys=True)}


def split_export(
    name: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str], where: str
) -> tuple[dict[str, torch.Tensor], dict[str, str], ReplaySet | None]:
    """Separate an exported file's weights and metadata from the replay set it may carry."""
    set_tensors = {key[len(EXPORT_TENSOR_PREFIX):]: value for key, value in tensors.items() if key.startswith(EXPORT_TENSOR_PREFIX)}
    weights = {key: value for key, value in tensors.items() if not key.startswith(EXPORT_TENSOR_PREFIX)}
    model_metadata = {key: value for key, value in metadata.items() if key != EXPORT_METADATA_KEY}
    if EXPORT_METADATA_KEY not in metadata:
        if set_tensors:
            raise teacher_error(name, f"{where} has replay-set tensors but no {EXPORT_METADATA_KEY} header key")
        return weights, model_metadata, None
    set_metadata = json_object(metadata[EXPORT_METADATA_KEY])
    if set_metadata is None:
        raise teacher_error(name, f"{where}: header key {EXPORT_METADATA_KEY} is not a JSON object")
    replay_set = replay_set_from_tensors(name, set_tensors, {str(k): str(v) for k, v in set_metadata.items()}, f"{where} (replay set)")
    return weights, model_metadata, replay_set
