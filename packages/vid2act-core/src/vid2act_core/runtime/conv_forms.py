"""Faster forms of the encoder's and decoder's convolutions on the CPU, with the same maths.

`conv_dispatch.conv_net_forward` picks them for `nets.ConvEncoder` / `nets.ConvDecoder` where their
`ConvForms` switches say (benchmarks/README.md has the measured gains; tests/core/test_speed_equivalence.py
checks them against the plain layers):

- `conv_bias_grad_apart`: a stride-s convolution or transposed convolution whose backward asks
  oneDNN for the input and weight gradients only and sums the bias gradient itself. oneDNN's
  backward-weights primitive with a bias runs 1.5-2x slower than without one at these shapes (the
  decoder's 64 -> 32 layer: 130 vs 71 ms for 800 images, 2 threads), while the bias gradient is a
  2-3 ms sum over the output gradient.
- `subpixel_transposed_conv`: the forward of a stride-2 transposed convolution with an even kernel
  as one stride-1 convolution and an interleaving of its 4 output phases (the decoder's last layer).
- `conv_as_matmul`: a convolution with few output pixels as one matmul over its input patches
  (the encoder's last layer).
- `pixel_transposed_conv_as_matmul`: a transposed convolution of a 1 x 1 input, which is exactly a
  matmul (the decoder's first layer; on every device).

The first three run on the CPU without autocast and outside torch.func transforms (the teachers' vmapped
encoders keep the plain layers); `conv_bias_grad_apart` only where gradients are enabled.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def conv_bias_grad_apart(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, transposed: bool) -> torch.Tensor:
    """`conv2d` (or `conv_transpose2d` when `transposed`) with this stride, no padding, with the bias
    gradient computed as a sum apart from the convolution's backward."""
    return _ConvBiasGradApart.apply(inputs, weight, bias, stride, transposed)


class _ConvBiasGradApart(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, transposed: bool) -> torch.Tensor:
        ctx.save_for_backward(inputs, weight)
        ctx.stride, ctx.transposed = stride, transposed
        convolution = F.conv_transpose2d if transposed else F.conv2d
        return convolution(inputs, weight, bias, stride=stride)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs, weight = ctx.saved_tensors
        return (*_input_and_weight_grads(ctx, grad, inputs, weight, ctx.stride, ctx.transposed), None, None)


