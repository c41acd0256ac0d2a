"""Windows that cross an episode boundary in the model: the RSSM and open-loop predictions restart at
`is_first`; continuation targets come from `is_terminal`, not `is_last`; terminal steps stop the
lambda-return bootstrap while truncation keeps it; the continuation head follows the task."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vid2act_core.config import preset
from vid2act_core.losses import lambda_returns
from vid2act_core.world_model import WorldModel
from vid2act_envs.base import TaskSpec

from vid2act_cli.compose.training import apply_task_settings

IMAGE = 64


def _model(cont: bool = False) -> WorldModel:
    torch.manual_seed(0)
    config = preset("tiny").world_model
    config.use_cont_head = cont
    return WorldModel(config, action_dim=2, image_size=IMAGE).eval()


def _episode(length: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    action = torch.rand(1, length, 2, generator=generator) * 2 - 1
    action[:, 0] = 0
    is_first = torch.zeros(1, length, dtype=torch.bool)
    is_first[:, 0] = True
    return {
        "image": torch.randint(0, 256, (1, length, IMAGE, IMAGE, 3), dtype=torch.uint8, generator=generator),
        "action": action,
        "is_first": is_first,
        "is_terminal": torch.zeros(1, length, dtype=torch.bool),
        "reward": torch.rand(1, length, generator=generator),
    }


def _joined(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: torch.cat([first[key], second[key]], 1) for key in first}


@torch.no_grad()
def test_filtering_restarts_at_an_episode_start_inside_the_window() -> None:
    model = _model()
    tail_of_a, b = _episode(5, seed=1), _episode(7, seed=2)
    tail_of_a["is_first"][:] = False  # the window starts mid-episode
    window = model.observe(_joined(tail_of_a, b), sample=False)
    alone = model.observe(b, sample=False)
    for key in ("deter", "mean", "std"):
        torch.testing.assert_close(window.posts[key][:, 5:], alone.posts[key])
        torch.testing.assert_close(window.priors[key][:, 5:], alone.priors[key])
    # Without the flag the state would carry over: the test can see the difference.
    carried = _joined(tail_of_a, b)
    carried["is_first"][:, 5] = False
    assert not torch.allclose(model.observe(carried, sample=False).posts["deter"][:, 5:], alone.posts["deter"])


def test_open_loop_prediction_restarts_at_an_episode_start() -> None:
    model = _model()
    a, b = _episode(6, seed=3), _episode(6, seed=4)
    other_a = _episode(6, seed=5)
    _, prediction = model.open_loop(_joined(a, b), context=3)
    _, other_prediction = model.open_loop(_joined(other_a, b), context=3)
    assert not torch.equal(prediction[:, 3:6], other_prediction[:, 3:6])
    # After the boundary nothing of the first episode is left: same actions, same predicted frames.
    assert torch.equal(prediction[:, 6:], other_prediction[:, 6:])


def test_continuation_target_is_one_minus_is_terminal_not_is_last() -> None:
    model = _model(cont=True)
    terminal, truncated = _episode(6, seed=6), _episode(6, seed=7)
    terminal["is_terminal"][:, -1] = True  # ended: discount 0 after it
    batch = _joined(terminal, truncated)  # the second ends by the time limit: not terminal
    batch["is_last"] = torch.zeros_like(batch["is_first"])
    batch["is_last"][:, [5, 11]] = True
    torch.manual_seed(11)
    _, _, metrics = model.loss(batch)
    torch.manual_seed(11)
    features = model.rssm.feature(model.observe(batch).posts)
    logits = model.cont_head(features).squeeze(-1).float()
    target = torch.ones(1, 12)
    target[:, 5] = 0.0
    torch.testing.assert_close(metrics["cont_loss"], F.binary_cross_entropy_with_logits(logits, target))
    wrong = 1.0 - batch["is_last"].float()
    assert not torch.allclose(metrics["cont_loss"], F.binary_cross_entropy_with_logits(logits, wrong))


def test_terminal_steps_stop_the_bootstrap_and_truncation_keeps_it() -> None:
    rewards = torch.tensor([[1.0, 1.0, 1.0]])
    values = torch.tensor([[0.0, 10.0, 10.0, 10.0]])
    gamma, lambda_ = 0.9, 0.95
    # The world model's continuation is 0 where the imagined state is terminal (step 2 here).
    terminal = lambda_returns(rewards, values, gamma * torch.tensor([[1.0, 0.0, 1.0]]), lambda_)
    truncated = lambda_returns(rewards, values, gamma * torch.ones(1, 3), lambda_)
    assert terminal[0, 1].item() == pytest.approx(1.0)  # reward into the terminal state, nothing after
    assert truncated[0, 1].item() > 1.0 + gamma * 9.0  # the time limit does not end the value
    assert terminal[0, 0].item() == pytest.approx(1.0 + gamma * (0.05 * 10.0 + 0.95 * 1.0))


def _spec(can_terminate: bool) -> TaskSpec:
    return TaskSpec(domain="t", task="x", action_repeat=1, episode_steps=10, camera=0, has_success=False, can_terminate=can_terminate)


def test_continuation_head_follows_the_task() -> None:
    config = preset("tiny")
    notes = apply_task_settings(config, _spec(True))
    assert config.world_model.use_cont_head
    assert notes == [
        "world_model.use_cont_head: on, because t:x can terminate (its domain declares TaskSpec.can_terminate); "
        "--set world_model.auto_cont_head=false keeps it off"
    ]
    assert apply_task_settings(config, _spec(True)) == []  # already on: nothing to say
    plain = preset("tiny")
    assert apply_task_settings(plain, _spec(False)) == [] and not plain.world_model.use_cont_head
    kept_off = preset("tiny")
    kept_off.world_model.auto_cont_head = False
    (warning,) = apply_task_settings(kept_off, _spec(True))
    assert warning.startswith("warning: t:x can terminate but world_model.use_cont_head is off")
    assert not kept_off.world_model.use_cont_head
    # The switch changes the model's weights, so the architecture hash follows it.
    assert config.world_model_hash() != plain.world_model_hash()


def test_rollouts_from_a_terminal_start_state_get_no_weight() -> None:
    from vid2act_core.actor_critic import ActorCritic

    model = _model(cont=True)
    behaviour = ActorCritic(preset("tiny").actor_critic, model.rssm.feature_size, action_dim=2)
    start = model.rssm.initial(4, "cpu")
    head_bias = model.cont_head.layers[-1].bias if hasattr(model.cont_head, "layers") else list(model.cont_head.parameters())[-1]
    with torch.no_grad():
        head_bias.fill_(-60.0)  # every state, the start included, is predicted terminal
    actor_loss, critic_loss, _ = behaviour.loss(model, start)
    assert actor_loss.abs().item() < 1e-12 and critic_loss.abs().item() < 1e-12
    with torch.no_grad():
        head_bias.fill_(60.0)  # predicted to continue: the rollouts count again
    actor_loss, critic_loss, _ = behaviour.loss(model, start)
    assert critic_loss.item() > 1e-6
