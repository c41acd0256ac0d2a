"""`vid2act pretrain`: datasets -> teacher pretraining (Eq. 2) -> registry.

`pretrain_teacher` opens one or more HDF5 datasets of one source task (`pretrain_data`), trains a
teacher world model on them (`vid2act_core.pretrain.TeacherPretrainer`) in a resumable run
directory and registers it. Under `torchrun` every process calls it; they train data-parallel and
rank 0 alone writes the run directory, reports and registers the teacher.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist

from vid2act_core.config import Config, config_from_dict, load_config
from vid2act_core.runtime.fileio import atomic_write_text
from vid2act_core.runtime.distributed import DistributedContext, distributed_session
from vid2act_core.pretrain import PretrainSummary, TeacherPretrainer
from vid2act_envs.sampler import SequenceSampler
from vid2act_teachers.experts.rollout import source_expert_of
from vid2act_teachers.registry import TeacherError, TeacherRegistry, validate_name
from vid2act_teachers.teacher_replay_set import DEFAULT_REPLAY_SET_MB, budget_bytes_from_mb

from vid2act_cli.compose.devices import configure_threads, resolve_device
from vid2act_cli.compose.logger import RunLogger
from vid2act_cli.compose.pretrain_data import PRETRAIN_KEYS, PretrainData, load_multitask_data, load_pretrain_data, load_video_data
from vid2act_cli.compose.replay_sets import build_replay_set, describe_replay_set
from vid2act_cli.compose.reporter import NoBar, ProgressBar, Reporter, plain_if_none, summary_parts
from vid2act_cli.compose.runs import RUN_CONFIG, config_differences, load_run_config, save_run_config
from vid2act_cli.compose.validation import check_config_counts, require_count


PRETRAIN_BAR_FORMATS: tuple[tuple[str, str], ...] = (
    ("losses/image_loss", "image {:.1f}"),
    ("losses/kl", "kl {:.2f}"),
    ("eval/open_loop_error", "open-loop {:.4f}"),
    ("charts/updates_per_second", "{:.1f} upd/s"),
)


def pretraining_config(
    preset: str, config_file: Path | None, overrides: Sequence[str], seed: int, steps: int | None
) -> Config:
    """The config of a pretraining command (`pretrain`, `teachers add`): the preset with the YAML file
    and `--set` overrides, the seed, and `--steps` (an integer >= 1) as pretrain.steps when given."""
    config = load_config(preset, config_file, list(overrides))
    config.seed = seed
    if steps is not None:
        config.pretrain.steps = require_count(steps, "--steps")
    return config


def pretrain_progress(bar: ProgressBar, total_steps: int) -> Callable[[int, dict[str, float]], None]:
    """The pretrainer's progress callback: gradient steps on the bar, latest losses and speed beside it."""

    def callback(step: int, summary: dict[str, float]) -> None:
        bar.update(min(step, total_steps), " | ".join(summary_parts(summary, PRETRAIN_BAR_FORMATS)))

    return callback


def _resolve_run_config(config: Config, run_dir: Path, data: PretrainData, reporter: Reporter) -> Config:
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
        reporter.say(f"note: resuming {run_dir} with its saved config; ignoring changed keys: {', '.join(differences)}")
    saved.pretrain.steps = config.pretrain.steps
    return saved


def _broadcast_config(config: Config, context: DistributedContext) -> Config:
    """Rank 0's config on every rank (only rank 0 may see the run directory)."""
    if not context.active:
        return config
    holder = [config.to_dict() if context.is_main else None]
    dist.broadcast_object_list(holder, src=0)
    return config_from_dict(holder[0])


REGISTERED_MARKER = "REGISTERED"
"""File a pretraining run directory gets once it has registered its teacher (name, steps, data)."""


def _broadcast_flag(flag: bool, context: DistributedContext) -> bool:
    """Rank 0's flag on every rank."""
    if not context.active:
        return flag
    holder = [flag if context.is_main else None]
    dist.broadcast_object_list(holder, src=0)
    return bool(holder[0])


