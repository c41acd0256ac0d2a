"""Eq. 3 scorers: the `paper` W provably ignores the student; student-aware scorers do not; per-teacher f_distill."""

from __future__ import annotations

import pytest
import torch

from vid2act_core.config import TransferConfig
from vid2act_core.nets import MLP
from vid2act_core.transfer import TaskSelectiveDistillation
from vid2act_core.transfer.distill_heads import PerTeacherMLP


def _distillation(scorer: str, heads: str = "shared") -> TaskSelectiveDistillation:
    torch.manual_seed(0)
    config = TransferConfig(distill_units=8, distill_layers=1, scorer=scorer, distill_heads=heads, scorer_units=8)
    return TaskSelectiveDistillation(teacher_size=5, student_size=4, config=config, num_teachers=3)


def test_paper_scorer_weights_do_not_depend_on_the_student() -> None:
    distill = _distillation("paper")
    teachers = torch.randn(6, 3, 5)
    student = torch.randn(6, 4, requires_grad=True)
    weights = distill.weights(teachers, student)
    # The student's share of the logit, b.e + c, is the same for every teacher: it cancels in the softmax.
    teacher_part = distill.f_weight.weight[0, :5]
    assert torch.allclose(weights, torch.softmax(teachers @ teacher_part, -1), atol=1e-6)
    assert torch.allclose(distill.weights(teachers, torch.randn(6, 4) * 100), weights, atol=1e-6)
    # No gradient path either: dW/de is exactly zero even with the student not detached by hand.
    student_only = torch.randn(6, 4, requires_grad=True)
    logits = distill.f_weight.logits(teachers, teachers, student_only)
    torch.softmax(logits, -1)[:, 0].sum().backward()
    assert torch.allclose(student_only.grad, torch.zeros_like(student_only), atol=1e-6)


@pytest.mark.parametrize("scorer", ["mlp", "similarity"])
def test_student_aware_weights_change_when_only_the_student_changes(scorer: str) -> None:
    distill = _distillation(scorer)
    teachers = torch.randn(6, 3, 5)
    student = torch.randn(6, 4)
    weights = distill.weights(teachers, student)
    other = distill.weights(teachers, student + torch.randn(6, 4))
    assert torch.allclose(weights.sum(-1), torch.ones(6))
    assert (weights - other).abs().max() > 1e-3


def test_similarity_scorer_prefers_the_teacher_whose_distilled_state_is_closest() -> None:
    distill = _distillation("similarity")
    teachers = torch.randn(6, 3, 5)
    transferable = distill.transferable(teachers).detach()
    for index in range(3):
        weights = distill.weights(teachers, transferable[:, index])
        assert torch.equal(weights.argmax(-1), torch.full((6,), index))


def test_per_teacher_heads_equal_separate_mlps_and_stay_independent() -> None:
    torch.manual_seed(0)
    heads = PerTeacherMLP(num_teachers=3, in_dim=5, out_dim=4, units=8, layers=2)
    inputs = torch.randn(2, 7, 3, 5)
    outputs = heads(inputs)
    assert outputs.shape == (2, 7, 3, 4)
    for index in range(3):
        separate = MLP(5, 4, 8, 2)
        with torch.no_grad():
            linears = [module for module in separate if isinstance(module, torch.nn.Linear)]
            norms = [module for module in separate if isinstance(module, torch.nn.LayerNorm)]
            for layer, weight, bias in zip(linears, heads.weights, heads.biases):
                layer.weight.copy_(weight[index].T)
                layer.bias.copy_(bias[index])
            for norm, scale, shift in zip(norms, heads.norm_scales, heads.norm_shifts):
                norm.weight.copy_(scale[index])
                norm.bias.copy_(shift[index])
        assert torch.allclose(outputs[:, :, index], separate(inputs[:, :, index]), atol=1e-5)
    # Teacher 0's loss trains head 0 only.
    outputs[:, :, 0].sum().backward()
    assert heads.weights[0].grad[0].abs().sum() > 0
    assert torch.count_nonzero(heads.weights[0].grad[1:]) == 0


def test_unknown_scorer_and_heads_are_refused_naming_the_option() -> None:
    with pytest.raises(ValueError, match="transfer.scorer: 'cosine'"):
        TaskSelectiveDistillation(5, 4, TransferConfig(scorer="cosine"), 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="transfer.distill_heads: 'each'"):
        TaskSelectiveDistillation(5, 4, TransferConfig(distill_heads="each"), 3)  # type: ignore[arg-type]
