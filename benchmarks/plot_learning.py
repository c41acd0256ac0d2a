"""Learning curve of a `vid2act train` run against a random policy on the same task.

    uv run python benchmarks/plot_learning.py runs/<run> --out docs/learning_cartpole_swingup.png

Reads the run's metrics.jsonl (evaluation returns, deterministic and stochastic), measures a
uniform-random policy's return on the same task and settings (no rendering needed), prints a
table and writes a PNG.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def random_policy_return(config, episodes: int, seed: int = 0) -> tuple[float, float]:
    from vid2act_envs.collect import collect_episodes
    from vid2act_envs.policies import RandomPolicy

    from vid2act_cli.compose.training import make_task_env

    env = make_task_env(config, seed=seed, render=False)
    returns: list[float] = []
    collect_episodes(env, RandomPolicy(env.action_dim, seed=seed), episodes,
                     on_episode=lambda _episode, summary: returns.append(summary.episode_return))
    env.close()
    return float(np.mean(returns)), float(np.std(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--random-episodes", type=int, default=10)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vid2act_cli.compose.runs import load_run_config

    config, info = load_run_config(args.run_dir)
    rows = [json.loads(line) for line in (args.run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evals = [row for row in rows if "eval/return_deterministic" in row]
    random_mean, random_std = random_policy_return(config, args.random_episodes)
    print(f"task {config.env.task}, preset {config.preset}, seed {config.seed}; random policy: {random_mean:.1f} ± {random_std:.1f}")
    print(f"{'env steps':>10} {'deterministic':>14} {'stochastic':>11}")
    for row in evals:
        print(f"{row['step']:>10} {row['eval/return_deterministic']:>14.1f} {row['eval/return_stochastic']:>11.1f}")
    steps = [row["step"] for row in evals]
    figure, axis = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    axis.plot(steps, [row["eval/return_deterministic"] for row in evals], marker="o", label="DreamerV2 (deterministic eval)")
    axis.plot(steps, [row["eval/return_stochastic"] for row in evals], marker=".", alpha=0.7, label="DreamerV2 (stochastic eval)")
    axis.axhline(random_mean, color="gray", linestyle="--", label=f"random policy ({random_mean:.0f})")
    axis.set_xlabel("environment steps")
    axis.set_ylabel("episode return")
    axis.set_title(f"{config.env.task}, preset {config.preset}, seed {config.seed}, 2-core CPU")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
