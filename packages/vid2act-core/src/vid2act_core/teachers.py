"""Frozen teacher world models evaluated together: one batched computation over stacked parameters.

N teachers of the same architecture are stacked with `torch.func.stack_module_state` and run under
`torch.func.vmap`, so a filtering step costs one (grouped) forward pass, not N. To stack teachers of
different action sizes, each teacher's action input weights are zero-padded to the largest action
size, which computes exactly the truncated/padded input.

How a teacher with A_i action dimensions is driven by a target with A dimensions (`action_mapping`,
see docs/method.md): `pad_truncate` gives it the target action truncated or zero-padded by index
(a 6-dim teacher under a 12-dim target sees the first 6 dimensions; a 12-dim teacher under a 6-dim
target sees the 6 target dimensions then zeros); `zero` gives a teacher whose action size differs
from the target's all-zero actions (an action-free prediction: index correspondence between
different embodiments' actuators is arbitrary), and one of equal size the action unchanged.

Teacher states are deterministic (posterior and prior means): a teacher's view of a stored frame
never changes, so the training loop stores it beside the frame instead of recomputing it.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from vid2act_core.rssm import RSSM, State
from vid2act_core.world_model import WorldModel


class TeacherMismatchError(ValueError):
    """Teachers that cannot be evaluated together (different architectures or image sizes)."""


ACTION_MAPPINGS = ("pad_truncate", "zero")
"""How target actions drive a teacher of another action size (module docstring)."""


def fit_actions(actions: torch.Tensor, size: int) -> torch.Tensor:
    """Truncate or zero-pad the last axis of `actions` to `size`."""
    current = actions.shape[-1]
    if current == size:
        return actions
    if current > size:
        return actions[..., :size]
    padding = actions.new_zeros(*actions.shape[:-1], size - current)
    return torch.cat([actions, padding], -1)


class _Embed(nn.Module):
    """One teacher's image encoder, as a module so that functional_call can swap its parameters."""

    def __init__(self, world_model: WorldModel) -> None:
        super().__init__()
        self.world_model = world_model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.world_model.embed(images)


class _Filter(nn.Module):
    """One teacher's RSSM filtering step given an image embedding."""

    def __init__(self, world_model: WorldModel) -> None:
        super().__init__()
        self.world_model = world_model

    def forward(self, state: State, action: torch.Tensor, embed: torch.Tensor, is_first: torch.Tensor) -> tuple[State, State]:
        return self.world_model.rssm.obs_step(state, action, embed, is_first, sample=False)


class _Imagine(nn.Module):
    """One teacher's prior step (no observation): its one-step prediction from its own state."""

    def __init__(self, world_model: WorldModel) -> None:
        super().__init__()
        self.world_model = world_model

    def forward(self, state: State, action: torch.Tensor) -> State:
        return self.world_model.rssm.img_step(state, action, sample=False)


