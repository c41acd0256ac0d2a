"""The config sections of the baselines: `Config.apv` and `Config.isodream`.

Defaults are the published settings (APV: younggyoseo/apv `apv_finetuning/configs.yaml`, Meta-World
block; Iso-Dream: panmt/Iso-Dream `dmc_carla_iso/configs.yaml`, dmc block); docs/baselines.md lists
each value with its source and what differs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class APVConfig:
    """APV fine-tuning: the stacked model's rule and the video-based intrinsic bonus."""

    beta: float = 1.0
    """Scale of the intrinsic bonus added to the reward target (published: 1.0 Meta-World, 0.1 DMC)."""
    k: int = 16
    """Neighbours of the particle-based entropy estimate."""
    window: int = 5
    """Consecutive action-free features averaged into one particle (published `intr_seq_length`)."""
    queue_size: int = 4096
    """Particles kept (first in, first out) to search neighbours among."""
    projection_dim: int = 128
    """Width of the fixed random projection of the averaged features."""
    norm_momentum: float = 0.99
    """Momentum of the running mean magnitude the bonus is divided by."""
    af_kl_scale: float = 0.0
    """Weight of the action-free model's own KL term during fine-tuning (published: 0)."""
    freeze_updates: int = 100
    """Updates during which the pretrained encoder and action-free RSSM take zero learning rate
    (published Meta-World `enc_lr_type: no_pretrain`, boundary = the 100 updates of the training start;
    0 = trained from the first update, the published DMC setting)."""
    concat_embed: bool = False
    """Feed the image embedding beside the action-free feature to the action-conditional posterior
    (published: False Meta-World, True DMC)."""


@dataclass
class IsoDreamConfig:
    """Iso-Dream: inverse dynamics and the policy's view of the non-controllable future."""

    inverse_scale: float = 1.0
    """Weight of the inverse-dynamics loss (published `action_scale`)."""
    inverse_layers: int = 2
    """Hidden layers of the inverse-dynamics head (published: `reward_layers`, 2)."""
    window: int = 5
    """Imagined future steps of the non-controllable branch the actor attends to (published `window`)."""
