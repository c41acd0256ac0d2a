"""Wiring for `vid2act pretrain` and `vid2act teachers add`: datasets -> teacher pretraining -> registry.

`pretrain_teacher` opens one or more HDF5 datasets of one source task, trains a teacher world
model on them (Eq. 2, `vid2act_core.pretrain.TeacherPretrainer`) in a resumable run directory and
registers it. Under `torchrun` every process calls it; they train data-parallel and rank 0 alone
writes the run directory and registers the teacher.

`add_teacher` is `vid2act teachers add`: expert (scripted, or an agent trained with the built-in
DreamerV2 where a domain has no scripted expert) -> dataset -> pretraining -> registry, each stage
resumable and skipped when already done.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from vid2act_core.config import Config
from vid2act_core.pretrain import DistributedContext, PretrainSummary, TeacherPretrainer, distributed_session

from vid2act_cli.runs import RUN_CONFIG, config_differences, configure_threads, load_run_config, save_run_config

PRETRAIN_KEYS: tuple[str, ...] = ("image", "action", "is_first")
"""What Eq. 2 reads from a dataset (rewards are never used)."""

HOLD_OUT_MIN_EPISODES = 3
"""With at least this many episodes, the last one long enough is held out for the open-loop evaluation."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----- datasets -------------------------------------------------------------------------------


@dataclass
class PretrainData:
    """The episodes of one source task gathered from one or more dataset files."""

    paths: list[Path]
    domain: str
    task: str
    action_dim: int
    image_size: int
    action_repeat: int
    camera: str | int
    collector: str
    dataset_sha256: str
    """sha256 of the file, or of the sorted concatenation of the files' sha256s."""
    train_episodes: list[dict[str, np.ndarray]]
    eval_episodes: list[dict[str, np.ndarray]]
    """Held-out episodes for the open-loop evaluation (empty: evaluate on training windows)."""

    @property
    def qualified_task(self) -> str:
        return f"{self.domain}:{self.task}"


def combined_sha256(shas: Sequence[str]) -> str:
    """One dataset's sha256 as is; several: sha256 of their sorted concatenation."""
    if len(shas) == 1:
        return shas[0]
    return hashlib.sha256("".join(sorted(shas)).encode()).hexdigest()


