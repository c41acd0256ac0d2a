"""APV (Seo et al., 2022): an action-conditional RSSM stacked on a pretrained action-free RSSM.

The action-free model (pretrained on videos, `WorldModelConfig.action_free`) filters the frames
with its own encoder; its feature concat(deter, stoch) is the "embedding" the action-conditional
RSSM's posterior reads (optionally beside the image embedding, `apv.concat_embed`). Heads, the
actor and the critic read the action-conditional state only, and imagination runs the
action-conditional prior only (the action-free state is carried along unchanged).

Fine-tuning rule (published code): encoder + action-free RSSM in their own optimiser whose
learning rate is 0 for the first `apv.freeze_updates` updates, then the model's; their own KL term
weighted `apv.af_kl_scale` (0), so they learn through the action-conditional model's losses. The
reward head learns reward + beta * intrinsic bonus (`knn_bonus`) on the action-free features.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vid2act_core.agent import DreamerAgent
from vid2act_core.baselines.action_free_rssm import ActionFreeRSSM
from vid2act_core.baselines.composite import CompositeRSSM, CompositeWorldModel, merge_state, split_state
from vid2act_core.baselines.knn_bonus import KNNParticleBonus
from vid2act_core.baselines.settings import APVConfig
from vid2act_core.config import Config, WorldModelConfig
from vid2act_core.losses import kl_balance_loss
from vid2act_core.nets import MLP, ConvDecoder, ConvEncoder, preprocess_images
from vid2act_core.rssm import RSSM, State
from vid2act_core.world_model import Batch, WorldModel, WorldModelOutput

AF_PREFIX = "af_"
"""Keys of the action-free state inside a stacked state (the action-conditional keys are unprefixed)."""


class StackedRSSM(CompositeRSSM):
    """The RSSM interface over (action-free, action-conditional) states; features are the latter's."""

    prefix = AF_PREFIX

    def __init__(self, action_free: ActionFreeRSSM, action_conditional: RSSM, concat_embed: bool) -> None:
        super().__init__()
        self.action_free = action_free
        self.action_conditional = action_conditional
        self.concat_embed = concat_embed

    def parts(self) -> tuple[RSSM, RSSM]:
        return self.action_free, self.action_conditional

    def conditional_input(self, af_state: State, embed: torch.Tensor) -> torch.Tensor:
        """What the action-conditional posterior reads: the action-free feature (and the embedding)."""
        feature = self.action_free.feature(af_state)
        return torch.cat([feature, embed], -1) if self.concat_embed else feature

    def obs_step(
        self, prev_state: State, prev_action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor, sample: bool = True
    ) -> tuple[State, State]:
        af_prev, ac_prev = split_state(prev_state, AF_PREFIX)
        af_post, af_prior = self.action_free.obs_step(af_prev, None, embed, is_first, sample=sample)
        ac_post, ac_prior = self.action_conditional.obs_step(
            ac_prev, prev_action, self.conditional_input(af_post, embed), is_first, sample=sample
        )
        return merge_state(af_post, ac_post, AF_PREFIX), merge_state(af_prior, ac_prior, AF_PREFIX)

    def img_step(self, prev_state: State, action: torch.Tensor, sample: bool = True) -> State:
        """The action-conditional prior; the action-free entries are carried along unchanged."""
        af_state, ac_state = split_state(prev_state, AF_PREFIX)
        return merge_state(af_state, self.action_conditional.img_step(ac_state, action, sample=sample), AF_PREFIX)

    def observe(
        self, embeds: torch.Tensor, actions: torch.Tensor, is_first: torch.Tensor, state: State | None = None, sample: bool = True
    ) -> tuple[State, State]:
        af_state, ac_state = split_state(state, AF_PREFIX) if state is not None else (None, None)
        af_posts, af_priors = self.action_free.observe(embeds, None, is_first, af_state, sample=sample)
        inputs = self.conditional_input(af_posts, embeds)
        ac_posts, ac_priors = self.action_conditional.observe(inputs, actions, is_first, ac_state, sample=sample)
        return merge_state(af_posts, ac_posts, AF_PREFIX), merge_state(af_priors, ac_priors, AF_PREFIX)


