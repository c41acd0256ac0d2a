"""The core's device paths: a DreamerV2 update, a transfer update with two teachers and a checkpoint
round-trip, each run on the CPU here and on CUDA under the `gpu` marker (skipped without CUDA).

Only vid2act_core, torch and numpy are imported, so on a machine without simulators this runs as
`PYTHONPATH=packages/vid2act-core/src python -m pytest -m gpu tests/core/test_gpu_paths.py` (docs/gpu.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vid2act_core.agent import DreamerAgent
from vid2act_core.runtime.checkpoint import load_checkpoint, save_atomic
from vid2act_core.config import preset
from vid2act_core.teachers import TeacherEnsemble
from vid2act_core.transfer import TEACHER_FEATURE_KEY, TEACHER_POSTERIOR_KEY, SourcePairs, TransferAgent
from vid2act_core.world_model import WorldModel

CUDA = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (torch.cuda.is_available() is False)")]
DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=CUDA)]
# (device, train.precision, train.compile, train.compile_mode): bf16 autocast and torch.compile only act on CUDA;
# reduce-overhead replays CUDA graphs there.
UPDATE_SETTINGS = [
    pytest.param("cpu", 32, False, "default", id="cpu-fp32"),
    pytest.param("cuda", 32, False, "default", id="cuda-fp32", marks=CUDA),
    pytest.param("cuda", 16, False, "default", id="cuda-bf16", marks=CUDA),
    pytest.param("cuda", 16, True, "default", id="cuda-bf16-compile", marks=CUDA),
    pytest.param("cuda", 16, True, "reduce-overhead", id="cuda-bf16-cudagraphs", marks=CUDA),
]
TARGET_ACTIONS = 3
TEACHER_ACTIONS = (2, 4)  # one narrower and one wider than the target: padding and truncation both run
BATCH, LENGTH = 2, 6


def _synthetic_batch(device: str, action_dim: int = TARGET_ACTIONS) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randint(0, 255, (BATCH, LENGTH, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "action": torch.rand(BATCH, LENGTH, action_dim, generator=generator) * 2 - 1,
        "reward": torch.rand(BATCH, LENGTH, generator=generator),
        "is_first": torch.zeros(BATCH, LENGTH, dtype=torch.bool),
        "is_terminal": torch.zeros(BATCH, LENGTH, dtype=torch.bool),
    }
    batch["is_first"][:, 0] = True
    return {key: value.to(device) for key, value in batch.items()}


def _teachers(device: str) -> tuple[TeacherEnsemble, list[SourcePairs]]:
    """Two tiny frozen teachers and their action-replay pairs, built as tests/core/test_transfer_core.py does."""
    torch.manual_seed(100)
    teacher_config = preset("tiny").world_model
    teacher_config.use_reward_head = False
    teachers = [WorldModel(teacher_config, size) for size in TEACHER_ACTIONS]
    ensemble = TeacherEnsemble(teachers, [f"t{index}" for index in range(len(teachers))])
    rng = np.random.default_rng(0)
    sources = []
    for index, (teacher, size) in enumerate(zip(teachers, TEACHER_ACTIONS)):
        episode = {
            "image": rng.integers(0, 255, (LENGTH, 64, 64, 3), dtype=np.uint8),
            "action": rng.uniform(-1, 1, (LENGTH, size)).astype(np.float32),
        }
        sources.append(SourcePairs.from_episodes(f"t{index}", teacher, [episode], device))
    return ensemble.to(device), sources


def _transfer_setup(device: str, student_seed: int = 0) -> tuple[TransferAgent, TeacherEnsemble, dict[str, torch.Tensor]]:
    ensemble, sources = _teachers(device)
    torch.manual_seed(student_seed)
    agent = TransferAgent(preset("tiny"), TARGET_ACTIONS, device, ensemble, sources)
    batch = _synthetic_batch(device)
    # What the replay stores beside each frame: the teachers' prior and posterior features.
    batch[TEACHER_POSTERIOR_KEY], batch[TEACHER_FEATURE_KEY] = ensemble.observe(batch["image"], batch["action"], batch["is_first"])
    return agent, ensemble, batch


def _snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [param.detach().clone() for param in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(old, new) for old, new in zip(before, module.parameters()))


def _assert_finite_on(metrics: dict[str, torch.Tensor], device: str) -> None:
    for name, value in metrics.items():
        assert value.device.type == device, f"metric {name} is on {value.device}, expected {device}"
        assert torch.isfinite(value).all(), f"metric {name} is {value}"


def _assert_same(left: Any, right: Any, where: str) -> None:
    """Equal nested state (dicts, lists, tensors, numbers); tensors compared on the CPU, bit for bit."""
    if isinstance(left, torch.Tensor):
        assert isinstance(right, torch.Tensor) and left.dtype == right.dtype, where
        assert torch.equal(left.cpu(), right.cpu()), f"{where}: tensors differ"
    elif isinstance(left, dict):
        assert isinstance(right, dict) and left.keys() == right.keys(), f"{where}: keys differ"
        for key in left:
            _assert_same(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, (list, tuple)):
        assert isinstance(right, (list, tuple)) and len(left) == len(right), f"{where}: lengths differ"
        for index, (a, b) in enumerate(zip(left, right)):
            _assert_same(a, b, f"{where}[{index}]")
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


@pytest.mark.parametrize(("device", "precision", "compiled", "compile_mode"), UPDATE_SETTINGS)
def test_dreamer_update_and_acting_on_device(device: str, precision: int, compiled: bool, compile_mode: str) -> None:
    torch.manual_seed(0)
    config = preset("tiny")
    config.train.precision, config.train.compile, config.train.compile_mode = precision, compiled, compile_mode
    agent = DreamerAgent(config, TARGET_ACTIONS, device)
    assert agent.replays_cuda_graphs == (device == "cuda" and compile_mode == "reduce-overhead")
    assert {param.device.type for param in agent.parameters()} == {device}
    world_model, actor, critic = _snapshot(agent.world_model), _snapshot(agent.actor_critic.actor), _snapshot(agent.actor_critic.critic)

    metrics = agent.train_step(_synthetic_batch(device))

    _assert_finite_on(metrics, device)
    assert {"model_loss", "image_loss", "kl", "actor_loss", "critic_loss"} <= metrics.keys()
    assert _changed(world_model, agent.world_model) and _changed(actor, agent.actor_critic.actor)
    assert _changed(critic, agent.actor_critic.critic)
    assert all(param.dtype == torch.float32 for param in agent.parameters()), "autocast must leave fp32 master weights"
    observation = {key: value[:, 0] for key, value in _synthetic_batch(device).items() if key in ("image", "is_first")}
    action, policy_state = agent.policy(observation, None, mode="eval")
    assert action.shape == (BATCH, TARGET_ACTIONS) and action.device.type == device
    assert action.abs().max() <= 1 and policy_state["latent"]["deter"].device.type == device
    # The training loop's pattern: acting steps carry their latent across further acting steps and
    # updates (with CUDA graphs, each replay reuses the previous one's output memory).
    carried = {key: value.clone() for key, value in policy_state["latent"].items()}
    second_metrics = agent.train_step(_synthetic_batch(device))
    _assert_finite_on(second_metrics, device)
    assert all(torch.equal(carried[key], policy_state["latent"][key]) for key in carried), "an update changed the carried latent"
    for _ in range(2):
        action, policy_state = agent.policy(observation, policy_state, mode="explore")
    assert torch.isfinite(policy_state["latent"]["deter"]).all() and action.abs().max() <= 1


@pytest.mark.parametrize("device", DEVICES)
def test_transfer_update_with_two_teachers_on_device(device: str) -> None:
    agent, ensemble, batch = _transfer_setup(device)
    assert batch[TEACHER_FEATURE_KEY].shape == (BATCH, LENGTH, 2, ensemble.feature_size)
    teachers_before = [buffer.clone() for buffer in ensemble.buffers()]
    student, distillation, vae = _snapshot(agent.world_model), _snapshot(agent.distillation), _snapshot(agent.vae)

    metrics = agent.train_step(batch)

    _assert_finite_on(metrics, device)
    assert metrics["distill_loss"] > 0 and metrics["vae_loss"].isfinite()
    weights = torch.stack([metrics["weight/t0"], metrics["weight/t1"]])
    assert torch.allclose(weights.sum(), torch.ones((), device=device), atol=1e-5)
    assert _changed(student, agent.world_model) and _changed(distillation, agent.distillation) and _changed(vae, agent.vae)
    assert all(torch.equal(old, new) for old, new in zip(teachers_before, ensemble.buffers())), "teachers must stay frozen"

    observation = {key: batch[key][:, 0] for key in ("image", "is_first")}
    action, policy_state = agent.policy(observation, None)
    assert action.shape == (BATCH, TARGET_ACTIONS) and action.device.type == device
    assert policy_state["task_weights"].device.type == device
    assert sum(agent.acting_metrics().values()) == pytest.approx(1.0)


@pytest.mark.parametrize("device", DEVICES)
def test_checkpoint_round_trip_on_device(device: str, tmp_path: Path) -> None:
    agent, _, batch = _transfer_setup(device, student_seed=0)
    agent.train_step(batch)
    path = tmp_path / "checkpoints" / "latest.pt"
    save_atomic({"agent": agent.checkpoint()}, path)  # the layout the training loop writes

    restored, _, _ = _transfer_setup(device, student_seed=1)
    assert any(not torch.equal(a, b) for a, b in zip(agent.state_dict().values(), restored.state_dict().values()))
    restored.restore(load_checkpoint(path, map_location=device)["agent"])

    assert {tensor.device.type for tensor in restored.state_dict().values()} == {device}
    _assert_same(agent.checkpoint(), restored.checkpoint(), "checkpoint")
    # The restored agent continues exactly where the saved one stands.
    torch.manual_seed(7)
    continued = agent.train_world_model(batch)[1]
    torch.manual_seed(7)
    resumed = restored.train_world_model(batch)[1]
    for name in ("model_loss", "image_loss", "distill_loss"):
        assert torch.allclose(continued[name], resumed[name], rtol=1e-5, atol=1e-6), name

    if device != "cpu":  # a checkpoint written on the GPU resumes on a CPU-only machine
        on_cpu, _, _ = _transfer_setup("cpu", student_seed=1)
        on_cpu.restore(load_checkpoint(path, map_location="cpu")["agent"])
        _assert_same(agent.checkpoint(), on_cpu.checkpoint(), "checkpoint")


def test_gpu_tests_collect_with_only_the_core_importable() -> None:
    """What a GPU machine without simulators runs: the env/teacher/CLI packages and simulators are
    made unimportable, then `-m gpu` must collect exactly the CUDA cases of this file."""
    blocked = ("vid2act_envs", "vid2act_teachers", "vid2act_cli", "vid2act_plugin_example",
               "dm_control", "metaworld", "mujoco", "gymnasium", "h5py")
    script = (
        "import importlib.abc, sys\n"
        "class Blocked(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ModuleNotFoundError(f'{name} is blocked: the GPU tests must need only vid2act_core')\n"
        "sys.meta_path.insert(0, Blocked())\n"
        "import pytest\n"
        f"sys.exit(pytest.main([{str(Path(__file__))!r}, '-m', 'gpu', '--collect-only', '-q', '-p', 'no:cacheprovider']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    collected = sorted(line.split("::")[-1] for line in result.stdout.splitlines() if "::" in line)
    expected = sorted([f"test_dreamer_update_and_acting_on_device[{name}]" for name in ("cuda-fp32", "cuda-bf16", "cuda-bf16-compile", "cuda-bf16-cudagraphs")]
                      + ["test_transfer_update_with_two_teachers_on_device[cuda]", "test_checkpoint_round_trip_on_device[cuda]"])
    assert collected == expected
