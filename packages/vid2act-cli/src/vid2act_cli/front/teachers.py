"""`api.collect`, `api.pretrain`, `api.add_teacher`, `api.attach_data`: datasets and the teachers pretrained on them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vid2act_cli.compose.catalog import collect_task
from vid2act_cli.compose.pretraining import pretrain_teacher, pretraining_config
from vid2act_cli.compose.replay_sets import AttachDataRequest as AttachDataSettings, attach_data as store_replay_set
from vid2act_cli.compose.reporter import Reporter, plain_if_none
from vid2act_cli.compose.teacher_add import AddTeacherRequest as AddTeacherSettings, add_teacher as run_stages


@dataclass(frozen=True)
class TeacherResult:
    """A model the registry holds after pretraining (a teacher, or a multitask / action-free model)."""

    name: str
    """The registered name."""
    kind: str
    """task (a transfer teacher), multitask or action-free."""
    task: str
    """The qualified source task, e.g. dmc:walker_walk."""
    train_steps: int
    """Gradient steps the model was pretrained for."""
    dataset_sha256: str
    """Digest of the pretraining data."""
    path: Path
    """The registry entry's directory."""


def _teacher_result(info: object) -> TeacherResult:
    """The registry's TeacherInfo as the api's frozen result."""
    return TeacherResult(name=str(info.name), kind=str(info.kind), task=str(info.qualified_task),  # type: ignore[attr-defined]
                         train_steps=int(info.train_steps), dataset_sha256=str(info.dataset_sha256),  # type: ignore[attr-defined]
                         path=Path(info.path))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PretrainRequest:
    """What `vid2act pretrain` takes: offline teacher pretraining (Eq. 2) on reward-free image-action datasets."""

    data: tuple[Path, ...]
    """HDF5 datasets of the source task (with multitask, of several tasks)."""
    name: str
    """Name to register the teacher under."""
    preset: str = "small"
    """Preset stack, e.g. small or small,cpu-demo."""
    steps: int | None = None
    """Gradient steps (overrides the preset's pretrain.steps)."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto (under torchrun: cuda uses LOCAL_RANK's GPU)."""
    logdir: Path | None = None
    """Run directory (default: runs/pretrain-<name>); an existing one is resumed."""
    seed: int = 0
    """Random seed."""
    config_file: Path | None = None
    """YAML file of config overrides (--config)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "train.batch_size=32" (--set)."""
    overwrite: bool = False
    """Replace a registered teacher of the same name."""
    action_free: bool = False
    """APV: an action-free video model on the datasets' frames, registered as kind action-free."""
    multitask: bool = False
    """One model on datasets of several tasks, registered as kind multitask (for init_from)."""
    replay_set_mb: float = 4.0
    """Size budget (MiB) of the action-replay set stored with the teacher."""


def pretrain(request: PretrainRequest, reporter: Reporter | None = None) -> TeacherResult | None:
    """Pretrain a teacher world model (image reconstruction + KL, no rewards) and register it; calling again resumes.

    Under torchrun every rank calls this; rank 0 registers and gets the result, the others get None.
    """
    config = pretraining_config(request.preset, request.config_file, request.overrides, request.seed, request.steps)
    run_dir = request.logdir if request.logdir is not None else Path("runs") / f"pretrain-{request.name}"
    info = pretrain_teacher(list(request.data), request.name, config, run_dir, request.device, plain_if_none(reporter),
                            overwrite=request.overwrite, multitask=request.multitask,
                            action_free=request.action_free, replay_set_mb=request.replay_set_mb)
    return None if info is None else _teacher_result(info)


@dataclass(frozen=True)
class AddTeacherRequest:
    """What `vid2act teachers add` takes: expert -> dataset -> pretraining -> registry for one source task."""

    task: str
    """Source task, e.g. metaworld:door-open or walker_walk."""
    name: str | None = None
    """Teacher name (None: the task with ':' and '-' as '_')."""
    episodes: int | None = None
    """Episodes to collect (None: 10 with a scripted expert, 50 with a trained agent)."""
    policy: str = "expert"
    """expert, random, or a `vid2act train` run directory."""
    expert: str = "state"
    """Expert where the domain has no scripted one: state (SAC from state, DMC) or dreamer (pixel agent)."""
    expert_steps: int | None = None
    """Expert budget: agent steps of the state expert, env steps of a dreamer expert (None: the defaults)."""
    steps: int | None = None
    """Pretraining gradient steps (None: the preset's pretrain.steps)."""
    preset: str = "small"
    """Preset stack, e.g. small or small,cpu-demo."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto."""
    data: tuple[Path, ...] = ()
    """HDF5 datasets of the task to use instead of collecting."""
    seed: int = 0
    """Random seed (collection, expert training, pretraining)."""
    overrides: tuple[str, ...] = ()
    """Config overrides such as "env.episode_steps=100" (--set)."""
    replay_set_mb: float = 4.0
    """Size budget (MiB) of the action-replay set stored with the teacher."""
    workers: int | None = None
    """Processes collecting the dataset (None: min(2, usable cores) where the policy can be rebuilt in a worker, else 1)."""


