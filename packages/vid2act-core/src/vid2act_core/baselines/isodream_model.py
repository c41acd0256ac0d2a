"""Iso-Dream's world model (Pan et al., 2022): controllable and non-controllable branches.

- Encoder: two shared stride-2 convolutions, then two stages per branch (published layout), each
  branch giving an embedding of the size of one DreamerV2 encoder's.
- Controllable branch: an `RSSM` with the action input. Non-controllable branch: an
  `ActionFreeRSSM` (no action input at all). A state holds both, the latter's keys prefixed `free_`.
- Decoder: one transposed-convolution decoder per branch, each giving an image and a mask logit;
  the frame is the softmax-mask-weighted sum (the published two-mask decoder).
- Inverse dynamics: an MLP predicts a_t from the controllable posterior features at t-1 and t
  (paper); its loss reaches the controllable branch and the shared convolutions only.
- Reward and continuation heads read the controllable feature (published DMC setting).
"""

from __future__ import annotations

import torch
from torch import nn

from vid2act_core.baselines.action_free_rssm import ActionFreeRSSM
from vid2act_core.baselines.composite import CompositeRSSM, CompositeWorldModel, merge_state, split_state
from vid2act_core.baselines.settings import IsoDreamConfig
from vid2act_core.config import WorldModelConfig
from vid2act_core.losses import kl_balance_loss
from vid2act_core.nets import MLP, ConvDecoder, preprocess_images
from vid2act_core.rssm import RSSM, State
from vid2act_core.world_model import Batch, WorldModelOutput

FREE_PREFIX = "free_"
"""Keys of the non-controllable state inside a two-branch state."""


class TwoBranchEncoder(nn.Module):
    """64x64 images -> concat(controllable embedding, non-controllable embedding)."""

    def __init__(self, depth: int, image_size: int = 64) -> None:
        super().__init__()
        if image_size != 64:
            raise ValueError(f"image_size={image_size}: the convolutional encoder supports 64 x 64 images")
        self.shared = nn.Sequential(nn.Conv2d(3, depth, 4, stride=2), nn.ELU(), nn.Conv2d(depth, 2 * depth, 4, stride=2), nn.ELU())

        def branch() -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(2 * depth, 4 * depth, 4, stride=2), nn.ELU(), nn.Conv2d(4 * depth, 8 * depth, 4, stride=2), nn.ELU())

        self.controllable = branch()
        self.free = branch()
        self.branch_dim = depth * 8 * 2 * 2
        self.out_dim = 2 * self.branch_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch_shape = images.shape[:-3]
        hidden = self.shared(images.reshape(-1, *images.shape[-3:]))
        parts = [branch(hidden).reshape(*batch_shape, self.branch_dim) for branch in (self.controllable, self.free)]
        return torch.cat(parts, -1)


class TwoBranchRSSM(CompositeRSSM):
    """The RSSM interface over (non-controllable, controllable) states; features are the controllable ones."""

    prefix = FREE_PREFIX

    def __init__(self, config: WorldModelConfig, action_dim: int, branch_dim: int) -> None:
        super().__init__()
        self.controllable = RSSM(config, action_dim, branch_dim)
        self.free = ActionFreeRSSM(config, branch_dim)
        self.branch_dim = branch_dim

    def parts(self) -> tuple[RSSM, RSSM]:
        return self.free, self.controllable

    def free_feature(self, state: State) -> torch.Tensor:
        return self.free.feature(split_state(state, FREE_PREFIX)[0])

    def initial(self, batch_size: int, device: torch.device | str, dtype: torch.dtype = torch.float32) -> State:
        return merge_state(self.free.initial(batch_size, device, dtype), self.controllable.initial(batch_size, device, dtype), FREE_PREFIX)

    def obs_step(
        self, prev_state: State, prev_action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor, sample: bool = True
    ) -> tuple[State, State]:
        free_prev, ctrl_prev = split_state(prev_state, FREE_PREFIX)
        ctrl_embed, free_embed = embed.split(self.branch_dim, -1)
        ctrl_post, ctrl_prior = self.controllable.obs_step(ctrl_prev, prev_action, ctrl_embed, is_first, sample=sample)
        free_post, free_prior = self.free.obs_step(free_prev, None, free_embed, is_first, sample=sample)
        return merge_state(free_post, ctrl_post, FREE_PREFIX), merge_state(free_prior, ctrl_prior, FREE_PREFIX)

    def img_step(self, prev_state: State, action: torch.Tensor, sample: bool = True) -> State:
        """The joint prior: the controllable branch with the action, the other without."""
        free_prev, ctrl_prev = split_state(prev_state, FREE_PREFIX)
        return merge_state(self.free.img_step(free_prev, sample=sample), self.controllable.img_step(ctrl_prev, action, sample=sample), FREE_PREFIX)

    def free_rollout(self, state: State, steps: int, sample: bool = True) -> list[torch.Tensor]:
        """Features of the non-controllable branch at `state` and `steps` imagined steps after it."""
        free_state = split_state(state, FREE_PREFIX)[0]
        features = [self.free.feature(free_state)]
        for _ in range(steps):
            free_state = self.free.img_step(free_state, sample=sample)
            features.append(self.free.feature(free_state))
        return features

    def observe(
        self, embeds: torch.Tensor, actions: torch.Tensor, is_first: torch.Tensor, state: State | None = None, sample: bool = True
    ) -> tuple[State, State]:
        free_state, ctrl_state = split_state(state, FREE_PREFIX) if state is not None else (None, None)
        ctrl_embeds, free_embeds = embeds.split(self.branch_dim, -1)
        ctrl_posts, ctrl_priors = self.controllable.observe(ctrl_embeds, actions, is_first, ctrl_state, sample=sample)
        free_posts, free_priors = self.free.observe(free_embeds, None, is_first, free_state, sample=sample)
        return merge_state(free_posts, ctrl_posts, FREE_PREFIX), merge_state(free_priors, ctrl_priors, FREE_PREFIX)

    def free_kl(self, lhs: State, rhs: State) -> torch.Tensor:
        return self.free.kl(split_state(lhs, FREE_PREFIX)[0], split_state(rhs, FREE_PREFIX)[0])