def _registration_plan(name: str, data: PretrainData, steps: int, run_dir: Path, overwrite: bool) -> tuple[str, Any]:
    """("add" | "replace" | "skip", existing TeacherInfo or None) for registering `name` after `steps`.

    skip: the registry already holds exactly this teacher. replace: the name exists and either
    `overwrite` is set or this run directory registered it before (a resumed run with more steps
    updates its own teacher). Any other existing name is an error, raised before training starts.
    """
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
    device: str | torch.device,
    reporter: Reporter | None = None,
    overwrite: bool = False,
    multitask: bool = False,
    action_free: bool = False,
    replay_set_mb: float | None = None,
) -> Any:
    """Pretrain teacher `name` on the datasets (one source task) in `run_dir` and register it.

    The teacher is registered with its action-replay set (`compose.replay_sets`) computed on all
    the data, within `replay_set_mb` MiB (default `DEFAULT_REPLAY_SET_MB`). Resumes whatever `run_dir` holds. Under torchrun every rank calls this; rank 0 writes the run
    directory and registers, the others return None. Returns the registry's TeacherInfo.
    """
    validate_name(name)
    check_config_counts(config)
    replay_set_mb = DEFAULT_REPLAY_SET_MB if replay_set_mb is None else replay_set_mb
    budget_bytes_from_mb(replay_set_mb)
    reporter = plain_if_none(reporter)
    run_dir = Path(run_dir)
    with distributed_session(resolve_device(device, reporter)) as context:
        main = context.is_main
        # --multitask: several tasks into one model (the pretrained-DreamerV2 baseline), never a teacher.
        # --action-free: APV's video model, actions dropped (compose.pretrain_data), kind action-free.
        loader = load_video_data if action_free else load_multitask_data if multitask else load_pretrain_data
        data = loader(data_paths, config.train.batch_length)
        config.world_model.action_free = action_free
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
                reporter.say(f"teacher {name!r} is already registered with this data and {config.pretrain.steps} steps; "
                             "nothing to train (--overwrite retrains it)")
                already_registered = _ensure_replay_set(already_registered, data, replay_set_mb, context.device, reporter)
            return already_registered
        if main:
            config = _resolve_run_config(config, run_dir, data, reporter)
            save_run_config(run_dir, config, {
                "kind": "pretrain", "name": name, "task": data.qualified_task,
                "data": [str(path) for path in data.paths], "dataset_sha256": data.dataset_sha256,
                "world_size": context.world_size,
            })
        config = _broadcast_config(config, context)
        configure_threads(config, reporter if main else None, stage="pretrain")
        train_source = SequenceSampler(data.train_episodes, keys=PRETRAIN_KEYS)
        eval_source = SequenceSampler(data.eval_episodes, keys=PRETRAIN_KEYS) if data.eval_episodes else None
        logger = None
        if main:
            logger = RunLogger(run_dir)
            held_out = "1 held-out episode" if eval_source is not None else "training windows (too few episodes to hold one out)"
            reporter.say(
                f"pretraining teacher {name!r} on {data.qualified_task}: {len(data.train_episodes)} episodes from "
                f"{', '.join(map(str, data.paths))}; open-loop evaluation on {held_out}; "
                f"{context.world_size} process(es) on {context.device}; run directory {run_dir}"
            )
        trainer = TeacherPretrainer(
            config, data.action_dim, train_source, run_dir, distributed=context, eval_source=eval_source, logger=logger,
        )
        bars = reporter.progress(f"pretrain {name}", config.pretrain.steps) if main else nullcontext(NoBar())
        try:
            with bars as bar:
                trainer.progress = pretrain_progress(bar, config.pretrain.steps) if main else None
                summary = trainer.run()
        finally:
            if logger is not None:
                logger.close()
        if not main:
            return None
        _report(summary, run_dir, reporter)
        return _register(name, trainer, data, summary, overwrite, reporter, replay_set_mb)


def _report(summary: PretrainSummary, run_dir: Path, reporter: Reporter) -> None:
    if summary.resumed_from and summary.resumed_from >= summary.step:
        reporter.say(f"pretraining already complete in {run_dir} ({summary.step} steps)")
    elif summary.resumed_from:
        reporter.say(f"resumed {run_dir} at step {summary.resumed_from}")
    if summary.initial_open_loop_error is not None and summary.final_open_loop_error is not None:
        reporter.say(f"open-loop error {summary.initial_open_loop_error:.5f} (untrained) -> {summary.final_open_loop_error:.5f}")


def _ensure_replay_set(info: Any, data: PretrainData, replay_set_mb: float, device: torch.device, reporter: Reporter) -> Any:
    """An already registered teacher without an action-replay set gets one computed on `data`."""
    if info is None or info.replay_set is not None or info.kind != "task":
        return info
    registry = TeacherRegistry(include_plugins=False)
    model, _, _ = registry.load(info.name, device="cpu", frozen=True)
    replay_set = build_replay_set(info.name, model, data.train_episodes + data.eval_episodes,
                                  dataset_sha256=data.dataset_sha256, budget_mb=replay_set_mb, device=device)
    reporter.say(f"teacher {info.name!r} had no action-replay set; stored one ({describe_replay_set(replay_set)})")
    return registry.attach_replay_set(info.name, replay_set)


def _register(
    name: str, trainer: TeacherPretrainer, data: PretrainData, summary: PretrainSummary, overwrite: bool, reporter: Reporter,
    replay_set_mb: float,
) -> Any:
    """Add the trained world model with its action-replay set to the registry (or confirm it is already there)."""
    plan, existing = _registration_plan(name, data, summary.step, trainer.run_dir, overwrite)
    if plan == "skip":
        reporter.say(f"teacher {name!r} is already registered with this data and {summary.step} steps")
        return _ensure_replay_set(existing, data, replay_set_mb, next(trainer.world_model.parameters()).device, reporter)
    replay_set = None
    if data.kind == "task":  # a multitask model guides no actor: no action-replay set
        replay_set = build_replay_set(
            name, trainer.world_model, data.train_episodes + data.eval_episodes, dataset_sha256=data.dataset_sha256,
            budget_mb=replay_set_mb, device=next(trainer.world_model.parameters()).device,
        )
        reporter.say(f"action-replay set: {describe_replay_set(replay_set)}")
    info = TeacherRegistry(include_plugins=False).add(
        name, trainer.world_model, trainer.config, domain=data.domain, task=data.task, train_steps=summary.step,
        dataset_sha256=data.dataset_sha256, overwrite=plan == "replace", source_expert=source_expert_of(data.paths),
        replay_set=replay_set, kind=data.kind,
    )
    record = {"name": name, "train_steps": summary.step, "dataset_sha256": data.dataset_sha256}
    atomic_write_text(trainer.run_dir / REGISTERED_MARKER, json.dumps(record) + "\n")
    return info
