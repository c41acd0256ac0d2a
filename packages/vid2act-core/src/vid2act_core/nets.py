"""Building blocks: MLPs and the 64 x 64 convolutional encoder and decoder."""

from __future__ import annotations

import torch
from torch import nn

from vid2act_core.runtime.conv_dispatch import ConvForms, conv_net_forward


class MLP(nn.Sequential):
    """Linear + LayerNorm + ELU hidden layers, then a linear output layer."""

    def __init__(self, in_dim: int, out_dim: int, units: int, layers: int, norm: bool = True) -> None:
        modules: list[nn.Module] = []
        width = in_dim
        for _ in range(layers):
            modules.append(nn.Linear(width, units))
            if norm:
                modules.append(nn.LayerNorm(units))
            modules.append(nn.ELU())
            width = units
        modules.append(nn.Linear(width, out_dim))
        super().__init__(*modules)
        self.in_dim = in_dim
        self.out_dim = out_dim


def preprocess_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-0.5, 0.5] (channels-last strides: no copy in the encoder)."""
    return images.permute(*range(images.dim() - 3), -1, -3, -2).to(torch.float32, copy=True).div_(255.0).sub_(0.5)


class ConvEncoder(nn.Module):
    """Four stride-2 convolutions (kernel 4), depth d, 2d, 4d, 8d: 64x64 -> 8d x 2 x 2.

    The ELUs of both convolutional nets work in place on the convolution outputs (which no backward
    needs): one activation-sized buffer less per layer (benchmarks/README.md). `forms` switches the
    faster kernel forms of the same layers (`vid2act_core.runtime.conv_dispatch`).
    """

    def __init__(self, depth: int = 32, image_size: int = 64, channels: int = 3) -> None:
        super().__init__()
        if image_size != 64:
            raise ValueError(f"image_size={image_size}: the convolutional encoder supports 64 x 64 images")
        layers: list[nn.Module] = []
        in_channels = channels
        for stage in range(4):
            out_channels = depth * 2**stage
            layers += [nn.Conv2d(in_channels, out_channels, 4, stride=2), nn.ELU(inplace=True)]
            in_channels = out_channels
        self.net = nn.Sequential(*layers)
        self.out_dim = depth * 8 * 2 * 2
        self.forms = ConvForms()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (..., 3, 64, 64) float -> (..., out_dim)."""
        batch_shape = images.shape[:-3]
        pixels = images.reshape(-1, *images.shape[-3:]).contiguous(memory_format=torch.channels_last)
        features = conv_net_forward(self.net, pixels, self.forms)
        return features.reshape(*batch_shape, self.out_dim)


class ConvDecoder(nn.Module):
    """Linear to 32d x 1 x 1, then transposed convolutions (kernels 5, 5, 6, 6): -> 3 x 64 x 64.

    `forms` switches the faster kernel forms of the same layers (`vid2act_core.runtime.conv_dispatch`:
    the first transposed convolution, which sees a 1 x 1 input, as a matmul; parameters unchanged).
    """

    def __init__(self, in_dim: int, depth: int = 32, channels: int = 3) -> None:
        super().__init__()
        self.depth = depth
        self.linear = nn.Linear(in_dim, 32 * depth)
        kernels = (5, 5, 6, 6)
        widths = (4 * depth, 2 * depth, depth, channels)
        layers: list[nn.Module] = []
        in_channels = 32 * depth
        for index, (kernel, width) in enumerate(zip(kernels, widths)):
            layers.append(nn.ConvTranspose2d(in_channels, width, kernel, stride=2))
            if index < len(kernels) - 1:
                layers.append(nn.ELU(inplace=True))
            in_channels = width
        self.net = nn.Sequential(*layers)
        self.forms = ConvForms()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., in_dim) -> image means (..., 3, 64, 64) in the encoder's value range."""
        batch_shape = features.shape[:-1]
        hidden = self.linear(features.reshape(-1, features.shape[-1]))
        pixels = hidden.reshape(-1, 32 * self.depth, 1, 1).contiguous(memory_format=torch.channels_last)
        images = conv_net_forward(self.net, pixels, self.forms)
        return images.reshape(*batch_shape, *images.shape[-3:])