def _pretrain_episode(episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    length = len(episode["image"])
    is_first = episode.get("is_first")
    if is_first is None:
        is_first = np.zeros(length, bool)
        is_first[0] = True
    return {"image": episode["image"], "action": episode["action"], "is_first": np.asarray(is_first, bool)}


def load_pretrain_data(data_paths: Sequence[str | Path], batch_length: int) -> PretrainData:
    """Open and validate the dataset files; they must all hold the same task and formats.

    Raises ValueError (DatasetError) naming the offending file.
    """
    from vid2act_envs.dataset import open_dataset

    if not data_paths:
        raise ValueError("--data: give at least one dataset file")
    paths = [Path(path) for path in data_paths]
    if len(set(path.resolve() for path in paths)) != len(paths):
        raise ValueError("--data: the same file is given more than once")
    episodes: list[dict[str, np.ndarray]] = []
    shas: list[str] = []
    first = None
    for path in paths:
        with open_dataset(path) as dataset:
            attrs = dataset.attrs
            if first is None:
                first = (path, attrs)
            else:
                first_path, first_attrs = first
                if (attrs.domain, attrs.task) != (first_attrs.domain, first_attrs.task):
                    raise ValueError(
                        f"{path}: holds task {attrs.domain}:{attrs.task}, but {first_path} holds "
                        f"{first_attrs.domain}:{first_attrs.task}; a teacher is trained on one source task"
                    )
                for field in ("action_dim", "image_size", "action_repeat", "camera"):
                    if getattr(attrs, field) != getattr(first_attrs, field):
                        raise ValueError(
                            f"{path}: {field} {getattr(attrs, field)!r} differs from {first_path}'s "
                            f"{getattr(first_attrs, field)!r}"
                        )
            if len(dataset) == 0:
                raise ValueError(f"{path}: the dataset has no episodes")
            episodes.extend(_pretrain_episode(episode) for episode in dataset)
            shas.append(dataset.sha256())
    assert first is not None
    attrs = first[1]
    height, width = attrs.image_size
    if height != width:
        raise ValueError(f"{first[0]}: image_size {height}x{width}: teachers need square images")
    lengths = [len(episode["image"]) for episode in episodes]
    if max(lengths) < batch_length:
        raise ValueError(
            f"{', '.join(map(str, paths))}: the longest episode has {max(lengths)} steps, fewer than "
            f"train.batch_length={batch_length}; collect longer episodes or lower train.batch_length"
        )
    eval_episodes: list[dict[str, np.ndarray]] = []
    long_enough = [index for index, length in enumerate(lengths) if length >= batch_length]
    if len(episodes) >= HOLD_OUT_MIN_EPISODES and len(long_enough) >= 2:
        eval_episodes = [episodes.pop(long_enough[-1])]
    return PretrainData(
        paths=paths, domain=attrs.domain, task=attrs.task, action_dim=attrs.action_dim, image_size=height,
        action_repeat=attrs.action_repeat, camera=attrs.camera, collector=attrs.collector,
        dataset_sha256=combined_sha256(shas), train_episodes=episodes, eval_episodes=eval_episodes,
    )


# ----- pretraining ----------------------------------------------------------------------------


def _progress_bar(total_steps: int, description: str) -> tuple[Any, Callable[[int, dict[str, float]], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
    )
    task_id = progress.add_task(description, total=total_steps, info="")
    last = [0.0]

    def callback(step: int, summary: dict[str, float]) -> None:
        now = time.time()
        if now - last[0] < 0.25 and step < total_steps:
            return
        last[0] = now
        parts = []
        if "losses/image_loss" in summary:
            parts.append(f"image {summary['losses/image_loss']:.1f}")
        if "losses/kl" in summary:
            parts.append(f"kl {summary['losses/kl']:.2f}")
        if "eval/open_loop_error" in summary:
            parts.append(f"open-loop {summary['eval/open_loop_error']:.4f}")
        if "charts/updates_per_second" in summary:
            parts.append(f"{summary['charts/updates_per_second']:.1f} upd/s")
        progress.update(task_id, completed=min(step, total_steps), info=" | ".join(parts))

    return progress, callback


def _resolve_run_config(config: Config, run_dir: Path, data: PretrainData) -> Config:
    """The config to train with: the run directory's saved one when resuming (steps from `config`)."""
    if not (run_dir / RUN_CONFIG).exists():
        return config
    saved, info = load_run_config(run_dir)
    saved_sha = info.get("dataset_sha256")
    if saved_sha is not None and saved_sha != data.dataset_sha256:
        raise ValueError(
            f"{run_dir}: this pretraining run was trained on other data (dataset sha256 {saved_sha[:12]}..., "
            f"now {data.dataset_sha256[:12]}...); delete that directory or pretrain into another one (--logdir, or --name for teachers add)"
        )
    differences = config_differences(saved, config, ignore=("train.steps", "pretrain.steps"))
    if differences:
        _say(f"note: resuming {run_dir} with its saved config; ignoring changed keys: {', '.join(differences)}")
    saved.pretrain.steps = config.pretrain.steps
    return saved


def _broadcast_config(config: Config, context: DistributedContext) -> Config:
    """Rank 0's config on every rank (only rank 0 may see the run directory)."""
    if not context.active:
        return config
    import torch.distributed as dist

    from vid2act_core.config import config_from_dict

    holder = [config.to_dict() if context.is_main else None]
    dist.broadcast_object_list(holder, src=0)
    return config_from_dict(holder[0])


REGISTERED_MARKER = "REGISTERED"
"""File a pretraining run directory gets once it has registered its teacher (name, steps, data)."""


def _broadcast_flag(flag: bool, context: DistributedContext) -> bool:
    """Rank 0's flag on every rank."""
    if not context.active:
        return flag
    import torch.distributed as dist

    holder = [flag if context.is_main else None]
    dist.broadcast_object_list(holder, src=0)
    return bool(holder[0])


def _registration_plan(name: str, data: PretrainData, steps: int, run_dir: Path, overwrite: bool) -> tuple[str, Any]:
    """("add" | "replace" | "skip", existing TeacherInfo or None) for registering `name` after `steps`.

    skip: the registry already holds exactly this teacher. replace: the name exists and either
    `overwrite` is set or this run directory registered it before (a resumed run with more steps
    updates its own teacher). Any other existing name is an error, raised before training starts.
    """
    from vid2act_teachers.registry import TeacherError, TeacherRegistry

    registry = TeacherRegistry(include_plugins=False)
    if name not in registry.names():
        return "add", None
    try:
        info = registry.info(name)
    except TeacherError:
        info = None
    if overwrite:
        return "replace", info
    if info is not None and (info.dataset_sha256, info.train_steps, info.qualified_task) == (
        data.dataset_sha256, steps, data.qualified_task
    ):
        return "skip", info
    marker = run_dir / REGISTERED_MARKER
    if marker.exists():
        record = json.loads(marker.read_text())
        if record.get("name") == name and record.get("dataset_sha256") == data.dataset_sha256:
            return "replace", info
    raise ValueError(
        f"teacher {name!r} already exists in the registry (other data or steps); choose another --name, "
        "remove it with `vid2act teachers remove`, or pass --overwrite"
    )


def pretrain_teacher(
    data_paths: Sequence[str | Path],
    name: str,
    config: Config,
    run_dir: str | Path,
    device: torch.device,
    show_progress: bool = True,
    overwrite: bool = False,
) -> Any:
    """Pretrain teacher `name` on the datasets (one source task) in `run_dir` and register it.

    Resumes whatever `run_dir` holds. Under torchrun every rank calls this; rank 0 writes the run
    directory and registers, the others return None. Returns the registry's TeacherInfo.
    """
    from vid2act_envs.replay import SequenceSampler
    from vid2act_teachers.registry import validate_name

    validate_name(name)
    run_dir = Path(run_dir)
    with distributed_session(device) as context:
        main = context.is_main
        data = load_pretrain_data(data_paths, config.train.batch_length)
        config.env.task = data.qualified_task
        config.env.image_size = data.image_size
        config.env.action_repeat = data.action_repeat
        config.env.camera = str(data.camera)
        already_registered = None
        if main:
            plan, existing = _registration_plan(name, data, config.pretrain.steps, run_dir, overwrite)
            already_registered = existing if plan == "skip" else None
        if _broadcast_flag(already_registered is not None, context):
            if main:
                _say(f"teacher {name!r} is already registered with this data and {config.pretrain.steps} steps; "
                     "nothing to train (--overwrite retrains it)")
            return already_registered
        if main:
            config = _resolve_run_config(config, run_dir, data)
            save_run_config(run_dir, config, {
                "kind": "pretrain", "name": name, "task": data.qualified_task,
                "data": [str(path) for path in data.paths], "dataset_sha256": data.dataset_sha256,
                "world_size": context.world_size,
            })
        config = _broadcast_config(config, context)
        configure_threads(config)
        train_source = SequenceSampler(data.train_episodes, keys=PRETRAIN_KEYS)
        eval_source = SequenceSampler(data.eval_episodes, keys=PRETRAIN_KEYS) if data.eval_episodes else None
        logger = None
        progress = None
        if main:
            from vid2act_cli.logger import RunLogger

            logger = RunLogger(run_dir)
            held_out = "1 held-out episode" if eval_source is not None else "training windows (too few episodes to hold one out)"
            _say(
                f"pretraining teacher {name!r} on {data.qualified_task}: {len(data.train_episodes)} episodes from "
                f"{', '.join(map(str, data.paths))}; open-loop evaluation on {held_out}; "
                f"{context.world_size} process(es) on {context.device}; run directory {run_dir}"
            )
        callback = None
        if main and show_progress:
            progress, callback = _progress_bar(config.pretrain.steps, f"pretrain {name}")
        trainer = TeacherPretrainer(
            config, data.action_dim, train_source, run_dir, distributed=context, eval_source=eval_source,
            logger=logger, progress=callback,
        )
        try:
            if progress is not None:
                with progress:
                    summary = trainer.run()
            else:
                summary = trainer.run()
        finally:
            if logger is not None:
                logger.close()
        if not main:
            return None
        _report(summary, run_dir)
        return _register(name, trainer, data, summary, overwrite)


def _report(summary: PretrainSummary, run_dir: Path) -> None:
    if summary.resumed_from and summary.resumed_from >= summary.step:
        _say(f"pretraining already complete in {run_dir} ({summary.step} steps)")
    elif summary.resumed_from:
        _say(f"resumed {run_dir} at step {summary.resumed_from}")
    if summary.initial_open_loop_error is not None and summary.final_open_loop_error is not None:
        _say(f"open-loop error {summary.initial_open_loop_error:.5f} (untrained) -> {summary.final_open_loop_error:.5f}")


def _register(name: str, trainer: TeacherPretrainer, data: PretrainData, summary: PretrainSummary, overwrite: bool) -> Any:
    """Add the trained world model to the registry (or confirm it is already there)."""
    from vid2act_teachers.registry import TeacherRegistry

    plan, existing = _registration_plan(name, data, summary.step, trainer.run_dir, overwrite)
    if plan == "skip":
        _say(f"teacher {name!r} is already registered with this data and {summary.step} steps")
        return existing
    info = TeacherRegistry(include_plugins=False).add(
        name, trainer.world_model, trainer.config, domain=data.domain, task=data.task, train_steps=summary.step,
        dataset_sha256=data.dataset_sha256, overwrite=plan == "replace",
    )
    record = {"name": name, "train_steps": summary.step, "dataset_sha256": data.dataset_sha256}
    (trainer.run_dir / REGISTERED_MARKER).write_text(json.dumps(record) + "\n")
    return info