def add_teacher(request: AddTeacherRequest, reporter: Reporter | None = None) -> TeacherResult:
    """Collect expert episodes (if needed), pretrain a teacher on them and register it; calling again resumes.

    A plugin that fails to load raises vid2act_teachers.plugins.PluginError.
    """
    config = pretraining_config(request.preset, None, request.overrides, request.seed, request.steps)
    settings = AddTeacherSettings(
        task=request.task, config=config, device=request.device, name=request.name, episodes=request.episodes,
        policy=request.policy, expert_steps=request.expert_steps, data=list(request.data) or None,
        expert=request.expert, replay_set_mb=request.replay_set_mb, workers=request.workers,
    )
    return _teacher_result(run_stages(settings, plain_if_none(reporter)))


@dataclass(frozen=True)
class CollectRequest:
    """What `vid2act collect` takes: an expert or random policy's image-action episodes into HDF5."""

    task: str
    """Task name, e.g. metaworld:button-press-topdown or walker_walk."""
    episodes: int = 10
    """Number of episodes to collect."""
    policy: str = "expert"
    """expert (the domain's scripted expert; for DMC the cached state expert) or random."""
    out: Path | None = None
    """HDF5 file to write or append to (None: data/<task>.h5)."""
    seed: int = 0
    """Environment (and random policy) seed."""
    image_size: int = 64
    """Image height and width in pixels."""
    episode_steps: int | None = None
    """Time limit in simulator steps (None: the task's)."""
    workers: int = 1
    """Worker processes running episodes in parallel (the data do not depend on it: episode i uses seed + i)."""


@dataclass(frozen=True)
class CollectResult:
    """What a collection added to its file."""

    path: Path
    """The HDF5 file written or appended to."""
    episodes: int
    """Episodes collected by this call."""
    steps: int
    """Agent steps collected by this call."""
    mean_return: float
    """Mean episode return."""
    successes: tuple[bool, ...]
    """Per-episode success, for tasks that report it (else empty)."""
    success_rate: float | None
    """Fraction of successful episodes; None where the task defines no success."""


def collect(request: CollectRequest, on_start: Callable[..., None] | None = None,
            on_step: Callable[..., None] | None = None,
            on_episode: Callable[..., None] | None = None) -> CollectResult:
    """Collect episodes (images, actions, rewards, flags) into an HDF5 dataset for teacher pretraining.

    The hooks see progress: on_start(spec, path, existing_episodes) once the file is open, on_step(obs)
    per agent step, on_episode(episode, summary) per finished episode. Episodes finished before an
    interruption stay in the file.
    """
    stats, path = collect_task(request.task, request.episodes, request.policy, request.out, request.seed,
                               request.image_size, request.episode_steps, on_start=on_start, on_step=on_step,
                               on_episode=on_episode, workers=request.workers)
    return CollectResult(path=Path(path), episodes=int(stats.episodes), steps=int(stats.steps),
                         mean_return=float(stats.mean_return), successes=tuple(bool(s) for s in stats.successes),
                         success_rate=None if stats.success_rate is None else float(stats.success_rate))


@dataclass(frozen=True)
class AttachDataRequest:
    """What `vid2act teachers attach-data` takes: the action-replay set of a teacher registered without one."""

    name: str
    """The registered (local) teacher."""
    data: tuple[Path, ...]
    """The teacher's source datasets (HDF5), which must hold its task, action size and image size."""
    replay_set_mb: float = 4.0
    """Size budget (MiB) of the action-replay set."""
    device: str = "auto"
    """cpu, cuda, cuda:N or auto: where the teacher encodes the datasets."""


@dataclass(frozen=True)
class AttachDataResult:
    """The action-replay set now stored with the teacher."""

    name: str
    """The teacher."""
    pairs: int
    """(state, action) pairs in the set."""
    path: Path
    """The registry entry's directory."""


def attach_data(request: AttachDataRequest, reporter: Reporter | None = None) -> AttachDataResult:
    """Compute a registered teacher's action-replay set on its source data and store it with the teacher."""
    info = store_replay_set(AttachDataSettings(name=request.name, data=list(request.data), budget_mb=request.replay_set_mb,
                                               device=request.device), plain_if_none(reporter))
    return AttachDataResult(name=str(info.name), pairs=int(info.replay_set["pairs"]), path=Path(info.path))
