"""The typed dataclasses of every vid2act hyperparameter: the schema a `Config` follows.

Build configs with `vid2act_core.config` (presets, YAML files, overrides); this module only
declares the fields, their types, defaults and meaning.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from vid2act_core.baselines.settings import APVConfig, IsoDreamConfig
from vid2act_core.compat import MODEL_HASH_FIELDS
from vid2act_core.runtime.fileio import sha256_bytes


class ConfigError(ValueError):
    """A preset, YAML file or override that does not fit the config schema."""


def field_choices(config_class: type, name: str) -> tuple[str, ...]:
    """The values a `Literal` field of `config_class` allows, in declaration order: the one list of
    a setting's choices (the model code and the commands' help read it from here)."""
    return tuple(typing.get_args(typing.get_type_hints(config_class)[name]))


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
    """Predict episode continuation (only useful for tasks that terminate early); see auto_cont_head."""
    auto_cont_head: bool = True
    """Switch use_cont_head on when the task can terminate (its TaskSpec.can_terminate, declared by
    the domain); the run prints that it did. False keeps use_cont_head as set."""
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
    action_free: bool = False
    """No action input in the RSSM (APV's action-free video model, registered as kind action-free)."""


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
    scorer: Literal["prediction_error", "stepwise_error", "paper", "mlp", "similarity"] = "prediction_error"
    """f_weight of Eq. 3 (docs/method.md): prediction_error (each teacher's one-step prediction error on the
    target frames, one W per run; the only scorer that passes the selection test), paper (linear on
    concat; its student term cancels), mlp (MLP on concat), similarity (distance of f_distill(teacher) to the student)."""
    scorer_units: int = 64
    """Hidden units of the mlp scorer."""
    similarity_temperature: float = 0.1
    """Temperature of the similarity scorer (logits = -mean squared distance / temperature)."""
    prediction_error_temperature: float = 1.0
    """prediction_error scorer: W = softmax(-log EMA(error) / temperature); 1 gives W proportional to 1 / error."""
    prediction_error_decay: float = 0.99
    """prediction_error scorer: EMA decay of the per-teacher error per update (the first update sets it)."""
    stepwise_window: int = 8
    """stepwise_error scorer: each teacher's per-frame error is smoothed causally over about this many steps."""
    distill_heads: Literal["shared", "per_teacher"] = "shared"
    """f_distill: one MLP for all teachers (paper) or one per teacher (batched, stacked weights)."""
    distill_form: Literal["student_head", "paper", "published"] = "student_head"
    """Eq. 4's two sides (docs/method.md "Distillation forms"): student_head (per-teacher heads g_i on the student's
    state regress each teacher's state, normalised per dimension and without gradient: collapse cannot lower it),
    paper (f_distill(teacher state) against the student's state, both trainable), published (paper on posterior
    states with a linear f_distill and the weight floor 0.1, as the published code)."""
    distill_reduction: Literal["mean", "sum"] = "mean"
    """Reduction of the squared distance over feature dimensions (mean: the published code's; sum: Eq. 4 as written)."""
    distill_weight_floor: float = 0.0
    """Each teacher's weight in L_distill is max(w_i, floor) (the published code floors at 0.1); W itself is unchanged."""
    distill_states: Literal["prior", "posterior"] = "prior"
    """Which states Eq. 4 compares: the teachers' one-step priors with the student's prior mean, or both posteriors."""
    distill_target_decay: float = 0.99
    """student_head: EMA decay per update of each teacher's per-dimension mean and std that normalise its states."""
    diagnostics_every: int = 50
    """World-model updates between the collapse and gradient-ratio diagnostics (0: never)."""
    distill_burn_in: int = 5
    """Steps at the start of each replay window left out of L_distill (the student starts there from zero)."""
    imagination_selection: Literal["per_step", "per_rollout"] = "per_step"
    """Re-select the task k at every imagined step (Algorithm 1, lines 12-14) or once per rollout."""
    action_mapping: Literal["pad_truncate", "zero"] = "pad_truncate"
    """How target actions drive a teacher of another action size: by index (pad/truncate) or zeros."""


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
    """16 enables bf16 mixed precision (autocast, CUDA or CPU); distributions, KL and returns stay fp32."""
    compile: bool = False
    """Compile the encoder, decoder and GRU cell with torch.compile (in place; worth it on CUDA)."""
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    """torch.compile mode when train.compile is on. reduce-overhead and max-autotune replay CUDA graphs
    on CUDA (one launch per compiled call instead of one per kernel: the RSSM's 50-step loop at batch
    16 is launch-bound); on the CPU there are no CUDA graphs and they compile like the others."""
    threads: int = 0
    """torch CPU threads for online training, evaluation and probe cells (0: the free cores, see
    `vid2act_core.runtime.threads`)."""


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
    threads: int = 0
    """torch CPU threads for pretraining, a long job on its own (0: the free cores, see
    `vid2act_core.runtime.threads`; a launcher's OMP_NUM_THREADS wins)."""


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
    """The preset stack this config started from: a full preset, then override blocks (`small,cpu-demo`)."""
    seed: int = 0
    """Random seed for torch, numpy and the environments."""
    env: EnvConfig = field(default_factory=EnvConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """Offline teacher pretraining schedule (`vid2act pretrain`, `vid2act teachers add`)."""
    apv: APVConfig = field(default_factory=APVConfig)
    """APV fine-tuning and its intrinsic bonus (`--method apv`, docs/baselines.md)."""
    isodream: IsoDreamConfig = field(default_factory=IsoDreamConfig)
    """Iso-Dream's inverse dynamics and attention window (`--method isodream`, docs/baselines.md)."""

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
        return sha256_bytes(json.dumps(arch, sort_keys=True).encode())[:16]
