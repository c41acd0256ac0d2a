"""`train.compile` / `train.compile_mode`: the mode reaches torch.compile, CUDA graphs are only
assumed on CUDA, and with them every update and acting step tells torch where it begins.

torch.compile itself is replaced by a recorder here (compiling on the CPU takes minutes); the real
compiled paths run under the `gpu` marker in test_gpu_paths.py.
"""

from __future__ import annotations

import pytest
import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.config import ConfigError, apply_overrides, preset

ACTIONS = 3


def _batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randint(0, 255, (2, 6, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(2, 6, ACTIONS, generator=generator) * 2 - 1,
        "reward": torch.rand(2, 6, generator=generator),
        "is_first": torch.zeros(2, 6, dtype=torch.bool),
        "is_terminal": torch.zeros(2, 6, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    return batch


@pytest.fixture
def compile_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every torch.compile call's keyword arguments; the function is returned uncompiled."""
    calls: list[dict] = []

    def record(function, *args, **kwargs):
        calls.append(kwargs)
        return function

    monkeypatch.setattr(torch, "compile", record)
    return calls


@pytest.mark.parametrize("mode", ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"])
def test_compile_mode_reaches_torch_compile(compile_calls: list[dict], mode: str) -> None:
    config = preset("tiny")
    apply_overrides(config, ["train.compile=true", f"train.compile_mode={mode}"])
    agent = DreamerAgent(config, ACTIONS, "cpu")
    # encoder, decoder and GRU cell, each in place with the configured mode
    assert [call["mode"] for call in compile_calls] == [mode] * 3
    assert agent.replays_cuda_graphs is False, "no CUDA graphs on the CPU, whatever the mode"


def test_no_compile_without_train_compile(compile_calls: list[dict]) -> None:
    config = preset("tiny")
    apply_overrides(config, ["train.compile_mode=reduce-overhead"])
    DreamerAgent(config, ACTIONS, "cpu")
    assert compile_calls == []


def test_unknown_compile_mode_is_named() -> None:
    with pytest.raises(ConfigError, match=r"train.compile_mode: 'fast' is not one of default, reduce-overhead"):
        apply_overrides(preset("tiny"), ["train.compile_mode=fast"])


def test_cuda_graph_steps_are_marked_and_the_carried_latent_is_copied(
    compile_calls: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    marks: list[int] = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    config = preset("tiny")
    apply_overrides(config, ["train.compile=true", "train.compile_mode=reduce-overhead"])
    torch.manual_seed(0)
    agent = DreamerAgent(config, ACTIONS, "cpu")
    agent.train_step(_batch())
    assert marks == [], "CPU: CUDA graphs are never assumed"

    # What the agent does when it does replay CUDA graphs (on CUDA), checked here on the CPU.
    monkeypatch.setattr(DreamerAgent, "replays_cuda_graphs", property(lambda self: True))
    produced: list[torch.Tensor] = []
    original_obs_step = agent.world_model.rssm.obs_step

    def recording_obs_step(*args, **kwargs):
        post, prior = original_obs_step(*args, **kwargs)
        produced.extend(post.values())
        return post, prior

    monkeypatch.setattr(agent.world_model.rssm, "obs_step", recording_obs_step)
    agent.train_step(_batch())
    assert len(marks) == 1, "one mark per update"
    observation = {key: value[:, 0] for key, value in _batch().items() if key in ("image", "is_first")}
    _, policy_state = agent.policy(observation, None)
    _, policy_state = agent.policy(observation, policy_state)
    assert len(marks) == 3, "one mark per acting step"
    carried = list(policy_state["latent"].values())
    produced_storage = {tensor.untyped_storage().data_ptr() for tensor in produced[-len(carried):]}
    assert all(tensor.untyped_storage().data_ptr() not in produced_storage for tensor in carried), (
        "the latent carried to the next acting step must be a copy of the replay's output"
    )

