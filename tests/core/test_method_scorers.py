"""Eq. 3 scorers: the `paper` W provably ignores the student; student-aware scorers do not; per-teacher f_distill."""

from __future__ import annotations

import pytest
import torch

from vid2act_core.config import TransferConfig
from vid2act_core.nets import MLP
from vid2act_core.transfer import TaskSelectiveDistillation
from vid2act_core.transfer.distill_heads import PerTeacherMLP
from vid2act_core.transfer.scorers import PredictionErrorScorer


def _distillation(scorer: str, heads: str = "shared") -> TaskSelectiveDistillation:
    torch.manual_seed(0)
    config = TransferConfig(distill_units=8, distill_layers=1, scorer=scorer, distill_heads=heads, scorer_units=8, distill_form="paper")
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


@pytest.mark.parametrize(("scorer", "reads_transferable"), [("paper", False), ("mlp", False), ("similarity", True)])
def test_weights_compute_f_distill_only_for_the_scorer_that_reads_it(scorer: str, reads_transferable: bool) -> None:
    # Per-step selection calls weights() at every imagined step; f_distill of N teachers is its largest cost.
    distill = _distillation(scorer)
    calls: list[torch.Size] = []
    distill.f_distill.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape))
    weights = distill.weights(torch.randn(6, 3, 5), torch.randn(6, 4))
    assert torch.allclose(weights.sum(-1), torch.ones(6))
    assert calls == ([torch.Size([6, 3, 5])] if reads_transferable else [])


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


def _prediction_error(decay: float = 0.5) -> TaskSelectiveDistillation:
    config = TransferConfig(distill_units=8, distill_layers=1, scorer="prediction_error", prediction_error_decay=decay)
    return TaskSelectiveDistillation(teacher_size=5, student_size=4, config=config, num_teachers=3, teacher_deter_size=2)


