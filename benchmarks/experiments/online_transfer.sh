#!/usr/bin/env bash
# Online evidence, stage 3: DreamerV2 from scratch against Vid2Act (and, with METHODS, init and the
# ablations) on the kept targets, teachers from online_teachers.sh, at the scan's budget and evaluation
# schedule. Run it from a worktree at a fixed commit so that other work cannot change the runs mid-way:
#   git worktree add /work/wt-transfer <commit> && cd /work/wt-transfer && uv sync --locked
#   VID2ACT_HOME=/path/to/home bash benchmarks/experiments/online_transfer.sh [ROOT]
# Re-running the same command resumes (finished runs are skipped, interrupted ones continue from their
# checkpoints); raising SEEDS adds seeds 1, 2, ... beside the finished seed 0, and FIRST_SEED=1 SEEDS=2
# runs only seeds 1 and 2 (a fresh machine where seed 0's runs are kept in docs/results-data only).
set -euo pipefail
root=${1:-experiments/online-transfer}
export MUJOCO_GL=${MUJOCO_GL:-egl}
uv run vid2act experiment grid \
  --targets "${TARGETS:-walker_stand}" --methods "${METHODS:-dreamer,vid2act}" \
  --teachers "${TEACHER_SET:-walker_walk,cartpole_balance}" \
  --seeds "${SEEDS:-1}" --first-seed "${FIRST_SEED:-0}" --steps "${STEPS:-50000}" --preset small --device cpu \
  --jobs "${JOBS:-2}" --root "$root" --set train.eval_every=5000 --set train.eval_episodes=5
uv run vid2act experiment status "$root"
uv run vid2act report "$root" --out "$root/report"
