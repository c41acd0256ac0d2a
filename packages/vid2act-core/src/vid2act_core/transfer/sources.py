"""Source data for action replay, and the pretrained-DreamerV2 baseline's initialisation from a teacher."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from vid2act_core.rssm import RSSM
from vid2act_core.world_model import WorldModel


class SourcePairs:
    """(teacher posterior feature s_t, source action taken from s_t) pairs of one source task, on a device."""

    def __init__(self, name: str, features: torch.Tensor, actions: torch.Tensor) -> None:
        if len(features) != len(actions) or len(features) == 0:
            raise ValueError(f"source {name!r}: need as many (>0) features as actions, got {len(features)} and {len(actions)}")
        self.name = name
        self.features = features
        self.actions = actions

    def __len__(self) -> int:
        return len(self.features)

    @classmethod
    @torch.no_grad()
    def from_episodes(
        cls, name: str, teacher: WorldModel, episodes: Iterable[dict[str, np.ndarray]], device: torch.device | str
    ) -> SourcePairs:
        """Filter each source episode with its own teacher (posterior means) and pair s_t with a_{t+1}."""
        teacher = teacher.to(device)
        features, actions = [], []
        for episode in episodes:
            images = torch.from_numpy(np.ascontiguousarray(episode["image"]))[None].to(device)
            episode_actions = torch.from_numpy(np.asarray(episode["action"], np.float32))[None].to(device)
            is_first = torch.zeros(images.shape[:2], dtype=torch.bool, device=device)
            is_first[:, 0] = True
            embeds = torch.cat([teacher.embed(chunk) for chunk in images.split(256, dim=1)], 1)
            posts, _ = teacher.rssm.observe(embeds, episode_actions, is_first, sample=False)
            features.append(RSSM.feature(posts)[0, :-1])
            actions.append(episode_actions[0, 1:])
        if not features:
            raise ValueError(f"source {name!r}: the dataset has no episodes")
        return cls(name, torch.cat(features), torch.cat(actions))

    def sample(self, count: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self), (count,), device=self.features.device, generator=generator)
        return self.features[index], self.actions[index]


def initialise_from_teacher(student: WorldModel, teacher: WorldModel) -> list[str]:
    """The pretrained-DreamerV2 baseline: copy every teacher tensor whose name and shape match.

    The action input layer is copied column-wise over the shared action dimensions. Returns the
    names of the tensors copied; the reward head (teachers have none) stays freshly initialised.
    """
    copied = []
    teacher_state = teacher.state_dict()
    with torch.no_grad():
        for key, value in student.state_dict().items():
            source = teacher_state.get(key)
            if source is None:
                continue
            if source.shape == value.shape:
                value.copy_(source)
                copied.append(key)
            elif key == "rssm.img_in_action.weight" and source.shape[0] == value.shape[0]:
                shared = min(source.shape[1], value.shape[1])
                value.zero_()
                value[:, :shared] = source[:, :shared]
                copied.append(key)
    return copied
