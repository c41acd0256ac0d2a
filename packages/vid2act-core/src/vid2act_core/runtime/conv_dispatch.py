"""Which form each layer of a convolutional net runs in on this device: the plain layers, or the
faster forms of `conv_forms` with the same maths.

`ConvEncoder` / `ConvDecoder` (`vid2act_core.nets`) define their layers and call
`conv_net_forward(self.net, inputs, self.forms)`, which equals `self.net(inputs)`. The forms
(benchmarks/README.md has the measured gains; tests/core/test_speed_equivalence.py checks each
against the plain layers):

- a transposed convolution of a 1 x 1 input is a matmul (any device; oneDNN's transposed
  convolution of a 1 x 1 input is slow, its backward especially): the decoder's first layer;
- on the CPU, the last convolution as a matmul over its input patches (the encoder's: 2 x 2 output
  pixels) and the last stride-2 transposed convolution's forward in sub-pixel form (the decoder's);
- on the CPU with gradients on, every other convolution's bias gradient summed apart from oneDNN's
  backward.

The CPU forms stay off under autocast and torch.func transforms (the teachers' vmapped encoders
batch the weights, which the custom autograd Functions do not handle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from vid2act_core.runtime.conv_forms import (
    conv_as_matmul,
    conv_bias_grad_apart,
    pixel_transposed_conv_as_matmul,
    subpixel_transposed_conv,
)

ConvLayer = nn.Conv2d | nn.ConvTranspose2d
LayerForm = Callable[[torch.Tensor, ConvLayer], torch.Tensor]
"""A layer's computation in another form: `form(inputs, layer)` equals `layer(inputs)`."""


@dataclass
class ConvForms:
    """Switches for the faster forms (all on by default; off, a net runs its plain layers)."""

    first_layer_as_matmul: bool = True
    """A first transposed convolution that sees a 1 x 1 input runs as the matmul it is."""
    last_layer_as_matmul: bool = True
    """On the CPU a last (not transposed) convolution runs as a matmul over its input patches."""
    last_layer_as_subpixel: bool = True
    """On the CPU a last stride-2 transposed convolution's forward runs in sub-pixel form."""
    bias_grad_apart: bool = True
    """On the CPU, with gradients on, the other convolutions' bias gradients are summed apart."""


def conv_net_forward(net: nn.Sequential, inputs: torch.Tensor, forms: ConvForms) -> torch.Tensor:
    """`net(inputs)` for a stack of (transposed) convolutions and activations, each layer in the
    fastest form this device and `forms` allow. inputs, outputs: (N, C, H, W), channels-last strides."""
    layers = net
    outputs = inputs
    if forms.first_layer_as_matmul and _is_transposed_conv_of_a_pixel(layers[0], outputs):
        first = layers[0]
        outputs = pixel_transposed_conv_as_matmul(outputs, first.weight, first.bias).contiguous(memory_format=torch.channels_last)
        layers = layers[1:]
    position = max(index for index, layer in enumerate(layers) if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)))
    last = layers[position]
    last_form = _cpu_form_of_last_layer(last, forms)
    if last_form is None or not plain_cpu_tensors(outputs, last.weight):
        return run_conv_layers(layers, outputs, forms.bias_grad_apart)
    outputs = last_form(run_conv_layers(layers[:position], outputs, forms.bias_grad_apart), last)
    for layer in layers[position + 1 :]:
        outputs = layer(outputs)
    return outputs


def _is_transposed_conv_of_a_pixel(layer: nn.Module, inputs: torch.Tensor) -> bool:
    return isinstance(layer, nn.ConvTranspose2d) and tuple(inputs.shape[-2:]) == (1, 1) and layer.bias is not None and _plain_conv(layer)


def _cpu_form_of_last_layer(layer: ConvLayer, forms: ConvForms) -> LayerForm | None:
    """The faster CPU form of a net's last convolution, or None where it keeps its own."""
    if layer.bias is None or not _plain_conv(layer):
        return None
    if isinstance(layer, nn.ConvTranspose2d):
        kernel = layer.kernel_size
        if forms.last_layer_as_subpixel and layer.stride == (2, 2) and kernel[0] == kernel[1] and kernel[0] % 2 == 0:
            return _subpixel_form
        return None
    return _patch_matmul_form if forms.last_layer_as_matmul else None


def _subpixel_form(inputs: torch.Tensor, layer: ConvLayer) -> torch.Tensor:
    return subpixel_transposed_conv(inputs, layer.weight, layer.bias)


def _patch_matmul_form(inputs: torch.Tensor, layer: ConvLayer) -> torch.Tensor:
    return conv_as_matmul(inputs, layer.weight, layer.bias, layer.stride[0])


def plain_cpu_tensors(*tensors: torch.Tensor) -> bool:
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
    if not (bias_grad_apart and torch.is_grad_enabled() and plain_cpu_tensors(inputs, *weights)):
        return layers(inputs)
    outputs = inputs
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and layer.bias is not None and _plain_conv(layer):
            outputs = conv_bias_grad_apart(outputs, layer.weight, layer.bias, layer.stride[0], isinstance(layer, nn.ConvTranspose2d))
        else:
            outputs = layer(outputs)
    return outputs


def _plain_conv(layer: ConvLayer) -> bool:
    """Square stride, no padding, dilation, groups or output padding: what the forms compute."""
    output_padding = getattr(layer, "output_padding", (0, 0))
    return (
        layer.stride[0] == layer.stride[1] and tuple(layer.padding) == (0, 0) and tuple(layer.dilation) == (1, 1)
        and layer.groups == 1 and tuple(output_padding) == (0, 0) and layer.padding_mode == "zeros"
    )
