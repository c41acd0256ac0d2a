"""A teacher's action-replay set: built at registration, attached to older teachers, read by transfer.

The set (`vid2act_teachers.teacher_replay_set`) is the frozen teacher's posterior features on its
own source episodes paired with the next actions, the pairs `vid2act_core.transfer.SourcePairs`
builds, subsampled to a size budget and stored beside the weights. Transfer with guidance takes,
for each teacher: the dataset given with `--source-data NAME=FILE` (an override), else the stored
set, else (teachers registered before sets existed) the dataset at `$VID2ACT_HOME/datasets/NAME.h5`
with a note, else it refuses with one line saying how to attach one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from vid2act_core.runtime.fileio import combined_sha256
from vid2act_core.transfer import SourcePairs
from vid2act_envs.dataset import open_dataset
from vid2act_teachers.registry import TeacherRegistry
from vid2act_teachers.teacher_replay_set import budget_bytes_from_mb, make_replay_set, missing_set_message, weights_digest
from vid2act_teachers.teacher_verify import unwrap_module

from vid2act_cli.compose.devices import resolve_device
from vid2act_cli.compose.reporter import Reporter, plain_if_none


def build_replay_set(
    name: str,
    world_model: torch.nn.Module,
    episodes: Iterable[dict[str, np.ndarray]],
    *,
    dataset_sha256: str,
    budget_mb: float,
    device: torch.device | str = "cpu",
) -> Any:
    """The `ReplaySet` of `world_model` (frozen, posterior means) on `episodes`, within `budget_mb` MiB."""
    budget = budget_bytes_from_mb(budget_mb)
    model = unwrap_module(world_model)
    digest = weights_digest({key: value for key, value in model.state_dict().items()})
    counted: list[int] = []

    def counting(source: Iterable[dict[str, np.ndarray]]) -> Iterable[dict[str, np.ndarray]]:
        for episode in source:
            counted.append(1)
            yield episode

    was_training = model.training
    model.eval()
    try:
        pairs = SourcePairs.from_episodes(name, model, counting(episodes), device)
    finally:
        model.train(was_training)
    return make_replay_set(
        name, pairs.features, pairs.actions, episodes=len(counted), dataset_sha256=dataset_sha256,
        budget_bytes=budget, weights_digest=digest,
    )


def describe_replay_set(replay_set: Any) -> str:
    """"N pairs (of M, from E episodes), X KiB"."""
    size = replay_set.features.numel() * 2 + replay_set.actions.numel() * 4
    subsampled = f" of {replay_set.pairs_total}" if replay_set.pairs_total > replay_set.pairs else ""
    return f"{replay_set.pairs} pairs{subsampled} from {replay_set.episodes} episodes, {size / 1024:.0f} KiB"


# ----- vid2act teachers attach-data ------------------------------------------------------------


@dataclass
class AttachDataRequest:
    """What `vid2act teachers attach-data NAME --data FILE` was asked for."""

    name: str
    data: Sequence[Path]
    budget_mb: float
    device: str | torch.device = "auto"


def attach_data(request: AttachDataRequest, reporter: Reporter | None = None) -> Any:
    """Compute teacher NAME's action-replay set on its source datasets and store it; returns its TeacherInfo."""
    reporter = plain_if_none(reporter)
    budget_bytes_from_mb(request.budget_mb)  # refuse a bad budget before any work
    if not request.data:
        raise ValueError("--data: give the teacher's source dataset (HDF5)")
    registry = TeacherRegistry()
    info = registry.info(request.name)
    datasets = [open_dataset(Path(path)) for path in request.data]
    try:
        for path, dataset in zip(request.data, datasets):
            held = f"{dataset.attrs.domain}:{dataset.attrs.task}"
            if held != info.qualified_task:
                raise ValueError(f"{path}: holds task {held}, but teacher {request.name!r} was trained on {info.qualified_task}")
            if dataset.attrs.action_dim != info.action_dim:
                raise ValueError(f"{path}: {dataset.attrs.action_dim} actions, teacher {request.name!r} takes {info.action_dim}")
            if tuple(dataset.attrs.image_size) != (info.image_size, info.image_size):
                raise ValueError(f"{path}: images of {dataset.attrs.image_size}, teacher {request.name!r} takes {info.image_size}x{info.image_size}")
        dataset_sha256 = combined_sha256([dataset.sha256() for dataset in datasets])
        if dataset_sha256 != info.dataset_sha256:
            reporter.say(f"note: {', '.join(map(str, request.data))} is not the exact data teacher {request.name!r} "
                         "was trained on (other sha256); the set is computed on it all the same")
        device = resolve_device(request.device, reporter)
        model, _, _ = registry.load(request.name, device="cpu", frozen=True)
        replay_set = build_replay_set(
            request.name, model, itertools.chain.from_iterable(datasets), dataset_sha256=dataset_sha256,
            budget_mb=request.budget_mb, device=device,
        )
    finally:
        for dataset in datasets:
            dataset.close()
    updated = registry.attach_replay_set(request.name, replay_set)
    reporter.say(f"teacher {request.name!r}: stored its action-replay set ({describe_replay_set(replay_set)})")
    return updated


# ----- transfer --------------------------------------------------------------------------------


@dataclass
class GuidanceSources:
    """Where each teacher's action-replay pairs come from in a transfer run."""

    datasets: dict[str, Path] = field(default_factory=dict)
    """Teacher -> source dataset (a --source-data override, or an old teacher's dataset in $VID2ACT_HOME)."""
    stored: list[str] = field(default_factory=list)
    """Teachers whose stored action-replay set is used."""
    notes: list[str] = field(default_factory=list)


def resolve_guidance_sources(registry: Any, names: Sequence[str], given: dict[str, Path], home: Path) -> GuidanceSources:
    """Pick each teacher's source of action-replay pairs (see the module docstring); refuse with one line when none."""
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"--source-data names {', '.join(unknown)}, which are not among --teachers")
    sources = GuidanceSources()
    for name in names:
        if name in given:
            if not Path(given[name]).exists():
                raise ValueError(f"--source-data {name}={given[name]}: no such file (give an existing dataset, or use --no-guidance)")
            sources.datasets[name] = Path(given[name])
        elif registry.info(name).replay_set is not None:
            sources.stored.append(name)
        elif (home / "datasets" / f"{name}.h5").exists():
            sources.datasets[name] = home / "datasets" / f"{name}.h5"
            sources.notes.append(f"note: {missing_set_message(name)}; using {sources.datasets[name]} for now")
        else:
            raise ValueError(f"{missing_set_message(name)}, or use --no-guidance")
    return sources


def load_source_pairs(registry: Any, name: str, model: torch.nn.Module, dataset: Path | None, device: torch.device) -> Any:
    """Teacher `name`'s SourcePairs on `device`: from `dataset` when given, else from its stored set."""
    if dataset is not None:
        with open_dataset(dataset) as episodes:
            return SourcePairs.from_episodes(name, model.to(device), episodes, device)
    replay_set = registry.load_replay_set(name)
    if replay_set is None:
        raise ValueError(missing_set_message(name))
    return SourcePairs(name, replay_set.features.to(device, torch.float32), replay_set.actions.to(device))
