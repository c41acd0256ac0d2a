"""Every hyperparameter of vid2act in typed dataclasses: the single source of truth.

A `Config` is built from a named preset (`paper-dmc`, `paper-metaworld`, `small`, `tiny`), then
optionally a YAML file, then `key.sub=value` overrides, in that order. The resolved config is
saved beside every run and every teacher (`config.yaml` / `config.json`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from vid2act_core.compat import MODEL_HASH_FIELDS


class ConfigError(ValueError):
    """A preset, YAML file or override that does not fit the config schema."""


@dataclass
class WorldModelConfig:
    """Encoder, RSSM, decoder and heads (the part a teacher shares with a student)."""

    latent: Literal["gaussian", "categorical"] = "gaussian"
    """Stochastic latent kind: Gaussian (the method's published code) or 32x32 categorical (DreamerV2)."""
    stoch: int = 50
    """Gaussian latent size, or number of categorical variables."""
    classes: int = 32
    """Classes per categorical variable (ignored for Gaussian latents)."""
    deter: int = 200
    """GRU (deterministic) state size."""
    hidden: int = 200
    """Hidden units of the RSSM's input and output layers."""
    min_std: float = 0.1
    """Lower bound of the Gaussian latent's standard deviation."""
    unimix: float = 0.0
    """Uniform mixture for categorical latents (0 = DreamerV2)."""
    cnn_depth: int = 32
    """Channels of the first convolution; doubled at each of the 4 stages."""
    mlp_units: int = 400
    """Units of the reward and continuation heads."""
    reward_layers: int = 2
    """Hidden layers of the reward head."""
    use_reward_head: bool = True
    """Teachers are trained without rewards (Eq. 2); students and DreamerV2 with them (Eq. 5)."""
    use_cont_head: bool = False
    """Predict episode continuation (only useful for tasks that terminate early)."""
    kl_balance: float = 0.8
    """Fraction of the KL gradient sent to the prior (DreamerV2's KL balancing)."""
    free_nats: float = 1.0
    """KL below this (on the batch mean) is not penalised."""
    kl_scale: float = 1.0
    """beta in Eq. 2 and Eq. 5."""
    image_scale: float = 1.0
    """Weight of the image reconstruction term."""
    reward_scale: float = 2.0
    """Weight of the reward likelihood term (published code: 2)."""
    cont_scale: float = 1.0
    """Weight of the continuation term."""
    lr: float = 3e-4
    """Adam learning rate of the world model."""
    eps: float = 1e-5
    """Adam epsilon."""
    grad_clip: float = 100.0
    """Global gradient-norm clip."""


@dataclass
class ActorCriticConfig:
    """Behaviour learning in imagination."""

    horizon: int = 15
    """Imagination horizon H."""
    discount: float = 0.99
    """Discount gamma."""
    lambda_: float = 0.95
    """lambda of the lambda-returns."""
    units: int = 400
    """Hidden units of actor and critic."""
    actor_layers: int = 4
    """Hidden layers of the actor."""
    critic_layers: int = 3
    """Hidden layers of the critic."""
    actor_lr: float = 8e-5
    """Adam learning rate of the actor."""
    critic_lr: float = 8e-5
    """Adam learning rate of the critic."""
    eps: float = 1e-5
    """Adam epsilon."""
    grad_clip: float = 100.0
    """Global gradient-norm clip."""
    entropy: float = 1e-4
    """Actor entropy regularisation."""
    actor_grad: Literal["dynamics", "reinforce"] = "dynamics"
    """Dynamics backpropagation (continuous control) or REINFORCE."""
    actor_min_std: float = 0.1
    """Minimum standard deviation of the truncated-normal actor."""
    actor_init_std: float = 1.0
    """Standard deviation scale of the untrained actor."""
    slow_target_every: int = 100
    """Copy the critic into the slow target every this many updates."""
    slow_target_fraction: float = 1.0
    """Mixing fraction of the slow-target copy (1 = hard copy)."""


@dataclass
class TransferConfig:
    """Task-selective distillation and generative action replay (paper 4.3-4.4)."""

    distill: bool = True
    """Distil teacher dynamics into the student (off: DreamerV2 from scratch)."""
    uniform_weights: bool = False
    """Ablation: fixed uniform task weights instead of the learned softmax."""
    guidance: bool = True
    """Feed the action-replay VAE's guidance feature to the actor."""
    alpha: float = 1.0
    """Scale of L_distill in the student's loss (Eq. 5)."""
    distill_units: int = 400
    """Hidden units of the f_distill MLP."""
    distill_layers: int = 2
    """Hidden layers of the f_distill MLP."""
    vae_units: int = 750
    """Hidden units of the action VAE."""
    guidance_dim: int = 50
    """Width of the VAE decoder's penultimate layer (the guidance feature)."""
    vae_lr: float = 3e-4
    """Adam learning rate of the action VAE."""
    vae_batch_size: int = 16
    """Source sequences per source task per VAE update."""
    vae_batch_length: int = 16
    """Length of each source sequence for the VAE update."""


@dataclass
class TrainConfig:
    """Online training loop and optimisation schedule."""

    steps: int = 500_000
    """Environment steps (after action repeat is applied, i.e. simulator steps)."""
    batch_size: int = 50
    """Sequences per training batch."""
    batch_length: int = 50
    """Steps per sequence."""
    train_every: int = 5
    """Policy steps between updates."""
    pretrain_updates: int = 100
    """Updates when training starts, after the prefill."""
    prefill: int = 2500
    """Environment steps of random actions before training."""
    eval_every: int = 10_000
    """Environment steps between evaluations."""
    eval_episodes: int = 5
    """Episodes per evaluation and mode."""
    log_every: int = 1_000
    """Environment steps between metric logs."""
    checkpoint_every: int = 5_000
    """Environment steps between checkpoints."""
    video_every: int = 0
    """Environment steps between evaluation videos (0: with every evaluation)."""
    replay_capacity: int = 2_000_000
    """Replay capacity in agent steps."""
    precision: Literal[32, 16] = 32
    """16 enables mixed precision (autocast) on CUDA."""
    compile: bool = False
    """Compile the encoder, decoder and GRU cell with torch.compile (in place; worth it on CUDA)."""
    threads: int = 0
    """torch CPU threads (0: leave torch's default)."""


@dataclass
class PretrainConfig:
    """Offline teacher pretraining on reward-free image-action sequences (paper 4.2, Eq. 2).

    Batches use `train.batch_size` x `train.batch_length`; the optimiser is the world model's.
    """

    steps: int = 200_000
    """Gradient steps (the paper: 200K per teacher)."""
    log_every: int = 1_000
    """Gradient steps between loss logs."""
    eval_every: int = 5_000
    """Gradient steps between open-loop evaluations (error and video on a fixed held-out batch)."""
    checkpoint_every: int = 5_000
    """Gradient steps between checkpoints (one is always written at the end)."""
    open_loop_context: int = 5
    """Observed frames before the open-loop evaluation predicts from actions alone."""


@dataclass
class EnvConfig:
    """Which environment and how it is shaped (None: the task's default)."""

    task: str = ""
    """Task name, e.g. walker_walk or metaworld:door-open."""
    image_size: int = 64
    """Square image side in pixels."""
    action_repeat: int | None = None
    """Simulator steps per agent step (None: DMC 2, Meta-World 1)."""
    episode_steps: int | None = None
    """Time limit in simulator steps (None: DMC 1000, Meta-World 500)."""
    camera: str | None = None
    """Camera override (None: the domain's default)."""


@dataclass
class Config:
    """A complete, resolved vid2act configuration."""

    preset: str = "paper-dmc"
    """Name of the preset this config started from."""
    seed: int = 0
    """Random seed for torch, numpy and the environments."""
    env: EnvConfig = field(default_factory=EnvConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """Offline teacher pretraining schedule (`vid2act pretrain`, `vid2act teachers add`)."""

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (YAML/JSON-ready)."""
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        """The resolved config as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def world_model_hash(self) -> str:
        """Short hash of the world-model architecture: equal hashes load each other's weights."""
        arch = {k: v for k, v in dataclasses.asdict(self.world_model).items() if k in MODEL_HASH_FIELDS}
        arch["image_size"] = self.env.image_size
        return hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:16]


def _paper_dmc() -> Config:
    config = Config(preset="paper-dmc")
    config.train = TrainConfig(steps=500_000, prefill=2500, eval_every=10_000, eval_episodes=10)
    return config


def _paper_metaworld() -> Config:
    config = Config(preset="paper-metaworld")
    config.env.action_repeat = 1
    config.env.episode_steps = 500
    config.train = TrainConfig(steps=300_000, prefill=5000, eval_every=6_000, eval_episodes=10)
    return config


def _small() -> Config:
    """Learns simple DMC tasks on a 2-core CPU in about an hour (about 0.5 s per update there).

    One torch thread: two threads are ~1.5x faster on an idle 2-core machine but up to 20x slower
    when another process competes for the cores (OpenMP spin-waiting); use --set train.threads=2
    on a machine you have to yourself.
    """
    config = Config(preset="small")
    config.world_model = WorldModelConfig(
        stoch=16, deter=128, hidden=128, cnn_depth=16, mlp_units=128, reward_layers=2
    )
    config.actor_critic = ActorCriticConfig(
        units=128, actor_layers=2, critic_layers=2, actor_lr=2e-4, critic_lr=2e-4
    )
    config.transfer = TransferConfig(
        distill_units=128, vae_units=200, guidance_dim=32, vae_batch_size=8, vae_batch_length=16
    )
    config.train = TrainConfig(
        steps=100_000, batch_size=16, batch_length=32, train_every=5, pretrain_updates=100,
        prefill=2500, eval_every=5_000, eval_episodes=2, log_every=1_000, checkpoint_every=5_000,
        replay_capacity=500_000, threads=1,
    )
    config.pretrain = PretrainConfig(steps=5_000, log_every=100, eval_every=500, checkpoint_every=500)
    return config


def _tiny() -> Config:
    """For tests: every network minimal, every schedule a handful of steps."""
    config = Config(preset="tiny")
    config.world_model = WorldModelConfig(
        stoch=8, classes=4, deter=32, hidden=32, cnn_depth=4, mlp_units=32, reward_layers=1
    )
    config.actor_critic = ActorCriticConfig(
        horizon=5, units=32, actor_layers=1, critic_layers=1, slow_target_every=5
    )
    config.transfer = TransferConfig(
        distill_units=32, distill_layers=1, vae_units=32, guidance_dim=8, vae_batch_size=4,
        vae_batch_length=8,
    )
    config.env.episode_steps = 40
    config.train = TrainConfig(
        steps=200, batch_size=4, batch_length=10, train_every=5, pretrain_updates=2, prefill=60,
        eval_every=100, eval_episodes=1, log_every=50, checkpoint_every=50, replay_capacity=10_000,
        threads=1,
    )
    config.pretrain = PretrainConfig(steps=50, log_every=10, eval_every=25, checkpoint_every=25, open_loop_context=5)
    return config


PRESETS: dict[str, typing.Callable[[], Config]] = {
    "paper-dmc": _paper_dmc,
    "paper-metaworld": _paper_metaworld,
    "small": _small,
    "tiny": _tiny,
}


def preset(name: str) -> Config:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]()


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert a YAML/CLI value to the field's annotated type, or raise ConfigError naming key."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if origin is Literal:
        for option in args:
            if value == option or str(value) == str(option):
                return option
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, args))}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
        if not number.is_integer():
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(number)
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if annotation is str:
        return str(value)
    raise ConfigError(f"{key}: unsupported field type {annotation!r}")


