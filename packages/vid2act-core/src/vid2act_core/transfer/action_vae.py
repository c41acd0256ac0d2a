"""G_theta of Eq. 6-7: a state- and task-conditioned VAE over source actions (BCQ style, paper 4.4)."""

from __future__ import annotations

import torch
from torch import nn


class ActionVAE(nn.Module):
    """Encoder (s, a, k) -> N(mu, sigma); decoder (s, z, k) -> penultimate feature (the guidance) -> action."""

    def __init__(self, state_size: int, action_size: int, num_tasks: int, units: int, guidance_dim: int) -> None:
        super().__init__()
        self.action_size = action_size
        self.num_tasks = num_tasks
        self.latent_size = 2 * action_size
        self.encoder = nn.Sequential(
            nn.Linear(state_size + action_size + num_tasks, units), nn.ELU(), nn.Linear(units, units), nn.ELU()
        )
        self.encoder_mean = nn.Linear(units, self.latent_size)
        self.encoder_log_std = nn.Linear(units, self.latent_size)
        self.decoder_body = nn.Sequential(
            nn.Linear(state_size + self.latent_size + num_tasks, units), nn.ELU(), nn.Linear(units, guidance_dim), nn.ELU()
        )
        self.decoder_out = nn.Linear(guidance_dim, action_size)

    def loss(self, states: torch.Tensor, actions: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 7: squared reconstruction error + KL(N(mu, sigma) || N(0, 1)), per pair, averaged (fp32).

        states (M, S), actions (M, A), labels (M, N) one-hot task labels.
        """
        hidden = self.encoder(torch.cat([states, actions, labels], -1))
        mean = self.encoder_mean(hidden).float()
        log_std = self.encoder_log_std(hidden).float().clamp(-4, 15)
        std = log_std.exp()
        latent = mean + std * torch.randn_like(std)
        decoded = self.decoder_out(self.decoder_body(torch.cat([states, latent.to(states.dtype), labels], -1)))
        reconstruction = torch.tanh(decoded.float())
        reconstruction_loss = (reconstruction - actions.float()).square().sum(-1).mean()
        kl = (-0.5 * (1 + 2 * log_std - mean.square() - std.square())).sum(-1).mean()
        return reconstruction_loss + kl, {"vae_reconstruction": reconstruction_loss.detach(), "vae_kl": kl.detach()}

    def guidance(self, states: torch.Tensor, labels: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """The decoder's penultimate feature for (state, task label); z ~ N(0, 1) clipped to [-0.5, 0.5], or z = 0."""
        shape = (*states.shape[:-1], self.latent_size)
        if sample:
            latent = torch.randn(shape, device=states.device, dtype=states.dtype).clamp(-0.5, 0.5)
        else:
            latent = torch.zeros(shape, device=states.device, dtype=states.dtype)
        return self.decoder_body(torch.cat([states, latent, labels.to(states.dtype)], -1))

    def decode(self, states: torch.Tensor, labels: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """A replayed source action for (state, task label)."""
        return torch.tanh(self.decoder_out(self.guidance(states, labels, sample)))
