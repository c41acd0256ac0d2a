"""Building blocks: MLPs and the 64 x 64 convolutional encoder and decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
    needs): one activation-sized buffer less per layer (benchmarks/README.md).
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

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (..., 3, 64, 64) float -> (..., out_dim)."""
        batch_shape = images.shape[:-3]
        flat = images.reshape(-1, *images.shape[-3:])
        features = self.net(flat.contiguous(memory_format=torch.channels_last))
        return features.reshape(*batch_shape, self.out_dim)


class ConvDecoder(nn.Module):
    """Linear to 32d x 1 x 1, then transposed convolutions (kernels 5, 5, 6, 6): -> 3 x 64 x 64.

    The first transposed convolution sees a 1 x 1 input, where it is exactly a matmul with its
    weight viewed as (C_in, C_out * k * k) plus the bias per output pixel; computed that way
    (`first_layer_as_matmul`, on by default) because oneDNN's transposed convolution of a 1 x 1
    input is slow, its backward especially (benchmarks/README.md). On the CPU the last transposed
    convolution's forward runs in sub-pixel form (`last_layer_as_subpixel`, on by default; see
    `subpixel_transposed_conv`). Parameters are unchanged.
    """

    first_layer_as_matmul: bool = True
    last_layer_as_subpixel: bool = True

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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., in_dim) -> image means (..., 3, 64, 64) in the encoder's value range."""
        batch_shape = features.shape[:-1]
        hidden = self.linear(features.reshape(-1, features.shape[-1]))
        layers = self.net
        if self.first_layer_as_matmul:
            first = self.net[0]
            kernel = first.kernel_size[0] * first.kernel_size[1]
            weight = first.weight.reshape(first.in_channels, first.out_channels * kernel)
            bias = first.bias.repeat_interleave(kernel)
            pixels = torch.addmm(bias, hidden, weight).reshape(-1, first.out_channels, *first.kernel_size)
            layers = self.net[1:]
        else:
            pixels = hidden.reshape(-1, 32 * self.depth, 1, 1)
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        if self.last_layer_as_subpixel and pixels.device.type == "cpu" and not torch.is_autocast_enabled("cpu"):
            last = self.net[-1]
            images = subpixel_transposed_conv(layers[:-1](pixels), last.weight, last.bias)
        else:
            images = layers(pixels)
        return images.reshape(*batch_shape, *images.shape[-3:])


def subpixel_transposed_conv(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """`conv_transpose2d(inputs, weight, bias, stride=2)` for an even kernel, with a faster forward on the CPU.

    A stride-2 transposed convolution with a k x k kernel is, for each of the 4 output pixel phases
    (row and column parity), a stride-1 convolution with a (k/2) x (k/2) slice of the kernel: one
    convolution with 4 x C_out channels, then a pixel shuffle. For the decoder's last layer
    (32 -> 3 channels, 30 x 30 -> 64 x 64) oneDNN runs that 1.5-1.8x faster than its transposed
    convolution (benchmarks/README.md), whose backward stays the faster one and is used unchanged.
    """
    return _SubpixelTransposedConv.apply(inputs, weight, bias)


def _phase_weight(weight: torch.Tensor) -> torch.Tensor:
    """(C_in, C_out, k, k) transposed-conv kernel -> (C_out * 4, C_in, k/2, k/2) kernel of the phase convolution.

    Output pixel (2m + p, 2n + q) sums inputs (m - a, n - b) times kernel tap (2a + p, 2b + q); as a
    correlation over the padded input the taps run backwards, hence the flips.
    """
    in_channels, out_channels, kernel = weight.shape[0], weight.shape[1], weight.shape[-1]
    half = kernel // 2
    taps = weight.reshape(in_channels, out_channels, half, 2, half, 2).flip(2, 4)
    return taps.permute(1, 3, 5, 0, 2, 4).reshape(out_channels * 4, in_channels, half, half)


class _SubpixelTransposedConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        kernel = weight.shape[-1]
        if kernel % 2 or weight.shape[-2] != kernel:
            raise ValueError(f"subpixel_transposed_conv needs a square kernel of even size, got {tuple(weight.shape[-2:])}")
        ctx.save_for_backward(inputs, weight)
        phases = F.conv2d(inputs, _phase_weight(weight), bias.repeat_interleave(4), padding=kernel // 2 - 1)
        return F.pixel_shuffle(phases, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs, weight = ctx.saved_tensors
        grad_input, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, inputs, weight, [weight.shape[1]], [2, 2], [0, 0], [1, 1], True, [0, 0], 1, list(ctx.needs_input_grad)
        )
        return grad_input, grad_weight, grad_bias