def _input_and_weight_grads(
    ctx, grad: torch.Tensor, inputs: torch.Tensor, weight: torch.Tensor, stride: int, transposed: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(input, weight, bias) gradients of a bias-carrying convolution; the bias one as a sum, apart."""
    needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
    grad_input = grad_weight = grad_bias = None
    if needs_input or needs_weight:
        grad_input, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad, inputs, weight, None, [stride, stride], [0, 0], [1, 1], transposed, [0, 0], 1, [needs_input, needs_weight, False]
        )
    if needs_bias:
        grad_bias = grad.sum((0, 2, 3))
    return grad_input, grad_weight, grad_bias


def conv_as_matmul(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int) -> torch.Tensor:
    """`conv2d(inputs, weight, bias, stride)` (no padding) as one matmul over the input's patches.

    For a layer with few output pixels (the encoder's last: 6 x 6 -> 2 x 2, 128 -> 256 channels)
    the patch matrix is small (N * 4 rows of 2048) and MKL's matmul, forward and backward, beats
    oneDNN's convolution, whose backward runs at ~110 GFLOP/s there (65 -> 46 ms forward + backward
    for 800 images, 2 threads). Takes and returns channels-last strides; autograd through the
    patch view (its backward sums the overlapping windows).
    """
    out_channels, in_channels, kernel = weight.shape[0], weight.shape[1], weight.shape[-1]
    batch = inputs.shape[0]
    patches = inputs.permute(0, 2, 3, 1).unfold(1, kernel, stride).unfold(2, kernel, stride)  # (N, Ho, Wo, C, k, k)
    height, width = patches.shape[1], patches.shape[2]
    columns = patches.reshape(batch * height * width, in_channels * kernel * kernel)
    outputs = torch.addmm(bias, columns, weight.reshape(out_channels, -1).t())
    return outputs.reshape(batch, height, width, out_channels).permute(0, 3, 1, 2)


def pixel_transposed_conv_as_matmul(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """`conv_transpose2d(inputs, weight, bias)` (no padding, any stride) of a (N, C_in, 1, 1) input ->
    (N, C_out, k, k): the input times the weight viewed as (C_in, C_out * k * k), plus the bias per
    output pixel."""
    in_channels, out_channels, height, width = weight.shape
    flat_weight = weight.reshape(in_channels, out_channels * height * width)
    flat_bias = bias.repeat_interleave(height * width)
    return torch.addmm(flat_bias, inputs.reshape(-1, in_channels), flat_weight).reshape(-1, out_channels, height, width)


def subpixel_transposed_conv(inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """`conv_transpose2d(inputs, weight, bias, stride=2)` for an even kernel, with a faster forward on the CPU.

    A stride-2 transposed convolution with a k x k kernel is, for each of the 4 output pixel phases
    (row and column parity), a stride-1 convolution with a (k/2) x (k/2) slice of the kernel: one
    convolution with 4 x C_out channels, then the phases interleaved. For the decoder's last layer
    (32 -> 3 channels, 30 x 30 -> 64 x 64) oneDNN runs that 1.5-1.8x faster than its transposed
    convolution (benchmarks/README.md), whose backward stays the faster one and is used (with the
    bias gradient apart, as in `conv_bias_grad_apart`).
    """
    return _SubpixelTransposedConv.apply(inputs, weight, bias)


def _phase_weight(weight: torch.Tensor) -> torch.Tensor:
    """(C_in, C_out, k, k) transposed-conv kernel -> (4 * C_out, C_in, k/2, k/2) kernel of the phase convolution.

    Output pixel (2m + p, 2n + q) sums inputs (m - a, n - b) times kernel tap (2a + p, 2b + q); as a
    correlation over the padded input the taps run backwards, hence the flips. Output channels are
    ordered (p, q, channel), so that `_interleave_phases` moves runs of 2 * C_out values.
    """
    in_channels, out_channels, kernel = weight.shape[0], weight.shape[1], weight.shape[-1]
    half = kernel // 2
    taps = weight.reshape(in_channels, out_channels, half, 2, half, 2).flip(2, 4)
    return taps.permute(3, 5, 1, 0, 2, 4).reshape(4 * out_channels, in_channels, half, half)


def _interleave_phases(phases: torch.Tensor, out_channels: int) -> torch.Tensor:
    """(N, 4 * C, H, W) phases ordered (p, q, channel) -> the (N, C, 2H, 2W) image, pixel (2m + p, 2n + q).

    What `pixel_shuffle` does for the (channel, p, q) order, done on the channels-last layout the
    convolution returns: one copy of runs of 2 * C values (3x faster than pixel_shuffle here).
    """
    batch, _, height, width = phases.shape
    rows = phases.permute(0, 2, 3, 1).reshape(batch, height, width, 2, 2 * out_channels)  # (.., m, n, p, q * C + c)
    image = rows.permute(0, 1, 3, 2, 4).reshape(batch, 2 * height, 2 * width, out_channels)
    return image.permute(0, 3, 1, 2)


class _SubpixelTransposedConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        kernel = weight.shape[-1]
        if kernel % 2 or weight.shape[-2] != kernel:
            raise ValueError(f"subpixel_transposed_conv needs a square kernel of even size, got {tuple(weight.shape[-2:])}")
        ctx.save_for_backward(inputs, weight)
        phases = F.conv2d(inputs, _phase_weight(weight), bias.repeat(4), padding=kernel // 2 - 1)
        return _interleave_phases(phases, weight.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs, weight = ctx.saved_tensors
        return _input_and_weight_grads(ctx, grad, inputs, weight, 2, True)
