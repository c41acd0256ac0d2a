"""Speed optimisations that are on by default keep the maths: the optimised update equals the reference one.

Reference = every switch off (`ConvForms.first_layer_as_matmul` and `ConvForms.last_layer_as_subpixel` of the decoder,
`RSSM.skip_idle_resets`, the conv nets' in-place ELUs, `bias_grad_apart` and
the encoder's `ConvForms.last_layer_as_matmul`): the decoder's first and last transposed convolutions and the
encoder's last convolution run as such, the convolutions' backward computes their bias gradients, the
reset masking applied at every step, out-of-place activations. Same seed, same batch (with an episode starting mid-window): losses, gradients, metrics and
the parameters after a full update agree within float tolerance.
"""

from __future__ import annotations

import copy

import pytest
import torch

from method_fakes import tiny_transfer
from vid2act_core.agent import DreamerAgent
from vid2act_core.config import preset
from vid2act_core.nets import ConvDecoder


def _switches(agent: DreamerAgent, on: bool) -> None:
    agent.world_model.decoder.forms.first_layer_as_matmul = on
    agent.world_model.decoder.forms.last_layer_as_subpixel = on
    agent.world_model.rssm.skip_idle_resets = on
    agent.world_model.encoder.forms.bias_grad_apart = on
    agent.world_model.decoder.forms.bias_grad_apart = on
    agent.world_model.encoder.forms.last_layer_as_matmul = on
    for module in [*agent.world_model.encoder.net, *agent.world_model.decoder.net]:
        if isinstance(module, torch.nn.ELU):
            module.inplace = on


