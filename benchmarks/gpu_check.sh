#!/usr/bin/env bash
# A GPU day in one call: the device, the `gpu` tests, the training-step benchmark at paper-dmc sizes
# (fp32, bf16, bf16 + torch.compile, bf16 + CUDA graphs) and the side-by-side with the anchors.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]          # on a CUDA machine; OUT_DIR defaults to $OUT
#   bash benchmarks/gpu_check.sh --dry [OUT_DIR]    # the same steps on the CPU at tiny sizes (< 2 min)
#   bash benchmarks/gpu_check.sh --only train-fp32-b16,anchors OUT_DIR
#
# Needs only torch, numpy, safetensors, PyYAML and pytest: the simulators' packages are not imported
# (vid2act_core comes from packages/vid2act-core/src through PYTHONPATH). $PYTHON picks the
# interpreter (default python3). Every step writes OUT_DIR/<step>.txt; a failing or timed-out step
# is recorded and the next one runs, so one call yields every figure that works. OUT_DIR/summary.txt
# lists each step's exit status and seconds. The whole run keeps within $GPU_CHECK_BUDGET_S seconds
# (default 450): a step gets at most what is left, and a step that would start with under 20 s left
# is recorded as skipped. Exit status: 0 if every step passed, 1 otherwise, 2 for bad arguments.
# docs/gpu.md says what each step measures and which configurations it runs.
set -uo pipefail

usage() { echo "usage: $0 [--dry] [--only STEP,...] [OUT_DIR]  (OUT_DIR defaults to \$OUT)" >&2; exit 2; }

