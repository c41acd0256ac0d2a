"""Distributions the agent needs that torch.distributions lacks or makes slow."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / _SQRT2))


def _normal_icdf(p: torch.Tensor) -> torch.Tensor:
    return _SQRT2 * torch.erfinv(2 * p - 1)


class TruncatedNormal:
    """Normal(mean, std) truncated to [low, high], with reparameterised sampling by inverse CDF.

    Each action dimension is independent; `log_prob` and `entropy` sum over the last axis.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, low: float = -1.0, high: float = 1.0) -> None:
        self.mean = mean
        self.std = std
        self.low = low
        self.high = high
        self._alpha = (low - mean) / std
        self._beta = (high - mean) / std
        self._cdf_alpha = _normal_cdf(self._alpha)
        self._cdf_beta = _normal_cdf(self._beta)
        self._z = (self._cdf_beta - self._cdf_alpha).clamp_min(1e-8)

    def rsample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Differentiable sample with respect to mean and std, always inside [low, high]."""
        uniform = torch.rand(self.mean.shape, device=self.mean.device, dtype=self.mean.dtype, generator=generator)
        eps = torch.finfo(self.mean.dtype).eps
        prob = (self._cdf_alpha + uniform * self._z).clamp(eps, 1 - eps)
        sample = self.mean + self.std * _normal_icdf(prob)
        return sample.clamp(self.low, self.high)

    def sample(self) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample()

    def mode(self) -> torch.Tensor:
        """The most likely action: the mean clipped into the interval."""
        return self.mean.clamp(self.low, self.high)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        standard = (value - self.mean) / self.std
        log_density = -0.5 * standard**2 - _LOG_SQRT_2PI - torch.log(self.std) - torch.log(self._z)
        return log_density.sum(-1)

    def entropy(self) -> torch.Tensor:
        def pdf(x: torch.Tensor) -> torch.Tensor:
            return torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)

        term = (self._alpha * pdf(self._alpha) - self._beta * pdf(self._beta)) / (2 * self._z)
        per_dim = math.log(math.sqrt(2 * math.pi * math.e)) + torch.log(self.std) + torch.log(self._z) + term
        return per_dim.sum(-1)


def gaussian_kl(mean_a: torch.Tensor, std_a: torch.Tensor, mean_b: torch.Tensor, std_b: torch.Tensor) -> torch.Tensor:
    """KL(N(a) || N(b)) for diagonal Gaussians, summed over the last axis."""
    var_ratio = (std_a / std_b) ** 2
    mean_term = ((mean_a - mean_b) / std_b) ** 2
    return 0.5 * (var_ratio + mean_term - 1 - torch.log(var_ratio)).sum(-1)


def categorical_kl(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """KL between categorical variables with logits (..., V, C), summed over V."""
    log_a = F.log_softmax(logits_a, -1)
    log_b = F.log_softmax(logits_b, -1)
    return (log_a.exp() * (log_a - log_b)).sum((-2, -1))


def straight_through_onehot(logits: torch.Tensor, sample: bool = True) -> torch.Tensor:
    """One-hot sample (or mode) of (..., V, C) logits with straight-through gradients."""
    probs = F.softmax(logits, -1)
    if sample:
        index = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1).reshape(probs.shape[:-1])
    else:
        index = probs.argmax(-1)
    onehot = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
    return onehot + probs - probs.detach()
