"""Regenerate the example plugin's shipped teacher `toy_reach` (run from the workspace root).

    uv run python examples/vid2act-plugin-example/make_teacher.py

Collects expert episodes of `toy:reach` with the domain's scripted expert, trains a `tiny`-preset
world model without a reward head (Eq. 2: image reconstruction + KL) for a hundred updates, and
writes it with the teacher registry's writer into
`src/vid2act_plugin_example/teachers/toy_reach/` (model.safetensors + config.json, well under
1 MB). The dataset hash recorded is the sha256 of the collected episode arrays (keys sorted,
episodes in order), since this dataset is never written to an HDF5 file.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vid2act_core.config import preset
from vid2act_core.loop import seed_everything, to_torch
from vid2act_core.world_model import WorldModel
from vid2act_envs.collect import collect_episodes
from vid2act_envs.replay import SequenceSampler
from vid2act_teachers.plugins import domain_registry
from vid2act_teachers.registry import TeacherRegistry

from vid2act_plugin_example.plugin import TEACHERS_DIR, TOY_REACH_TEACHER

TASK = "toy:reach"


def episodes_sha256(episodes: list[dict[str, np.ndarray]]) -> str:
    """sha256 over every episode's arrays (keys sorted; shape, dtype and bytes of each)."""
    digest = hashlib.sha256()
    for episode in episodes:
        for key in sorted(episode):
            array = np.ascontiguousarray(episode[key])
            digest.update(f"{key}{array.shape}{array.dtype}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4, help="expert episodes to collect")
    parser.add_argument("--updates", type=int, default=100, help="world-model updates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=TEACHERS_DIR / TOY_REACH_TEACHER, help="teacher directory to write")
    args = parser.parse_args()

    torch.set_num_threads(1)
    seed_everything(args.seed)
    config = preset("tiny")
    config.seed = args.seed
    config.env.task = TASK
    config.world_model.use_reward_head = False  # teachers learn from reward-free sequences

    registry = domain_registry()
    spec = registry.resolve(TASK)
    domain = registry.domain(spec.domain)
    assert domain.make_expert is not None, f"{TASK} has no expert policy"
    env = registry.make_env(spec, seed=args.seed, image_size=config.env.image_size)
    episodes: list[dict[str, np.ndarray]] = []
    try:
        stats = collect_episodes(
            env,
            domain.make_expert(spec),
            args.episodes,
            seed=args.seed,
            on_episode=lambda episode, summary: episodes.append(episode),
        )
    finally:
        env.close()
    print(f"collected {stats.episodes} expert episodes, {stats.steps} steps, success rate {stats.success_rate}")

    model = WorldModel(config.world_model, env.action_dim, config.env.image_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.world_model.lr, eps=config.world_model.eps)
    sampler = SequenceSampler(episodes, keys=("image", "action", "is_first"), rng=args.seed)
    device = torch.device("cpu")
    started = time.time()
    for update in range(1, args.updates + 1):
        batch = to_torch(sampler.sample(config.train.batch_size, config.train.batch_length), device)
        loss, _, metrics = model.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.world_model.grad_clip)
        optimizer.step()
        if update == 1 or update % 25 == 0:
            shown = ", ".join(f"{key} {float(value):.3f}" for key, value in sorted(metrics.items()))
            print(f"update {update}: loss {loss.item():.3f} ({shown})")
    print(f"trained {args.updates} updates in {time.time() - started:.1f} s")

    # Write with the registry's own writer into a scratch registry, then move the directory out.
    with tempfile.TemporaryDirectory() as scratch:
        info = TeacherRegistry(Path(scratch), include_plugins=False).add(
            TOY_REACH_TEACHER,
            model,
            config,
            domain=spec.domain,
            task=spec.task,
            train_steps=args.updates,
            dataset_sha256=episodes_sha256(episodes),
        )
        args.out.mkdir(parents=True, exist_ok=True)
        for file_name in ("model.safetensors", "config.json"):
            shutil.copyfile(info.path / file_name, args.out / file_name)
    size = sum((args.out / name).stat().st_size for name in ("model.safetensors", "config.json"))
    print(f"wrote teacher {TOY_REACH_TEACHER!r} ({spec.name}, {size / 1024:.0f} KiB) to {args.out}")


if __name__ == "__main__":
    main()