def _teacher_pair(noise: tuple[float, ...], scale: tuple[float, ...] = (1.0, 1.0, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """Posteriors (B, T, 3, 5) and priors that miss them by `noise[i]` x N(0, 1) in the stochastic part."""
    posteriors = torch.randn(4, 6, 3, 5)
    priors = posteriors.clone()
    priors[..., 2:] += torch.randn(4, 6, 3, 3) * torch.tensor(noise).view(3, 1)
    factor = torch.tensor(scale).view(3, 1)
    posteriors[..., 2:] *= factor
    priors[..., 2:] *= factor
    return priors, posteriors


def test_prediction_error_w_follows_each_teachers_normalised_prediction_error() -> None:
    torch.manual_seed(0)
    distill = _prediction_error()
    student = torch.randn(4, 6, 4)
    # Before any update W is uniform.
    assert torch.allclose(distill.weights(torch.randn(4, 6, 3, 5), student), torch.full((4, 6, 3), 1 / 3))
    # Teacher 1 predicts best although its latent scale is 100x larger: the error is normalised by the spread.
    priors, posteriors = _teacher_pair(noise=(1.0, 0.1, 0.5), scale=(1.0, 100.0, 1.0))
    distill.loss(priors, student, None, posteriors)
    errors = distill.f_weight.batch_errors(priors, posteriors, torch.ones(4, 6, dtype=torch.bool), 2)
    assert torch.equal(distill.f_weight.error_ema, errors)
    weights = distill.weights(priors, student)
    assert torch.equal(weights.argmax(-1), torch.ones(4, 6, dtype=torch.long))
    # Temperature 1: W proportional to 1 / error; the same W for every frame and whatever the student.
    assert torch.allclose(weights[0, 0], (1 / errors) / (1 / errors).sum(), atol=1e-6)
    assert torch.equal(distill.weights(priors, student * 10 + 3), weights)
    # Later updates blend in with the decay.
    priors2, posteriors2 = _teacher_pair(noise=(0.1, 1.0, 1.0))
    distill.loss(priors2, student, None, posteriors2)
    errors2 = distill.f_weight.batch_errors(priors2, posteriors2, torch.ones(4, 6, dtype=torch.bool), 2)
    assert torch.allclose(distill.f_weight.error_ema, 0.5 * errors + 0.5 * errors2)


def test_prediction_error_leaves_out_episode_starts_and_is_saved_with_the_model() -> None:
    torch.manual_seed(1)
    distill = _prediction_error()
    priors, posteriors = _teacher_pair(noise=(0.2, 0.2, 0.2))
    is_first = torch.zeros(4, 6, dtype=torch.bool)
    is_first[:, 0] = True
    priors[:, 0, 0, 2:] = 1e3  # teacher 0's prior at an episode start (the reset state) is far off: not counted
    distill.loss(priors, torch.randn(4, 6, 4), is_first, posteriors)
    assert distill.f_weight.error_ema[0] < 1.0
    restored = _prediction_error()
    restored.load_state_dict(distill.state_dict())
    assert torch.equal(restored.weights(priors, torch.randn(4, 6, 4)), distill.weights(priors, torch.randn(4, 6, 4)))
    # Outside training (eval mode) the EMA does not move.
    distill.eval()
    before = distill.f_weight.error_ema.clone()
    distill.loss(*_teacher_pair(noise=(3.0, 0.0, 3.0))[:1], torch.randn(4, 6, 4), None, posteriors)
    assert torch.equal(distill.f_weight.error_ema, before)


def test_prediction_error_needs_the_teachers_posteriors_and_says_so() -> None:
    distill = _prediction_error()
    priors, _ = _teacher_pair(noise=(0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match="transfer.scorer=prediction_error needs the teachers' posterior states"):
        distill.loss(priors, torch.randn(4, 6, 4))
    with pytest.raises(ValueError, match="transfer.prediction_error_temperature: must be > 0"):
        TaskSelectiveDistillation(5, 4, TransferConfig(scorer="prediction_error", prediction_error_temperature=0.0), 3, 2)
    with pytest.raises(ValueError, match="transfer.prediction_error_decay: must be in"):
        TaskSelectiveDistillation(5, 4, TransferConfig(scorer="prediction_error", prediction_error_decay=1.0), 3, 2)


def _offset_batch(offsets: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Priors and posteriors (1, 2, N, 2) (deter size 1, one stochastic unit) whose normalised error is offset_i^2 / 2.

    The two frames' posteriors are +1 and -1 (batch variance 2); each teacher's prior misses both by offset_i.
    """
    offset = torch.tensor(offsets)
    posteriors = torch.zeros(1, 2, len(offsets), 2)
    posteriors[0, 0, :, 1], posteriors[0, 1, :, 1] = 1.0, -1.0
    priors = posteriors.clone()
    priors[..., 1] += offset
    return priors, posteriors


def test_prediction_error_temperature_divides_the_log_error() -> None:
    # Errors (0.5, 2); W = softmax(-log(error) / T), i.e. proportional to error^(-1/T).
    expected = {1.0: (0.8, 0.2), 2.0: (2 / 3, 1 / 3), 0.5: (16 / 17, 1 / 17)}
    for temperature, shares in expected.items():
        scorer = PredictionErrorScorer(num_teachers=2, teacher_deter_size=1, temperature=temperature, decay=0.9)
        scorer.observe(*_offset_batch((1.0, 2.0)), is_first=None)
        assert torch.allclose(scorer.error_ema, torch.tensor([0.5, 2.0]))
        weights = torch.softmax(scorer.logits(torch.zeros(3, 2, 7), None, torch.zeros(3, 4)), -1)
        assert torch.allclose(weights, torch.tensor(shares).expand(3, 2), atol=1e-6), temperature


def test_prediction_error_ema_keeps_decay_of_the_old_value() -> None:
    # First update: the EMA is the batch error; later ones: decay * old + (1 - decay) * new.
    scorer = PredictionErrorScorer(num_teachers=2, teacher_deter_size=1, temperature=1.0, decay=0.9)
    scorer.observe(*_offset_batch((1.0, 2.0)), is_first=None)  # errors (0.5, 2)
    scorer.observe(*_offset_batch((2.0, 1.0)), is_first=None)  # errors (2, 0.5)
    assert torch.allclose(scorer.error_ema, torch.tensor([0.9 * 0.5 + 0.1 * 2.0, 0.9 * 2.0 + 0.1 * 0.5]))
    scorer.observe(*_offset_batch((0.0, 0.0)), is_first=None)  # errors clamp to 1e-8
    assert torch.allclose(scorer.error_ema, torch.tensor([0.9 * 0.65 + 0.1e-8, 0.9 * 1.85 + 0.1e-8]))
    assert int(scorer.updates) == 3
