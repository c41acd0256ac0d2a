"""Steps per second of stable-baselines3 SAC on a DMC state task, for a few settings.

    nice -n 10 uv run python benchmarks/bench_expert_sac.py --task walker_walk --steps 2000

Each setting trains `--steps` agent steps after a short warm-up (learning starts at 500) with one
torch thread and prints agent steps/s (action repeat 2: one agent step = 2 simulator steps).
Like `vid2act experts train`, it first lets MKL use AVX-512 kernels on an AMD CPU
(`vid2act_core.runtime.mkl_dispatch`; `VID2ACT_MKL_AVX512=0` to compare without) and prints what it did.
"""

from __future__ import annotations

import argparse
import time

import torch
from stable_baselines3 import SAC
from vid2act_core.runtime.mkl_dispatch import enable_mkl_avx512
from vid2act_envs.dmc_state import make_dmc_state_env

SETTINGS = {
    "256x2 b256 tf1 g1": dict(net=[256, 256], batch=256, train_freq=1, gradient_steps=1),
    "256x2 b256 tf2 g1": dict(net=[256, 256], batch=256, train_freq=2, gradient_steps=1),
    "256x2 b128 tf1 g1": dict(net=[256, 256], batch=128, train_freq=1, gradient_steps=1),
    "256x2 b256 tf2 g2": dict(net=[256, 256], batch=256, train_freq=2, gradient_steps=2),
    "env only (random actions)": None,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="walker_walk")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    print(f"MKL: {enable_mkl_avx512()}", flush=True)
    torch.set_num_threads(1)
    for label, setting in SETTINGS.items():
        env = make_dmc_state_env(args.task, seed=0)
        if setting is None:
            env.reset(seed=0)
            start = time.perf_counter()
            for _ in range(args.steps):
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                if terminated or truncated:
                    env.reset()
            rate = args.steps / (time.perf_counter() - start)
        else:
            model = SAC(
                "MlpPolicy", env, learning_starts=500, batch_size=setting["batch"], train_freq=setting["train_freq"],
                gradient_steps=setting["gradient_steps"], policy_kwargs=dict(net_arch=setting["net"]), device="cpu", seed=0,
            )
            model.learn(500)
            start = time.perf_counter()
            model.learn(args.steps, reset_num_timesteps=False)
            rate = args.steps / (time.perf_counter() - start)
        env.close()
        print(f"{args.task} {label}: {rate:.0f} agent steps/s", flush=True)


if __name__ == "__main__":
    main()
