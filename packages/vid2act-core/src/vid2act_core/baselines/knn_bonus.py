"""APV's video-based intrinsic bonus: a particle-based (k-nearest-neighbour) entropy estimate.

Each particle is the mean of `window` consecutive action-free features, projected by a fixed
random matrix (N(0, (1/dim)^2) entries, not trained). Particles enter a first-in-first-out queue;
a particle's bonus is the mean Euclidean distance to its k nearest particles in the queue (itself
included, at distance 0, as in the published code), divided by a running mean of the bonus
magnitude (DreamerV2's StreamNorm: starts at 1, momentum 0.99). A particle far from what the agent
has seen has a large bonus: maximising it maximises the entropy of the visited representations.
"""

from __future__ import annotations

import torch
from torch import nn


class KNNParticleBonus(nn.Module):
    """Intrinsic bonus per window start; queue, projection and normaliser are buffers (checkpointed)."""

    def __init__(
        self,
        feature_size: int,
        k: int = 16,
        window: int = 5,
        queue_size: int = 4096,
        dim: int = 128,
        momentum: float = 0.99,
        eps: float = 1e-8,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("k", k), ("window", window), ("queue_size", queue_size), ("dim", dim)):
            if value < 1:
                raise ValueError(f"apv.{name}={value}: must be >= 1")
        self.k, self.window, self.queue_size, self.dim = k, window, queue_size, dim
        self.momentum, self.eps = momentum, eps
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", torch.randn(feature_size, dim, generator=generator) / dim)
        self.register_buffer("queue", torch.zeros(queue_size, dim))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("magnitude", torch.ones((), dtype=torch.float64))

    @staticmethod
    def window_mean(features: torch.Tensor, window: int) -> torch.Tensor:
        """(B, T, F) -> (B, T - window + 1, F): the mean over each run of `window` consecutive steps."""
        if features.shape[1] < window:
            raise ValueError(f"apv.window={window} is longer than the sequences ({features.shape[1]} steps)")
        return features.unfold(1, window, 1).mean(-1)

    def particles(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T - window + 1, dim) projected particles."""
        return self.window_mean(features.float(), self.window) @ self.projection

    @torch.no_grad()
    def push(self, particles: torch.Tensor) -> torch.Tensor:
        """Add (N, dim) particles at the front of the queue (the oldest fall out); returns the filled part."""
        count = min(particles.shape[0], self.queue_size)
        kept = self.queue[: self.queue_size - count].clone()
        self.queue[:count] = particles[:count]
        self.queue[count:] = kept
        self.filled.fill_(min(int(self.filled) + count, self.queue_size))
        return self.queue[: int(self.filled)]

    @torch.no_grad()
    def raw(self, features: torch.Tensor) -> torch.Tensor:
        """Unnormalised bonus (B, T - window + 1): mean distance to the k nearest queued particles."""
        particles = self.particles(features)
        batch, steps = particles.shape[:2]
        flat = particles.reshape(-1, self.dim)
        queue = self.push(flat)
        distances = torch.cdist(flat, queue, compute_mode="donot_use_mm_for_euclid_dist")
        nearest = distances.topk(min(self.k, queue.shape[0]), dim=-1, largest=False).values
        return nearest.mean(-1).reshape(batch, steps)

    @torch.no_grad()
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """The normalised bonus (B, T - window + 1) for (B, T, F) action-free features (no gradient)."""
        bonus = self.raw(features)
        self.magnitude.mul_(self.momentum).add_((1 - self.momentum) * bonus.abs().mean().double())
        return bonus / (self.magnitude.to(bonus.dtype) + self.eps)