class IsoDreamWorldModel(CompositeWorldModel):
    """Two-branch world model with mask-composited decoding and inverse dynamics."""

    def __init__(self, config: WorldModelConfig, action_dim: int, image_size: int, settings: IsoDreamConfig) -> None:
        super().__init__()
        self.config, self.action_dim, self.image_size, self.settings = config, action_dim, image_size, settings
        self.encoder = TwoBranchEncoder(config.cnn_depth, image_size)
        self.rssm = TwoBranchRSSM(config, action_dim, self.encoder.branch_dim)
        feature = self.rssm.feature_size
        self.decoder = ConvDecoder(feature, config.cnn_depth, channels=4)
        self.free_decoder = ConvDecoder(self.rssm.free.feature_size, config.cnn_depth, channels=4)
        self.inverse_dynamics = MLP(2 * feature, action_dim, config.mlp_units, settings.inverse_layers)
        self.reward_head = MLP(feature, 1, config.mlp_units, config.reward_layers)
        self.cont_head = MLP(feature, 1, config.mlp_units, config.reward_layers) if config.use_cont_head else None

    def decode(self, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """(composited image means (..., 3, H, W), controllable mask (..., 1, H, W)) of a two-branch state."""
        ctrl = self.decoder(self.rssm.feature(state)).float()
        free = self.free_decoder(self.rssm.free_feature(state)).float()
        masks = torch.softmax(torch.cat([ctrl[..., 3:, :, :], free[..., 3:, :, :]], -3), -3)
        image = masks[..., :1, :, :] * ctrl[..., :3, :, :] + masks[..., 1:, :, :] * free[..., :3, :, :]
        return image, masks[..., :1, :, :]

    def inverse_dynamics_loss(self, posts: State, actions: torch.Tensor, is_first: torch.Tensor) -> torch.Tensor:
        """0.5 * squared error of a_t predicted from controllable features (t-1, t), where t continues an episode."""
        features = self.rssm.feature(posts)
        predicted = self.inverse_dynamics(torch.cat([features[:, :-1], features[:, 1:]], -1)).float()
        error = 0.5 * (predicted - actions[:, 1:].float()).square().sum(-1)
        valid = (~is_first[:, 1:]).float()
        return (error * valid).sum() / valid.sum().clamp(min=1.0)

    def loss(self, batch: Batch) -> tuple[torch.Tensor, WorldModelOutput, dict[str, torch.Tensor]]:
        """Image (composited) + KL of both branches + reward + inverse dynamics [+ continuation]."""
        config = self.config
        output = self.observe(batch)
        features = self.rssm.feature(output.posts)
        image, mask = self.decode(output.posts)
        image_nll = 0.5 * (image - preprocess_images(batch["image"])).square().sum((-3, -2, -1)).mean()
        kl_loss, kl_value = kl_balance_loss(self.rssm.kl, output.posts, output.priors, config.kl_balance, config.free_nats)
        free_kl_loss, free_kl_value = kl_balance_loss(self.rssm.free_kl, output.posts, output.priors, config.kl_balance, config.free_nats)
        reward_nll = 0.5 * (self.reward(features) - batch["reward"].float()).square().mean()
        inverse = self.inverse_dynamics_loss(output.posts, batch["action"], batch["is_first"])
        loss = (config.image_scale * image_nll + config.kl_scale * (kl_loss + free_kl_loss) + config.reward_scale * reward_nll
                + self.settings.inverse_scale * inverse)
        metrics = {
            "image_loss": image_nll.detach(), "kl": kl_value, "kl_loss": kl_loss.detach(), "free_kl": free_kl_value,
            "reward_loss": reward_nll.detach(), "inverse_dynamics_loss": inverse.detach(), "controllable_mask": mask.mean().detach(),
        }
        return self.with_continuation(loss, features, batch, metrics), output, metrics

    @torch.no_grad()
    def open_loop(self, batch: Batch, context: int) -> tuple[torch.Tensor, torch.Tensor]:
        """As `WorldModel.open_loop`: filter `context` frames, then predict from the actions alone (both branches)."""
        output = self.observe({key: value[:, :context] for key, value in batch.items()}, sample=False)
        states = [output.posts]
        state = {key: value[:, -1] for key, value in output.posts.items()}
        imagined = []
        for t in range(context, batch["action"].shape[1]):
            state, action = self.rssm.reset_where_first(state, batch["action"][:, t], batch["is_first"][:, t])
            state = self.rssm.img_step(state, action, sample=False)
            imagined.append(state)
        if imagined:
            states.append({key: torch.stack([step[key] for step in imagined], 1) for key in imagined[0]})
        joined = {key: torch.cat([part[key] for part in states], 1) for key in states[0]}
        prediction, _ = self.decode(joined)
        prediction = ((prediction + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2)
        return batch["image"], prediction
