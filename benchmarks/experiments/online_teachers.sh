#!/usr/bin/env bash
# Online evidence, stage 2: the teacher set of the walker_stand target (docs/results.md "Online evidence"),
# one related source (walker_walk: the same body and dynamics) and unrelated ones (cartpole_balance, and
# reacher_hard where the CPU allows), each through `vid2act teachers add` from its state expert. Two
# teachers side by side on 1 thread each. Re-running resumes or skips what is registered.
#   VID2ACT_HOME=/path/to/home bash benchmarks/experiments/online_teachers.sh
set -euo pipefail
export MUJOCO_GL=${MUJOCO_GL:-egl}
add() {
  uv run vid2act teachers add "$1" --device cpu --workers 1 --set pretrain.threads=1 --no-progress
}
pids=()
for task in ${TEACHERS:-walker_walk cartpole_balance}; do
  add "$task" > "${LOGS:-.}/teacher_${task}.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
uv run vid2act teachers list
exit $status
