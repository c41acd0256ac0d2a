"""The world model learns on real frames; the actor-critic improves return on a known problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from vid2act_core.actor_critic import ActorCritic
from vid2act_core.agent import DreamerAgent, NonFiniteLossError
from vid2act_core.config import ActorCriticConfig, preset
from vid2act_core.trainer_core import to_torch
from vid2act_envs.collect import collect_episodes
from vid2act_envs.policies import RandomPolicy
from vid2act_envs.sampler import SequenceSampler
from vid2act_teachers.plugins import domain_registry


@pytest.fixture(scope="module")
def cartpole_episodes() -> list[dict[str, np.ndarray]]:
    env = domain_registry().make_env("cartpole_swingup", seed=0, episode_steps=160)
    episodes: list[dict[str, np.ndarray]] = []
    collect_episodes(env, RandomPolicy(env.action_dim, seed=0), 3, on_episode=lambda episode, _summary: episodes.append(episode))
    env.close()
    return episodes


def _batch(sampler: SequenceSampler, rng: np.random.Generator, size: int = 8, length: int = 16):
    return to_torch(sampler.sample(size, length, rng), torch.device("cpu"))


def test_world_model_loss_falls_on_real_frames(cartpole_episodes) -> None:
    torch.manual_seed(0)
    config = preset("tiny")
    config.world_model.cnn_depth = 8
    config.world_model.lr = 1e-3
    agent = DreamerAgent(config, action_dim=1)
    sampler = SequenceSampler(cartpole_episodes)
    rng = np.random.default_rng(0)
    fixed = _batch(sampler, np.random.default_rng(123))
    with torch.no_grad():
        initial_loss, _, initial_metrics = agent.world_model.loss(fixed)
    initial_open_loop = agent.world_model.open_loop_error(fixed, context=5)
    for _ in range(80):
        agent.train_world_model(_batch(sampler, rng))
    with torch.no_grad():
        final_loss, _, final_metrics = agent.world_model.loss(fixed)
    assert final_metrics["image_loss"] < 0.3 * initial_metrics["image_loss"]
    assert final_loss < 0.4 * initial_loss
    assert agent.world_model.open_loop_error(fixed, context=5) < 0.5 * initial_open_loop


def test_a_nan_loss_stops_before_the_update(cartpole_episodes) -> None:
    agent = DreamerAgent(preset("tiny"), action_dim=1)
    batch = _batch(SequenceSampler(cartpole_episodes), np.random.default_rng(0))
    batch["reward"][0, 3] = float("nan")
    before = [param.detach().clone() for param in agent.world_model.parameters()]
    with pytest.raises(NonFiniteLossError, match="world model loss is nan"):
        agent.train_step(batch)
    assert all(torch.equal(old, new) for old, new in zip(before, agent.world_model.parameters()))


class _LineWorld(nn.Module):
    """Known latent dynamics for testing behaviour learning: a point on a line pushed by the action.

    position_{t+1} = position_t + 0.3 * action; reward = -|position - 0.8|. The best policy pushes
    towards 0.8 and then holds still.
    """

    class _Dynamics(nn.Module):
        def img_step(self, state, action, sample=True):
            position = (state["deter"] + 0.3 * action[:, :1]).clamp(-2, 2)
            return {"deter": position, "stoch": torch.zeros_like(position)}

        @staticmethod
        def feature(state):
            return torch.cat([state["deter"], state["stoch"]], -1)

    def __init__(self) -> None:
        super().__init__()
        self.rssm = self._Dynamics()

    def reward(self, features):
        return -(features[..., 0] - 0.8).abs()

    def continuation(self, features):
        return None


def test_actor_critic_improves_imagined_return() -> None:
    torch.manual_seed(0)
    config = ActorCriticConfig(horizon=10, units=32, actor_layers=2, critic_layers=2, actor_lr=3e-3, critic_lr=3e-3,
                               slow_target_every=5, discount=0.9)
    behaviour = ActorCritic(config, feature_size=2, action_dim=1)
    world = _LineWorld()
    actor_opt = torch.optim.Adam(behaviour.actor.parameters(), lr=config.actor_lr)
    critic_opt = torch.optim.Adam(behaviour.critic.parameters(), lr=config.critic_lr)
    start = {"deter": torch.linspace(-1, 1, 64)[:, None], "stoch": torch.zeros(64, 1)}

    def mean_return() -> float:
        with torch.no_grad():
            features, _, _, _ = behaviour.imagine(world, start)
            return world.reward(features[:, 1:]).sum(1).mean().item()

    before = mean_return()
    for _ in range(150):
        actor_loss, critic_loss, _ = behaviour.loss(world, start)
        actor_opt.zero_grad()
        critic_opt.zero_grad()
        (actor_loss + critic_loss).backward()
        actor_opt.step()
        critic_opt.step()
        behaviour.update_slow_target()
    after = mean_return()
    assert after > before + 2.0, (before, after)
    assert after > -2.5


def test_categorical_latents_train_and_seeded_updates_are_reproducible(cartpole_episodes) -> None:
    config = preset("tiny")
    config.world_model.latent = "categorical"
    config.world_model.lr = 2e-3
    batch = _batch(SequenceSampler(cartpole_episodes), np.random.default_rng(0))
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        agent = DreamerAgent(config, action_dim=1)
        losses = [float(agent.train_step(batch)["model_loss"]) for _ in range(20)]
        runs.append((losses, [p.detach().clone() for p in agent.parameters()]))
    (losses, params), (losses_again, params_again) = runs
    assert losses == losses_again
    assert all(torch.equal(a, b) for a, b in zip(params, params_again))
    assert losses[-1] < 0.75 * losses[0]
    assert agent.world_model.rssm.feature_size == config.world_model.deter + config.world_model.stoch * config.world_model.classes
