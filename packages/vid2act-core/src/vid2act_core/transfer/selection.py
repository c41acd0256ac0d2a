"""Task selection k (Algorithm 1, lines 13 and 23) and the actor's guidance in imagination (line 14).

`TaskSelector` turns weights into task labels: k = argmax W, or under the uniform-weights ablation
a k drawn uniformly at random per step from the selector's own generator (seeded from `config.seed`
and saved in checkpoints), so the ablation changes W only: G still receives the one-hot labels it
was trained on, never the uniform vector.

Guidance in imagination (`transfer.imagination_selection`):
- `per_step` (Algorithm 1, lines 12-14): the teachers run their prior steps alongside the student's
  imagination, from their cached posterior states at the start states and with the actions the
  actor imagines; W and k are recomputed at every imagined step.
- `per_rollout`: k is selected once at the start state and kept for the whole rollout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vid2act_core.rssm import RSSM, State
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.transfer.action_vae import ActionVAE
from vid2act_core.transfer.distillation import TaskSelectiveDistillation

IMAGINATION_SELECTIONS = ("per_step", "per_rollout")
"""Values of `transfer.imagination_selection`."""


class TaskSelector:
    """W -> k (argmax), or a uniform draw of k per call under the uniform ablation; one-hot labels for G."""

    def __init__(self, num_teachers: int, uniform: bool, device: torch.device, seed: int) -> None:
        self.num_teachers = num_teachers
        self.uniform = uniform
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def select(self, weights: torch.Tensor) -> torch.Tensor:
        """weights (M, N) -> k (M,) long."""
        if self.uniform:
            return torch.randint(self.num_teachers, weights.shape[:-1], device=weights.device, generator=self.generator)
        return weights.argmax(-1)

    def labels(self, selected: torch.Tensor) -> torch.Tensor:
        """k (M,) -> one-hot task labels (M, N) float."""
        return F.one_hot(selected, self.num_teachers).float()

    def state_dict(self) -> torch.Tensor:
        return self.generator.get_state()

    def load_state_dict(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


class ImaginationGuidance:
    """The ConditionFn of the actor during imagination: G's guidance for the task k of each imagined state.

    Built from the start states' first selection `first_selected` (M,) and, for `per_step` with
    learned weights, the teachers' posterior states at the start states (N, M, ...). `selected`
    records k at every imagined step, (M,) each.
    """

    def __init__(
        self,
        vae: ActionVAE,
        selector: TaskSelector,
        first_selected: torch.Tensor,
        per_step: bool,
        teachers: TeacherEnsemble | None = None,
        distillation: TaskSelectiveDistillation | None = None,
        teacher_state: State | None = None,
        smoothed_errors: torch.Tensor | None = None,
    ) -> None:
        reads_states = distillation is not None and distillation.weights_read_states
        if per_step and not selector.uniform and (distillation is None or (reads_states and (teachers is None or teacher_state is None))):
            raise ValueError("per-step selection needs the teachers, the distillation module and the teachers' start states")
        self.vae = vae
        self.selector = selector
        self.per_step = per_step
        self.teachers = teachers
        self.distillation = distillation
        self.teacher_state = teacher_state
        self.current = first_selected
        self.smoothed_errors = smoothed_errors
        """stepwise_error: the smoothed per-teacher errors (M, N) carried from step to step."""
        self.selected: list[torch.Tensor] = []

    def _reselect(self, state: State, previous_action: torch.Tensor) -> torch.Tensor:
        if self.selector.uniform:
            return self.selector.select(torch.empty(*self.current.shape, self.selector.num_teachers, device=self.current.device))
        assert self.distillation is not None
        if not self.distillation.weights_read_states:
            return self.current  # W, hence k, is the same at every imagined state: no teacher step needed
        assert self.teachers is not None and self.teacher_state is not None
        self.teacher_state = self.teachers.imagine_step(self.teacher_state, previous_action)
        teacher_features = RSSM.feature(self.teacher_state).transpose(0, 1)  # (M, N, F)
        if self.distillation.frame_level and self.smoothed_errors is None:
            return self.current  # no start errors (no update yet): keep the start selection
        weights, self.smoothed_errors = self.distillation.imagined_weights(teacher_features, RSSM.mean_feature(state), self.smoothed_errors)
        return self.selector.select(weights)

    def __call__(self, state: State, previous_action: torch.Tensor | None) -> torch.Tensor:
        if previous_action is not None and self.per_step:
            self.current = self._reselect(state, previous_action)
        self.selected.append(self.current)
        query = RSSM.feature(state) if self.distillation is None else self.distillation.query_states(RSSM.feature(state), self.current)
        return self.vae.guidance(query, self.selector.labels(self.current))

    def switch_rate(self) -> torch.Tensor:
        """Fraction of imagined steps (after the first) whose k differs from the previous step's."""
        if len(self.selected) < 2:
            return torch.zeros((), device=self.current.device)
        stacked = torch.stack(self.selected, 1)
        return (stacked[:, 1:] != stacked[:, :-1]).float().mean()