class APVWorldModel(CompositeWorldModel):
    """Encoder + stacked RSSM + decoder + reward/continuation heads + intrinsic bonus."""

    open_loop = WorldModel.open_loop

    def __init__(
        self, config: WorldModelConfig, action_dim: int, image_size: int, af_config: WorldModelConfig, settings: APVConfig, seed: int = 0
    ) -> None:
        super().__init__()
        self.config, self.action_dim, self.image_size, self.settings = config, action_dim, image_size, settings
        self.encoder = ConvEncoder(af_config.cnn_depth, image_size)
        action_free = ActionFreeRSSM(af_config, self.encoder.out_dim)
        conditional_in = action_free.feature_size + (self.encoder.out_dim if settings.concat_embed else 0)
        self.rssm = StackedRSSM(action_free, RSSM(config, action_dim, conditional_in), settings.concat_embed)
        feature = self.rssm.feature_size
        self.decoder = ConvDecoder(feature, config.cnn_depth)
        self.reward_head = MLP(feature, 1, config.mlp_units, config.reward_layers)
        self.cont_head = MLP(feature, 1, config.mlp_units, config.reward_layers) if config.use_cont_head else None
        self.bonus = KNNParticleBonus(
            action_free.feature_size, settings.k, settings.window, settings.queue_size, settings.projection_dim,
            settings.norm_momentum, seed=seed,
        )

    def pretrained_parameters(self) -> list[nn.Parameter]:
        """What the pretrained action-free model provides: the encoder and the action-free RSSM."""
        return list(self.encoder.parameters()) + list(self.rssm.action_free.parameters())

    def finetuned_parameters(self) -> list[nn.Parameter]:
        pretrained = {id(param) for param in self.pretrained_parameters()}
        return [param for param in self.parameters() if id(param) not in pretrained]

    def load_pretrained(self, video_model: WorldModel) -> list[str]:
        """Copy the action-free video model's encoder and RSSM (and its decoder where shapes agree)."""
        if not video_model.config.action_free:
            raise ValueError("APV fine-tunes an action-free model (kind action-free), not an action-conditional one")
        self.encoder.load_state_dict(video_model.encoder.state_dict())
        self.rssm.action_free.load_state_dict(video_model.rssm.state_dict())
        loaded = ["encoder", "action-free rssm"]
        target = self.decoder.state_dict()
        source = video_model.decoder.state_dict()
        if all(key in source and source[key].shape == value.shape for key, value in target.items()):
            self.decoder.load_state_dict(source)
            loaded.append("decoder")
        return loaded

    def loss(self, batch: Batch) -> tuple[torch.Tensor, WorldModelOutput, dict[str, torch.Tensor]]:
        """Image + action-conditional KL + reward (with beta * bonus) [+ af_kl_scale * action-free KL] [+ continuation]."""
        config, settings = self.config, self.settings
        output = self.observe(batch)
        features = self.rssm.feature(output.posts)
        target = preprocess_images(batch["image"])
        image_nll = 0.5 * (self.decoder(features).float() - target).square().sum((-3, -2, -1)).mean()
        kl_loss, kl_value = kl_balance_loss(self.rssm.kl, output.posts, output.priors, config.kl_balance, config.free_nats)
        af_posts, _ = split_state(output.posts, AF_PREFIX)
        af_priors, _ = split_state(output.priors, AF_PREFIX)
        af_kl_loss, af_kl_value = kl_balance_loss(
            self.rssm.action_free.kl, af_posts, af_priors, config.kl_balance, self.rssm.action_free.config.free_nats
        )
        bonus = self.bonus(self.rssm.action_free.feature(af_posts).detach())
        steps = bonus.shape[1]
        reward_target = batch["reward"][:, :steps].float() + settings.beta * bonus
        reward_nll = 0.5 * (self.reward(features[:, :steps]) - reward_target).square().mean()
        loss = config.image_scale * image_nll + config.kl_scale * kl_loss + config.reward_scale * reward_nll
        if settings.af_kl_scale:
            loss = loss + settings.af_kl_scale * af_kl_loss
        metrics = {
            "image_loss": image_nll.detach(), "kl": kl_value, "kl_loss": kl_loss.detach(), "af_kl": af_kl_value,
            "reward_loss": reward_nll.detach(), "intrinsic_bonus": bonus.mean(), "bonus_queue": self.bonus.filled.float(),
        }
        return self.with_continuation(loss, features, batch, metrics), output, metrics


