#!/usr/bin/env bash
# Online evidence, stage 1: DreamerV2 alone on cheap DMC candidates, to keep the targets where it learns
# at a CPU budget (docs/results.md "Online evidence"). Run it from a worktree at a fixed commit so that
# other work cannot change the runs mid-way:
#   git worktree add /work/wt-online <commit> && cd /work/wt-online && uv sync --locked
#   bash benchmarks/experiments/online_scan.sh [ROOT]
# Re-running the same command resumes: finished runs are skipped and interrupted ones continue from
# their checkpoints (vid2act experiment grid). JOBS runs side by side, each on cores // JOBS threads.
set -euo pipefail
root=${1:-experiments/online-scan}
export MUJOCO_GL=${MUJOCO_GL:-egl}
uv run vid2act experiment grid \
  --targets "${TARGETS:-cartpole_swingup,walker_stand,finger_spin,reacher_easy,cup_catch}" \
  --methods dreamer --seeds "${SEEDS:-1}" --steps "${STEPS:-50000}" --preset small --device cpu \
  --jobs "${JOBS:-2}" --root "$root" --set train.eval_every=5000 --set train.eval_episodes=5
uv run vid2act experiment status "$root"
uv run vid2act report "$root" --out "$root/report"
