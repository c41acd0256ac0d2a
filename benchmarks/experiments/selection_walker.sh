#!/usr/bin/env bash
# Teacher-selection and transfer experiment at a CPU budget (issue 5):
#   target walker_run; teachers walker_walk (same body: related) and cheetah_run (unrelated),
#   pretrained on random-policy data; Vid2Act transfer next to DreamerV2 from scratch (--no-distill).
# Every stage resumes when the script is re-run. Usage: bash benchmarks/experiments/selection_walker.sh [OUT]
set -euo pipefail
out=${1:-runs/selection}
export VID2ACT_HOME=${VID2ACT_HOME:-$out/home}
steps=${STEPS:-6000}
seed=${SEED:-0}
mkdir -p "$VID2ACT_HOME/datasets"
for task in walker_walk cheetah_run; do
  data="$VID2ACT_HOME/datasets/$task.h5"
  have=$(uv run python -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(int(f.attrs.get('num_episodes', 0)))" "$data" 2>/dev/null || echo 0)
  if [ "$have" -lt 10 ]; then
    uv run vid2act collect "$task" --policy random --episodes $((10 - have)) --out "$data" --seed 1
  fi
  if ! uv run vid2act teachers show "$task" >/dev/null 2>&1; then
    uv run vid2act pretrain --data "$data" --name "$task" --preset small --steps ${PRETRAIN_STEPS:-800} --device cpu --set train.threads=1 \
      --logdir "$out/pretrain-$task" --no-progress
  fi
done
uv run vid2act transfer --target walker_run --teachers walker_walk,cheetah_run --preset small --steps "$steps" \
  --seed "$seed" --device cpu --set train.threads=1 --logdir "$out/walker_run-vid2act-$seed" --no-progress
uv run vid2act transfer --target walker_run --no-distill --preset small --steps "$steps" \
  --seed "$seed" --device cpu --set train.threads=1 --logdir "$out/walker_run-dreamer-$seed" --no-progress
