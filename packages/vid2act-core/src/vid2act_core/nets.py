"""Building blocks: MLPs and the 64 x 64 convolutional encoder and decoder."""

from __future__ import annotations

import torch
from torch import nn

from vid2act_core.conv_forms import conv_as_matmul, conv_bias_grad_apart, subpixel_transposed_conv


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
    needs): one activation-sized buffer less per layer (benchmarks/README.md). On the CPU the
    convolutions' bias gradients are summed apart from oneDNN's backward (`bias_grad_apart`, on by
    default; see `conv_forms.conv_bias_grad_apart`) and the last convolution (2 x 2 output pixels)
    runs as a matmul over its input patches (`last_layer_as_matmul`, `conv_forms.conv_as_matmul`).
    """

    bias_grad_apart: bool = True
    last_layer_as_matmul: bool = True

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
        pixels = flat.contiguous(memory_format=torch.channels_last)
        last, activation = self.net[-2], self.net[-1]
        if self.last_layer_as_matmul and _plain_cpu_tensor(pixels, last.weight):
            hidden = run_conv_layers(self.net[:-2], pixels, self.bias_grad_apart)
            features = activation(conv_as_matmul(hidden, last.weight, last.bias, last.stride[0]))
        else:
            features = run_conv_layers(self.net, pixels, self.bias_grad_apart)
        return features.reshape(*batch_shape, self.out_dim)


class ConvDecoder(nn.Module):
    """Linear to 32d x 1 x 1, then transposed convolutions (kernels 5, 5, 6, 6): -> 3 x 64 x 64.

    The first transposed convolution sees a 1 x 1 input, where it is exactly a matmul with its
    weight viewed as (C_in, C_out * k * k) plus the bias per output pixel; computed that way
    (`first_layer_as_matmul`, on by default) because oneDNN's transposed convolution of a 1 x 1
    input is slow, its backward especially (benchmarks/README.md). On the CPU the last transposed
    convolution's forward runs in sub-pixel form (`last_layer_as_subpixel`, on by default; see
    `conv_forms.subpixel_transposed_conv`) and the others' bias gradients are summed apart from
    oneDNN's backward (`bias_grad_apart`, as in the encoder). Parameters are unchanged.
    """

    first_layer_as_matmul: bool = True
    last_layer_as_subpixel: bool = True
    bias_grad_apart: bool = True

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
        last = self.net[-1]
        if self.last_layer_as_subpixel and _plain_cpu_tensor(pixels, last.weight):
            images = subpixel_transposed_conv(run_conv_layers(layers[:-1], pixels, self.bias_grad_apart), last.weight, last.bias)
        else:
            images = run_conv_layers(layers, pixels, self.bias_grad_apart)
        return images.reshape(*batch_shape, *images.shape[-3:])


def _plain_cpu_tensor(*tensors: torch.Tensor) -> bool:
    """On the CPU, without autocast and outside torch.func transforms (where the custom conv forms apply).

    Pass the layer's weight too: the teachers' vmapped encoders batch the weights, not the images.
    """
    if any(tensor.device.type != "cpu" for tensor in tensors) or torch.is_autocast_enabled("cpu"):
        return False
    # torch.compile traces the custom forms; the functorch query itself would break its graph.
    return torch.compiler.is_compiling() or not any(torch._C._functorch.is_functorch_wrapped_tensor(tensor) for tensor in tensors)


def run_conv_layers(layers: nn.Sequential, inputs: torch.Tensor, bias_grad_apart: bool) -> torch.Tensor:
    """`layers(inputs)`, with each (transposed) convolution's bias gradient summed apart on the CPU when
    `bias_grad_apart` and gradients are on (`conv_forms.conv_bias_grad_apart`; same maths)."""
    weights = [layer.weight for layer in layers if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))]
    if not (bias_grad_apart and torch.is_grad_enabled() and _plain_cpu_tensor(inputs, *weights)):
        return layers(inputs)
    outputs = inputs
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and layer.bias is not None and _plain_conv(layer):
            outputs = conv_bias_grad_apart(outputs, layer.weight, layer.bias, layer.stride[0], isinstance(layer, nn.ConvTranspose2d))
        else:
            outputs = layer(outputs)
    return outputs


def _plain_conv(layer: nn.Conv2d | nn.ConvTranspose2d) -> bool:
    """Square stride, no padding, dilation, groups or output padding: what conv_bias_grad_apart computes."""
    output_padding = getattr(layer, "output_padding", (0, 0))
    return (
        layer.stride[0] == layer.stride[1] and tuple(layer.padding) == (0, 0) and tuple(layer.dilation) == (1, 1)
        and layer.groups == 1 and tuple(output_padding) == (0, 0) and layer.padding_mode == "zeros"
    )