def _field_types(node: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(node))


def set_value(config: Config, key: str, value: Any) -> None:
    """Set one dotted key (`world_model.deter`) with type checking."""
    node: Any = config
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not dataclasses.is_dataclass(node):
            raise ConfigError(f"unknown config key {key!r}")
        names = [f.name for f in dataclasses.fields(node)]
        if part not in names:
            import difflib

            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join('.'.join(parts[:depth] + [c]) for c in close)}?" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint}")
        if depth == len(parts) - 1:
            annotation = _field_types(node)[part]
            if dataclasses.is_dataclass(getattr(node, part)):
                if not isinstance(value, dict):
                    raise ConfigError(f"{key}: expected a mapping of sub-keys")
                for sub_key, sub_value in value.items():
                    set_value(config, f"{key}.{sub_key}", sub_value)
            else:
                setattr(node, part, _coerce(value, annotation, key))
        else:
            node = getattr(node, part)


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply `a.b=value` strings; values are parsed as YAML scalars (`1e-4`, `true`, `none`)."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like key.sub=value")
        key, raw = override.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        set_value(config, key.strip(), value)
    return config


def apply_mapping(config: Config, mapping: dict[str, Any], source: str = "mapping") -> Config:
    """Apply a nested dict (as read from YAML); unknown keys raise ConfigError naming `source`."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    for key, value in mapping.items():
        try:
            set_value(config, key, value)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    return config


def load_config(
    preset_name: str = "paper-dmc",
    yaml_path: str | Path | None = None,
    overrides: list[str] | None = None,
) -> Config:
    """Preset, then YAML file, then overrides."""
    config = preset(preset_name)
    if yaml_path is not None:
        path = Path(yaml_path)
        try:
            mapping = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
        if mapping:
            apply_mapping(config, mapping, str(path))
    apply_overrides(config, overrides or [])
    return config


def config_from_dict(mapping: dict[str, Any]) -> Config:
    """Rebuild a Config saved with `to_dict` (starts from its own preset's defaults)."""
    mapping = copy.deepcopy(mapping)
    config = preset(mapping.pop("preset", "paper-dmc"))
    return apply_mapping(config, mapping, "saved config")
