"""The world model: encoder, RSSM, image decoder and reward/continuation heads (Eq. 1, 2, 5)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vid2act_core.config import WorldModelConfig
from vid2act_core.losses import kl_balance_loss
from vid2act_core.nets import MLP, ConvDecoder, ConvEncoder, preprocess_images
from vid2act_core.rssm import RSSM, State

Batch = dict[str, torch.Tensor]


@dataclass
class WorldModelOutput:
    """What a world-model loss computed, for terms added on top (distillation) and for imagination."""

    posts: State
    """Posterior states (B, T, ...)."""
    priors: State
    """Prior (one-step prediction) states (B, T, ...)."""
    embeds: torch.Tensor
    """Image embeddings (B, T, E)."""


class WorldModel(nn.Module):
    """Action-conditioned video prediction model with optional reward and continuation heads."""

    def __init__(self, config: WorldModelConfig, action_dim: int, image_size: int = 64) -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.image_size = image_size
        self.encoder = ConvEncoder(config.cnn_depth, image_size)
        if config.action_free:  # APV's video model: no action input (vid2act_core.baselines)
            from vid2act_core.baselines.action_free_rssm import ActionFreeRSSM

            self.rssm: RSSM = ActionFreeRSSM(config, self.encoder.out_dim)
        else:
            self.rssm = RSSM(config, action_dim, self.encoder.out_dim)
        self.decoder = ConvDecoder(self.rssm.feature_size, config.cnn_depth)
        self.reward_head = (
            MLP(self.rssm.feature_size, 1, config.mlp_units, config.reward_layers) if config.use_reward_head else None
        )
        self.cont_head = (
            MLP(self.rssm.feature_size, 1, config.mlp_units, config.reward_layers) if config.use_cont_head else None
        )

    @property
    def feature_size(self) -> int:
        return self.rssm.feature_size

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """images: (..., H, W, 3) uint8 -> (..., E)."""
        return self.encoder(preprocess_images(images))

    def observe(self, batch: Batch, state: State | None = None, sample: bool = True) -> WorldModelOutput:
        embeds = self.embed(batch["image"])
        posts, priors = self.rssm.observe(embeds, batch["action"], batch["is_first"], state, sample=sample)
        return WorldModelOutput(posts=posts, priors=priors, embeds=embeds)

    def reward(self, features: torch.Tensor) -> torch.Tensor:
        if self.reward_head is None:
            raise RuntimeError("this world model has no reward head (teachers are trained without rewards)")
        return _apply_head(self.reward_head, features).float()

    def continuation(self, features: torch.Tensor) -> torch.Tensor | None:
        """Probability that the episode continues, or None without a continuation head."""
        if self.cont_head is None:
            return None
        return torch.sigmoid(_apply_head(self.cont_head, features).float())

    def loss(self, batch: Batch) -> tuple[torch.Tensor, WorldModelOutput, dict[str, torch.Tensor]]:
        """Eq. 2 (image + beta KL), plus the reward (Eq. 5) and continuation terms when the heads exist.

        batch: image (B, T, H, W, 3) uint8, action (B, T, A), is_first (B, T) bool,
        reward (B, T) float and is_terminal (B, T) bool when the heads need them. The
        continuation target is 1 - is_terminal: a terminal step (the task ended, discount 0) is 0,
        a step that only ends the episode by the time limit (is_last alone) still continues.
        """
        config = self.config
        target = preprocess_images(batch["image"])  # once: the encoder's input and the decoder's target
        embeds = self.encoder(target)
        posts, priors = self.rssm.observe(embeds, batch["action"], batch["is_first"])
        output = WorldModelOutput(posts=posts, priors=priors, embeds=embeds)
        features = self.rssm.feature(output.posts)
        reconstruction = self.decoder(features)
        image_nll = 0.5 * (reconstruction.float() - target).square().sum((-3, -2, -1)).mean()
        kl_loss, kl_value = kl_balance_loss(
            self.rssm.kl, output.posts, output.priors, config.kl_balance, config.free_nats
        )
        loss = config.image_scale * image_nll + config.kl_scale * kl_loss
        metrics = {"image_loss": image_nll.detach(), "kl": kl_value, "kl_loss": kl_loss.detach()}
        if self.reward_head is not None:
            reward_nll = 0.5 * (self.reward(features) - batch["reward"]).square().mean()
            loss = loss + config.reward_scale * reward_nll
            metrics["reward_loss"] = reward_nll.detach()
        if self.cont_head is not None:
            cont_target = 1.0 - batch["is_terminal"].to(features.dtype)
            cont_nll = F.binary_cross_entropy_with_logits(self.cont_head(features).squeeze(-1).float(), cont_target.float())
            loss = loss + config.cont_scale * cont_nll
            metrics["cont_loss"] = cont_nll.detach()
        if not config.latent == "categorical":
            metrics["prior_std"] = output.priors["std"].mean().detach()
        metrics["model_loss"] = loss.detach()
        return loss, output, metrics

    @torch.no_grad()
    def open_loop(self, batch: Batch, context: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Filter `context` frames, then predict the rest from actions alone.

        Returns (truth, prediction), both uint8 (B, T, H, W, 3); prediction's first `context`
        frames are reconstructions. Where a later frame starts a new episode (`is_first`, in windows
        of short episodes) the prediction restarts from the reset state, as filtering does.
        """
        observed = {key: value[:, :context] for key, value in batch.items()}
        output = self.observe(observed, sample=False)
        state = {key: value[:, -1] for key, value in output.posts.items()}
        features = [self.rssm.feature(output.posts)]
        imagined = []
        for t in range(context, batch["action"].shape[1]):
            state, action = self.rssm.reset_where_first(state, batch["action"][:, t], batch["is_first"][:, t])
            state = self.rssm.img_step(state, action, sample=False)
            imagined.append(self.rssm.feature(state))
        if imagined:
            features.append(torch.stack(imagined, 1))
        prediction = self.decoder(torch.cat(features, 1))
        prediction = ((prediction + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2)
        return batch["image"], prediction

    @torch.no_grad()
    def open_loop_error(self, batch: Batch, context: int) -> torch.Tensor:
        """Mean squared pixel error (images in [0, 1]) of the open-loop predicted frames."""
        truth, prediction = self.open_loop(batch, context)
        diff = truth[:, context:].float() - prediction[:, context:].float()
        return (diff / 255.0).square().mean()


def _apply_head(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """A scalar head on (..., F) features, as one 2-D matmul per layer: (...,).

    Features sliced in time (`features[:, 1:]`) are not contiguous; a Linear with frozen weights
    (imagination) would run them as a batched matmul over a broadcast weight, several times slower
    than copying them once into a (N, F) matrix (benchmarks/README.md).
    """
    flat = features.reshape(-1, features.shape[-1])
    return head(flat).reshape(features.shape[:-1])