def apv_video_config(config: Config) -> WorldModelConfig:
    """The action-free model's settings when no pretrained model is given: the run's, without actions."""
    import dataclasses

    return dataclasses.replace(config.world_model, action_free=True, use_reward_head=False, use_cont_head=False)


class APVAgent(DreamerAgent):
    """DreamerV2 behaviour learning on APV's stacked world model."""

    def __init__(
        self, config: Config, action_dim: int, device: torch.device | str = "cpu",
        video_model: WorldModel | None = None,
    ) -> None:
        if config.train.batch_length < config.apv.window:
            raise ValueError(f"train.batch_length={config.train.batch_length} is shorter than apv.window={config.apv.window}")
        self.video_model = [video_model]  # in a list: not registered as a submodule (not trained, not saved)
        super().__init__(config, action_dim, device)
        wm = config.world_model
        self.encoder_optimizer = torch.optim.Adam(self.world_model.pretrained_parameters(), lr=wm.lr, eps=wm.eps)
        self.loaded_modules: list[str] = []
        if video_model is not None:
            self.loaded_modules = self.world_model.load_pretrained(video_model.to(self.device))
        self.video_model = [None]

    def build_world_model(self) -> APVWorldModel:
        video_model = self.video_model[0]
        af_config = video_model.config if video_model is not None else apv_video_config(self.config)
        return APVWorldModel(
            self.config.world_model, self.action_dim, self.config.env.image_size, af_config, self.config.apv, self.config.seed
        )

    def world_model_parameters(self) -> list[nn.Parameter]:
        return self.world_model.finetuned_parameters() + self.extra_world_model_parameters()

    @property
    def pretrained_frozen(self) -> bool:
        """True while the pretrained parts take zero learning rate (the first apv.freeze_updates updates)."""
        return self.actor_critic.num_updates < self.config.apv.freeze_updates

    def train_world_model(self, batch: Batch) -> tuple[WorldModelOutput, dict[str, torch.Tensor]]:
        with self.autocast():
            loss, output, metrics = self.world_model.loss(batch)
        self._check_finite("world model loss", loss)
        clip = self.config.world_model.grad_clip
        self.model_optimizer.zero_grad(set_to_none=True)
        self.encoder_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        metrics["model_grad_norm"] = torch.nn.utils.clip_grad_norm_(self.world_model_parameters(), clip).detach()
        metrics["pretrained_grad_norm"] = torch.nn.utils.clip_grad_norm_(self.world_model.pretrained_parameters(), clip).detach()
        self.model_optimizer.step()
        # Published rule: learning rate 0 (Adam's moments still update) until the boundary, then the model's.
        frozen = self.pretrained_frozen
        for group in self.encoder_optimizer.param_groups:
            group["lr"] = 0.0 if frozen else self.config.world_model.lr
        self.encoder_optimizer.step()
        metrics["pretrained_frozen"] = torch.tensor(float(frozen))
        return output, metrics

    def checkpoint(self) -> dict[str, Any]:
        return {**super().checkpoint(), "encoder_optimizer": self.encoder_optimizer.state_dict()}

    def restore(self, checkpoint: dict[str, Any]) -> None:
        super().restore(checkpoint)
        self.encoder_optimizer.load_state_dict(checkpoint["encoder_optimizer"])