class TeacherEnsemble(nn.Module):
    """N frozen teachers; every method takes target-task tensors and returns (N, ...) results."""

    def __init__(self, teachers: list[WorldModel], names: list[str] | None = None, action_mapping: str = "pad_truncate") -> None:
        super().__init__()
        if not teachers:
            raise TeacherMismatchError("no teachers given")
        self.action_mapping = action_mapping
        self.names = list(names) if names is not None else [f"teacher{i}" for i in range(len(teachers))]
        reference = teachers[0]
        architecture = dataclasses.asdict(reference.config)
        for name, teacher in zip(self.names, teachers):
            if teacher.image_size != reference.image_size:
                raise TeacherMismatchError(
                    f"teacher {name!r} uses {teacher.image_size}x{teacher.image_size} images, "
                    f"teacher {self.names[0]!r} {reference.image_size}x{reference.image_size}"
                )
            other = dataclasses.asdict(teacher.config)
            differing = [key for key in ("latent", "stoch", "classes", "deter", "hidden", "cnn_depth") if other[key] != architecture[key]]
            if differing:
                raise TeacherMismatchError(
                    f"teacher {name!r} differs from teacher {self.names[0]!r} in {', '.join(differing)}; "
                    "teachers evaluated together must share one architecture"
                )
        self.action_dims = [teacher.action_dim for teacher in teachers]
        self.action_size = max(self.action_dims)
        self.image_size = reference.image_size
        padded = [self._padded_copy(teacher, self.action_size) for teacher in teachers]
        params, buffers = stack_module_state(padded)
        for key, value in params.items():
            self.register_buffer("param__" + key.replace(".", "__"), value.detach(), persistent=False)
        for key, value in buffers.items():
            self.register_buffer("buffer__" + key.replace(".", "__"), value.detach(), persistent=False)
        self._param_keys = list(params)
        self._buffer_keys = list(buffers)
        # Parameter-free skeletons for functional_call, kept out of the module tree (a tuple) so that
        # .to(device), state_dict() and parameters() never see their meta tensors.
        skeleton = copy.deepcopy(padded[0]).to("meta")
        self._functional = (_Embed(skeleton), _Filter(skeleton), _Imagine(skeleton))
        self.rssm_config = reference.config
        self.feature_size = reference.feature_size
        self.deter_size = reference.config.deter
        self.requires_grad_(False)

    @property
    def action_mapping(self) -> str:
        return self._action_mapping

    @action_mapping.setter
    def action_mapping(self, mapping: str) -> None:
        if mapping not in ACTION_MAPPINGS:
            raise ValueError(f"transfer.action_mapping: {mapping!r} is not one of {', '.join(ACTION_MAPPINGS)}")
        self._action_mapping = mapping

    def teacher_actions(self, action: torch.Tensor) -> torch.Tensor:
        """Target actions (M, A) -> what each teacher receives, (N, M, A_max) (see `action_mapping`)."""
        fitted = fit_actions(action, self.action_size).unsqueeze(0).expand(self.num_teachers, *action.shape[:-1], self.action_size)
        if self.action_mapping == "pad_truncate":
            return fitted
        same_size = torch.tensor([dim == action.shape[-1] for dim in self.action_dims], dtype=action.dtype, device=action.device)
        return fitted * same_size.reshape(-1, *([1] * action.dim()))

    @staticmethod
    def _padded_copy(teacher: WorldModel, action_size: int) -> WorldModel:
        clone = copy.deepcopy(teacher).cpu()
        clone.requires_grad_(False)
        layer = clone.rssm.img_in_action
        if layer.in_features < action_size:
            wider = nn.Linear(action_size, layer.out_features, bias=False)
            with torch.no_grad():
                wider.weight.zero_()
                wider.weight[:, : layer.in_features] = layer.weight
            wider.requires_grad_(False)
            clone.rssm.img_in_action = wider
            clone.action_dim = action_size
        return clone

    @property
    def num_teachers(self) -> int:
        return len(self.names)

    def _stacked(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {"world_model." + key: getattr(self, "param__" + key.replace(".", "__")) for key in self._param_keys}
        buffers = {"world_model." + key: getattr(self, "buffer__" + key.replace(".", "__")) for key in self._buffer_keys}
        return params, buffers

    def initial(self, batch_size: int, device: torch.device | str) -> State:
        """Zero states for every teacher: entries of shape (N, B, ...)."""
        state = RSSM.initial_for(self.rssm_config, batch_size, device)
        return {key: value.unsqueeze(0).expand(self.num_teachers, *value.shape).contiguous() for key, value in state.items()}

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """images: (M, H, W, 3) uint8 -> every teacher's embeddings (N, M, E)."""
        params, buffers = self._stacked()

        def one_teacher(teacher_params, teacher_buffers):
            return functional_call(self._functional[0], (teacher_params, teacher_buffers), (images,))

        return vmap(one_teacher)(params, buffers)

    @torch.no_grad()
    def filter_embedded(self, state: State, action: torch.Tensor, embeds: torch.Tensor, is_first: torch.Tensor) -> tuple[State, State]:
        """As `filter_step`, with the teachers' embeddings (N, B, E) already computed."""
        params, buffers = self._stacked()

        def one_teacher(teacher_params, teacher_buffers, teacher_state, teacher_action, teacher_embed):
            return functional_call(
                self._functional[1], (teacher_params, teacher_buffers), (teacher_state, teacher_action, teacher_embed, is_first)
            )

        return vmap(one_teacher)(params, buffers, state, self.teacher_actions(action), embeds)

    @torch.no_grad()
    def imagine_step(self, state: State, action: torch.Tensor) -> State:
        """Every teacher's prior step without an observation (imagination).

        state: (N, M, ...) teacher states (only `deter` and `stoch` are read); action: (M, A_target).
        Returns the teachers' one-step predictions (N, M, ...), deterministic (means).
        """
        params, buffers = self._stacked()
        inputs = {"deter": state["deter"], "stoch": state["stoch"]}

        def one_teacher(teacher_params, teacher_buffers, teacher_state, teacher_action):
            return functional_call(self._functional[2], (teacher_params, teacher_buffers), (teacher_state, teacher_action))

        return vmap(one_teacher)(params, buffers, inputs, self.teacher_actions(action))

    def state_from_features(self, features: torch.Tensor) -> State:
        """Teacher features (..., F) = concat(deter, stoch) -> the state entries a prior step reads."""
        return {"deter": features[..., : self.deter_size], "stoch": features[..., self.deter_size :]}

    @torch.no_grad()
    def filter_step(self, state: State, action: torch.Tensor, image: torch.Tensor, is_first: torch.Tensor) -> tuple[State, State]:
        """Every teacher filters one step of the target stream.

        state: (N, B, ...) teacher posteriors at t-1; action: (B, A_target) a_{t-1}; image: (B, H, W, 3)
        uint8; is_first: (B,). Returns posteriors and priors at t, (N, B, ...) each. The prior is the
        teacher's one-step prediction for step t from its state at t-1 and a_{t-1}.
        """
        return self.filter_embedded(state, action, self.embed(image), is_first)

    @torch.no_grad()
    def observe(self, images: torch.Tensor, actions: torch.Tensor, is_first: torch.Tensor, frames_per_call: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Filter whole sequences: images (B, T, H, W, 3), actions (B, T, A) with actions[:, t]
        leading to images[:, t], is_first (B, T).

        Returns (posterior features, prior features), each (B, T, N, F). Frames are encoded in
        chunks of `frames_per_call` (all teachers at once), then the recurrence runs over T.
        """
        batch, length = images.shape[:2]
        flat_images = images.reshape(batch * length, *images.shape[2:])
        embeds = torch.cat([self.embed(chunk) for chunk in flat_images.split(frames_per_call)], 1)
        embeds = embeds.reshape(self.num_teachers, batch, length, -1)
        state = self.initial(batch, images.device)
        post_features, prior_features = [], []
        for t in range(length):
            post, prior = self.filter_embedded(state, actions[:, t], embeds[:, :, t], is_first[:, t])
            post_features.append(RSSM.feature(post).transpose(0, 1))
            prior_features.append(RSSM.feature(prior).transpose(0, 1))
            state = post
        return torch.stack(post_features, 1), torch.stack(prior_features, 1)