dry=0
only=""
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry) dry=1; shift ;;
    --only) [[ $# -ge 2 && -n $2 ]] || { echo "error: --only needs a comma-separated list of steps" >&2; exit 2; }
            only=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $1 (options: --dry, --only STEP,...; then OUT_DIR)" >&2; exit 2 ;;
    *) [[ -z $out ]] || { echo "error: one OUT_DIR only, got '$out' and '$1'" >&2; exit 2; }
       out=$1; shift ;;
  esac
done
out=${out:-${OUT:-}}
[[ -n $out ]] || { echo "error: OUT_DIR: give the output folder as the argument or set \$OUT" >&2; exit 2; }
steps=(device gpu-tests train-fp32-b16 train-bf16-b16 train-compile-b16 train-cudagraphs-b16 anchors train-fp32-b50 train-bf16-b50)
for step in ${only//,/ }; do
  [[ " ${steps[*]} " == *" $step "* ]] || { echo "error: --only: unknown step '$step'; steps: ${steps[*]}" >&2; exit 2; }
done
budget=${GPU_CHECK_BUDGET_S:-450}
[[ $budget =~ ^[0-9]+$ ]] || { echo "error: GPU_CHECK_BUDGET_S must be whole seconds, got '$budget'" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out" || { echo "error: OUT_DIR $out: cannot create it" >&2; exit 2; }
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "error: PYTHON=$python: not found" >&2; exit 2; }
cd "$repo"
export PYTHONPATH="$repo/packages/vid2act-core/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# The compiled steps share one inductor cache, so each process after the first reuses the kernels
# compiled before it instead of compiling them again (kept outside OUT_DIR: it is large).
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-${TMPDIR:-/tmp}/vid2act-gpu-check-inductor}
if [[ -z ${VID2ACT_ANCHORS:-} ]]; then
  for candidate in "$repo/shared/anchors" "$repo/../shared/anchors"; do
    [[ -f $candidate/speed.py ]] && { export VID2ACT_ANCHORS=$candidate; break; }
  done
fi

if (( dry )); then
  device=cpu; preset=tiny; batch_small=4; batch_large=8; length=10; updates=1
  teachers_all=0,4,6; teachers_few=0,6
  test_marker="gpu"  # the same selection: on the CPU every case is skipped with "needs CUDA"
  anchor_args=(--impls ours,dreamer-torch --updates 1 --warmup 0 --no-flops --threads 1)
  # torch.compile becomes a no-op: compiling on 2 CPU cores would take longer than the whole dry run
  # (the compile paths themselves are tested in tests/core/test_compile_modes.py).
  compile_env=(TORCH_COMPILE_DISABLE=1)
else
  device=cuda; preset=paper-dmc; batch_small=16; batch_large=50; length=50; updates=10
  teachers_all=0,4,6; teachers_few=0,6
  test_marker="gpu"
  anchor_args=(--updates 10 --warmup 2)
  compile_env=()
fi
train=(benchmarks/train_step.py --device "$device" --presets "$preset" --length "$length" --updates "$updates" --selection-teachers 0)

started=$(date +%s)
summary=$out/summary.txt
: > "$summary"
failures=0

# run STEP SECONDS COMMAND...: the command's output to OUT_DIR/STEP.txt, its status to summary.txt.
run() {
  local name=$1 cap=$2
  shift 2
  if [[ -n $only && ",$only," != *",$name,"* ]]; then
    return
  fi
  local left=$(( budget - ($(date +%s) - started) ))
  if (( left < 20 )); then
    printf '%-22s skipped (time budget of %s s spent)\n' "$name" "$budget" | tee -a "$summary"
    failures=$((failures + 1))
    return
  fi
  local limit=$(( cap < left ? cap : left ))
  local begin=$(date +%s)
  echo "== $name (at most $limit s): $*" | tee "$out/$name.txt"
  timeout --kill-after=10 "$limit" env "$@" >> "$out/$name.txt" 2>&1
  local status=$?
  local seconds=$(( $(date +%s) - begin ))
  local verdict="ok"
  if (( status == 124 || status == 137 )); then
    verdict="timed out after $limit s (exit $status)"
  elif (( status != 0 )); then
    verdict="failed (exit $status): $(grep -v '^\s*$' "$out/$name.txt" | tail -n 1 | cut -c1-160)"
  fi
  (( status == 0 )) || failures=$((failures + 1))
  printf '%-22s %4d s  %s\n' "$name" "$seconds" "$verdict" | tee -a "$summary"
  tail -n +2 "$out/$name.txt"
}

echo "gpu_check: $( ((dry)) && echo "dry run on the CPU at tiny sizes" || echo "CUDA at paper-dmc sizes"), output in $out, budget $budget s"
run device 60 "$python" -c '
import platform, sys, torch
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA build {torch.version.cuda}), cuDNN {torch.backends.cudnn.version()}")
print(f"CUDA available: {torch.cuda.is_available()}, {torch.cuda.device_count()} device(s)")
for index in range(torch.cuda.device_count()):
    properties = torch.cuda.get_device_properties(index)
    print(f"cuda:{index}: {properties.name}, {properties.total_memory / 2**30:.1f} GiB, compute capability {properties.major}.{properties.minor}, bf16 {torch.cuda.is_bf16_supported()}")
import vid2act_core
print("vid2act_core from", vid2act_core.__file__)
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("error: no CUDA device: the CUDA steps below will fail")
' "$device"
command -v nvidia-smi >/dev/null && nvidia-smi >> "$out/device.txt" 2>&1

run gpu-tests 200 "$python" -m pytest -m "$test_marker" tests/core/test_gpu_paths.py -q -p no:cacheprovider -rs
run train-fp32-b16 100 "${train[@]}" --batch "$batch_small" --teachers "$teachers_all" --precision 32
run train-bf16-b16 100 "${train[@]}" --batch "$batch_small" --teachers "$teachers_all" --precision 16
run train-compile-b16 150 "${compile_env[@]}" "${train[@]}" --batch "$batch_small" --teachers "$teachers_few" --precision 16 --compile
run train-cudagraphs-b16 150 "${compile_env[@]}" "${train[@]}" --batch "$batch_small" --teachers "$teachers_few" --precision 16 --compile --compile-mode reduce-overhead
run anchors 150 "$python" benchmarks/compare_anchors.py --device "$device" "${anchor_args[@]}" --out "$out/anchors.json"
run train-fp32-b50 100 "${train[@]}" --batch "$batch_large" --teachers "$teachers_few" --precision 32
run train-bf16-b50 100 "${train[@]}" --batch "$batch_large" --teachers "$teachers_few" --precision 16

echo "gpu_check: $failures step(s) not ok, $(( $(date +%s) - started )) s in all; $summary" | tee -a "$summary"
(( failures == 0 ))