def _batch(batch_size: int = 3, length: int = 8, action_dim: int = 2) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    batch = {
        "image": torch.randint(0, 255, (batch_size, length, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(batch_size, length, action_dim, generator=generator) * 2 - 1,
        "reward": torch.rand(batch_size, length, generator=generator),
        "is_first": torch.zeros(batch_size, length, dtype=torch.bool),
        "is_terminal": torch.zeros(batch_size, length, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    batch["is_first"][1, 5] = True  # an episode starting inside the window: that step must still reset
    return batch


def _decoder_watching(layer_index: int) -> tuple[ConvDecoder, torch.Tensor, list[int]]:
    """A decoder, its input features, and a list that grows each time its layer `layer_index` runs as a module."""
    torch.manual_seed(0)
    decoder = ConvDecoder(in_dim=40, depth=32)
    features = torch.randn(2, 3, 40, requires_grad=True)
    decoder.forms.bias_grad_apart = False  # the layers run as modules, so the hook sees them
    calls: list[int] = []
    decoder.net[layer_index].register_forward_hook(lambda *_: calls.append(1))
    return decoder, features, calls


def test_decoder_matmul_path_equals_the_convolution_and_skips_it() -> None:
    decoder, features, calls = _decoder_watching(0)
    decoder.forms.first_layer_as_matmul = False
    reference = decoder(features)
    (reference_grad,) = torch.autograd.grad(reference.square().sum(), features)
    assert len(calls) == 1
    decoder.forms.first_layer_as_matmul = True
    fast = decoder(features)
    (fast_grad,) = torch.autograd.grad(fast.square().sum(), features)
    assert len(calls) == 1, "the fast path must not run the transposed convolution"
    assert fast.shape == reference.shape == (2, 3, 3, 64, 64)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-4, atol=1e-4)


def test_subpixel_last_layer_equals_the_transposed_convolution_and_skips_it() -> None:
    decoder, features, calls = _decoder_watching(-1)
    outcomes = []
    for subpixel in (False, True):
        decoder.forms.last_layer_as_subpixel = subpixel
        images = decoder(features)
        grads = torch.autograd.grad(images.square().sum(), [features, *decoder.parameters()])
        outcomes.append((images, grads))
        assert len(calls) == 1, "the sub-pixel path must not run the transposed convolution"
    (reference, reference_grads), (fast, fast_grads) = outcomes
    assert fast.shape == reference.shape == (2, 3, 3, 64, 64)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
    for fast_grad, reference_grad in zip(fast_grads, reference_grads):
        torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("net", ["encoder", "decoder"])
def test_bias_grad_apart_equals_the_layers_backward_and_skips_onednn_bias(net: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from vid2act_core.nets import ConvEncoder

    torch.manual_seed(0)
    module = ConvEncoder() if net == "encoder" else ConvDecoder(in_dim=40, depth=32)
    if net == "encoder":
        module.forms.last_layer_as_matmul = False  # every layer a convolution here
    inputs = torch.randn(2, 3, 3, 64, 64) if net == "encoder" else torch.randn(2, 3, 40)
    masks: list[list[bool]] = []
    backward = torch.ops.aten.convolution_backward

    def recording_backward(*args):
        masks.append(list(args[-1]))
        return backward(*args)

    outcomes = []
    for apart in (False, True):
        module.forms.bias_grad_apart = apart
        masks.clear()
        monkeypatch.setattr(torch.ops.aten, "convolution_backward", recording_backward)
        source = inputs.clone().requires_grad_(True)
        output = module(source)
        grads = torch.autograd.grad(output.square().sum(), [source, *module.parameters()])
        monkeypatch.undo()
        outcomes.append((output, grads))
        if apart:  # every convolution's backward asked oneDNN for no bias gradient
            assert len(masks) == (4 if net == "encoder" else 3) and all(mask[2] is False for mask in masks), masks
    (reference, reference_grads), (fast, fast_grads) = outcomes
    torch.testing.assert_close(fast, reference, rtol=0, atol=0)  # the forward is the same call
    for fast_grad, reference_grad in zip(fast_grads, reference_grads):
        torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # no backward: the plain layers (as in the teachers' vmapped encoders)
        torch.testing.assert_close(module(inputs), reference.detach(), rtol=0, atol=0)


def test_encoder_last_layer_as_matmul_equals_the_convolution_and_skips_it() -> None:
    from vid2act_core.nets import ConvEncoder

    torch.manual_seed(0)
    encoder = ConvEncoder()
    encoder.forms.bias_grad_apart = False  # the layers run as modules, so the hook sees them
    calls = []
    encoder.net[-2].register_forward_hook(lambda *_: calls.append(1))
    images = torch.rand(2, 3, 3, 64, 64) - 0.5
    outcomes = []
    for as_matmul in (False, True):
        encoder.forms.last_layer_as_matmul = as_matmul
        source = images.clone().requires_grad_(True)
        features = encoder(source)
        outcomes.append((features, torch.autograd.grad(features.square().sum(), [source, *encoder.parameters()])))
        assert len(calls) == 1, "the matmul path must not run the convolution"
    (reference, reference_grads), (fast, fast_grads) = outcomes
    assert fast.shape == reference.shape == (2, 3, encoder.out_dim)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
    for fast_grad, reference_grad in zip(fast_grads, reference_grads):
        torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-4, atol=1e-4)


def test_subpixel_form_of_a_transposed_convolution_with_any_even_kernel() -> None:
    from vid2act_core.runtime.conv_forms import subpixel_transposed_conv

    generator = torch.Generator().manual_seed(1)
    for in_channels, out_channels, kernel, size in ((5, 3, 6, 7), (4, 2, 4, 5), (3, 6, 2, 4)):
        inputs = torch.randn(2, in_channels, size, size, generator=generator, requires_grad=True)
        weight = torch.randn(in_channels, out_channels, kernel, kernel, generator=generator, requires_grad=True)
        bias = torch.randn(out_channels, generator=generator, requires_grad=True)
        expected = torch.nn.functional.conv_transpose2d(inputs, weight, bias, stride=2)
        result = subpixel_transposed_conv(inputs, weight, bias)
        torch.testing.assert_close(result, expected, rtol=1e-5, atol=1e-5)
        upstream = torch.randn(expected.shape, generator=generator)
        expected_grads = torch.autograd.grad(expected, [inputs, weight, bias], upstream)
        result_grads = torch.autograd.grad(result, [inputs, weight, bias], upstream)
        for got, want in zip(result_grads, expected_grads):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="even size"):
        subpixel_transposed_conv(torch.randn(1, 2, 3, 3), torch.randn(2, 2, 5, 5), torch.randn(2))


def test_world_model_loss_and_gradients_match_the_reference() -> None:
    torch.manual_seed(0)
    optimised = DreamerAgent(preset("tiny"), action_dim=2)
    reference = copy.deepcopy(optimised)
    _switches(reference, False)
    _switches(optimised, True)
    batch = _batch()
    results = []
    for agent in (reference, optimised):
        torch.manual_seed(7)
        loss, output, metrics = agent.world_model.loss(batch)
        grads = torch.autograd.grad(loss, list(agent.world_model.parameters()))
        results.append((loss, output, metrics, grads))
    (ref_loss, ref_out, ref_metrics, ref_grads), (opt_loss, opt_out, opt_metrics, opt_grads) = results
    torch.testing.assert_close(opt_loss, ref_loss, rtol=1e-5, atol=1e-5)
    for key in ref_metrics:
        torch.testing.assert_close(opt_metrics[key], ref_metrics[key], rtol=1e-5, atol=1e-5)
    for key in ref_out.posts:
        torch.testing.assert_close(opt_out.posts[key], ref_out.posts[key], rtol=1e-5, atol=1e-5)
    names = [name for name, _ in reference.world_model.named_parameters()]
    for name, ref_grad, opt_grad in zip(names, ref_grads, opt_grads):
        torch.testing.assert_close(opt_grad, ref_grad, rtol=1e-3, atol=1e-5, msg=lambda text, name=name: f"{name}: {text}")


def test_full_transfer_update_matches_the_reference() -> None:
    optimised, _, batch, _ = tiny_transfer()
    batch["is_first"][2, 4] = True
    reference = copy.deepcopy(optimised)
    _switches(reference, False)
    _switches(optimised, True)
    outcomes = []
    for agent in (reference, optimised):
        torch.manual_seed(11)
        agent.selector.generator.manual_seed(5)
        outcomes.append(agent.train_step(batch))
    ref_metrics, opt_metrics = outcomes
    assert set(ref_metrics) == set(opt_metrics)
    for key in ("model_loss", "image_loss", "kl", "distill_loss", "actor_loss", "critic_loss", "vae_loss", "model_grad_norm"):
        torch.testing.assert_close(opt_metrics[key], ref_metrics[key], rtol=1e-4, atol=1e-5, msg=lambda text, key=key: f"{key}: {text}")
    for (name, ref_param), opt_param in zip(reference.named_parameters(), optimised.parameters()):
        torch.testing.assert_close(opt_param, ref_param, rtol=1e-4, atol=1e-5, msg=lambda text, name=name: f"{name}: {text}")


def test_preprocess_in_place_arithmetic_leaves_the_input_alone() -> None:
    from vid2act_core.nets import preprocess_images

    images = torch.randint(0, 255, (2, 4, 4, 3), dtype=torch.uint8)
    as_float = images.float()
    before = as_float.clone()
    expected = images.permute(0, 3, 1, 2).float() / 255.0 - 0.5
    torch.testing.assert_close(preprocess_images(images), expected)
    torch.testing.assert_close(preprocess_images(as_float), expected)
    assert torch.equal(as_float, before), "preprocess_images must not modify a float input"


@pytest.mark.parametrize("net", ["encoder", "decoder"])
def test_the_cpu_conv_forms_trace_into_one_torch_compile_graph(net: str) -> None:
    """train.compile on the CPU compiles these nets: the custom forms must trace without graph breaks
    (aot_eager: dynamo and AOTAutograd, no C++ toolchain) and give the eager result."""
    from vid2act_core.nets import ConvEncoder

    torch.manual_seed(0)
    module = ConvEncoder() if net == "encoder" else ConvDecoder(in_dim=40, depth=8)
    inputs = (torch.randn(2, 3, 64, 64) if net == "encoder" else torch.randn(2, 40)).requires_grad_(True)
    reference = module(inputs)
    reference_grads = torch.autograd.grad(reference.square().sum(), [inputs, *module.parameters()])
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    output = compiled(inputs)
    grads = torch.autograd.grad(output.square().sum(), [inputs, *module.parameters()])
    torch.testing.assert_close(output, reference, rtol=1e-5, atol=1e-6)
    for grad, reference_grad in zip(grads, reference_grads):
        torch.testing.assert_close(grad, reference_grad, rtol=1e-4, atol=1e-5)
