#!/usr/bin/env bash
# A GPU day in one call: the device, the `gpu` tests, the training-step benchmark at paper-dmc sizes
# (fp32, bf16, bf16 + torch.compile, bf16 + CUDA graphs; 0, 4 and 6 teachers; batch 16 and 50) and
# the side-by-side with the anchors.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]          # on a CUDA machine
#   bash benchmarks/gpu_check.sh --dry [OUT_DIR]    # the same stages on the CPU at tiny sizes (< 2 min)
#   bash benchmarks/gpu_check.sh --only train-fp32-b16,anchors OUT_DIR
#
# OUT_DIR defaults to $OUT when it is set, else a new folder under /tmp. Needs only torch, numpy,
# safetensors, PyYAML and pytest: no simulator is imported, and no uv environment is needed, since
# PYTHONPATH points at packages/*/src. $PYTHON picks the interpreter (default: .venv/bin/python where uv made one, else python3).
# Each stage runs under its own `timeout` and writes OUT_DIR/<stage>.log; a failed or timed-out stage
# is recorded and the next one runs, so one call yields every figure that works. OUT_DIR/summary.json
# and summary.md list every stage with its status (ok, failed, skipped and why), its wall seconds and
# its figures. The whole run keeps within $GPU_CHECK_BUDGET_S seconds (default 450, 110 with --dry):
# a stage gets at most what is left, and one that would start with under 20 s left is skipped.
# Exit status: 0 if no stage failed, 1 otherwise, 2 for bad arguments.
# docs/gpu.md says how to run it through the device tool and what each stage measures.
set -uo pipefail

usage_lines=21
dry=0
only=""
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry) dry=1; shift ;;
    --only) [[ $# -ge 2 && -n $2 ]] || { echo "error: --only needs a comma-separated list of stages" >&2; exit 2; }
            only=$2; shift 2 ;;
    -h|--help) sed -n "2,${usage_lines}p" "$0"; exit 0 ;;
    -*) echo "error: unknown option $1 (options: --dry, --only STAGE,...; then OUT_DIR)" >&2; exit 2 ;;
    *) [[ -z $out ]] || { echo "error: one OUT_DIR only, got '$out' and '$1'" >&2; exit 2; }
       out=$1; shift ;;
  esac
done
# Cheapest and surest figures first, so that a budget cut loses the compiled rows, not the baseline.
stages=(device gpu-tests train-fp32-b16 train-bf16-b16 train-fp32-b50 train-bf16-b50 anchors
        train-compile-b16 train-cudagraphs-b16 train-compile-b50 train-cudagraphs-b50)
for stage in ${only//,/ }; do
  [[ " ${stages[*]} " == *" $stage "* ]] || { echo "error: --only: unknown stage '$stage'; stages: ${stages[*]}" >&2; exit 2; }
done
if (( dry )); then budget=${GPU_CHECK_BUDGET_S:-110}; else budget=${GPU_CHECK_BUDGET_S:-450}; fi
[[ $budget =~ ^[0-9]+$ ]] || { echo "error: GPU_CHECK_BUDGET_S must be whole seconds, got '$budget'" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z $out ]]; then
  out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")} || { echo "error: cannot create a folder under /tmp" >&2; exit 2; }
fi
mkdir -p "$out" || { echo "error: OUT_DIR $out: cannot create it" >&2; exit 2; }
out=$(cd "$out" && pwd)
# A checkout synced with uv has its own interpreter with torch; a bare GPU machine has python3 with torch.
default_python=python3
[[ -x $repo/.venv/bin/python ]] && default_python=$repo/.venv/bin/python
python=${PYTHON:-$default_python}
command -v "$python" >/dev/null || { echo "error: PYTHON=$python: not found" >&2; exit 2; }
cd "$repo" || exit 2
src_path=""
for src in "$repo"/packages/*/src; do src_path+="${src_path:+:}$src"; done
export PYTHONPATH="$src_path${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# The compiled stages share one inductor cache, so each process after the first reuses the kernels
# compiled before it instead of compiling them again (kept outside OUT_DIR: it is large).
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-${TMPDIR:-/tmp}/vid2act-gpu-check-inductor}
if [[ -z ${VID2ACT_ANCHORS:-} ]]; then
  for candidate in "$repo/shared/anchors" "$repo/../shared/anchors"; do
    [[ -f $candidate/speed.py ]] && { export VID2ACT_ANCHORS=$candidate; break; }
  done
fi

if (( dry )); then
  mode="dry run on the CPU at tiny sizes"
  device=cpu; preset=tiny; batch_small=4; batch_large=8; length=10; updates=1
  # One teacher count per stage: every train_step.py row is a fresh process (~10 s on 2 shared
  # cores), and 4 teachers takes the transfer path, the one with the most code under it.
  teachers=4
  # The anchor harness builds at paper-dmc sizes whatever the flags, so only this project's row runs.
  anchor_args=(--impls ours --updates 1 --warmup 0 --no-flops --threads 1)
  no_compile="torch.compile on 2 shared CPU cores takes longer than the whole dry run (the compile paths are tested on the CPU in tests/core/test_compile_modes.py)"
  no_cudagraphs="CUDA graphs need CUDA (on the CPU mode reduce-overhead compiles like default)"
else
  mode="CUDA at paper-dmc sizes"
  device=cuda; preset=paper-dmc; batch_small=16; batch_large=50; length=50; updates=10
  teachers=0,4,6
  anchor_args=(--updates 10 --warmup 2)
  no_compile=""; no_cudagraphs=""
fi
train=("$python" benchmarks/train_step.py --device "$device" --presets "$preset" --length "$length" --updates "$updates" --selection-teachers 0 --teachers "$teachers")

started=$EPOCHREALTIME
: > "$out/stages.tsv"
failures=0

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
selected() { [[ -z $only || ",$only," == *",$1,"* ]]; }
one_line() { printf '%s' "$1" | tr '\t\n' '  ' | cut -c1-200; }

# record STAGE STATUS SECONDS EXIT REASON LOG: one line of stages.tsv (read by gpu_check_summary.py).
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(one_line "$5")" "$6" >> "$out/stages.tsv"
  printf '%-22s %-7s %6s s  %s\n' "$1" "$2" "$3" "$5"
}

skip() {
  selected "$1" || return 0
  record "$1" skipped 0 "" "$2" ""
}

# run STAGE CAP COMMAND...: the command under `timeout` (at most CAP seconds, or what is left of the
# budget), its output to OUT_DIR/STAGE.log.
run() {
  local name=$1 cap=$2 log="$1.log"
  shift 2
  selected "$name" || return 0
  local left
  left=$(awk -v a="$started" -v b="$EPOCHREALTIME" -v budget="$budget" 'BEGIN { printf "%d", budget - (b - a) }')
  if (( left < 20 )); then
    record "$name" skipped 0 "" "the time budget of $budget s is spent ($left s left)" ""
    return 0
  fi
  local limit=$(( cap < left ? cap : left ))
  local begin=$EPOCHREALTIME
  echo "== $name (at most $limit s): $(one_line "$*")" > "$out/$log"
  timeout --kill-after=10 "$limit" "$@" >> "$out/$log" 2>&1
  local status=$?
  local seconds
  seconds=$(elapsed "$begin")
  if (( status == 0 )); then
    record "$name" ok "$seconds" 0 "" "$log"
  elif (( status == 124 || status == 137 )); then
    failures=$((failures + 1))
    record "$name" failed "$seconds" "$status" "timed out after $limit s" "$log"
  else
    failures=$((failures + 1))
    record "$name" failed "$seconds" "$status" "exit $status: $(grep -v '^\s*$' "$out/$log" | tail -n 1)" "$log"
  fi
}

echo "gpu_check: $mode, output in $out, budget $budget s"
echo "PYTHONPATH=$PYTHONPATH"
# shellcheck disable=SC2016  # the Python program is single-quoted on purpose
run device 60 "$python" -c '
import platform, sys, torch
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA build {torch.version.cuda}), cuDNN {torch.backends.cudnn.version()}")
print(f"CUDA available: {torch.cuda.is_available()}, {torch.cuda.device_count()} device(s)")
for index in range(torch.cuda.device_count()):
    properties = torch.cuda.get_device_properties(index)
    print(f"cuda:{index}: {properties.name}, {properties.total_memory / 2**30:.1f} GiB, compute capability {properties.major}.{properties.minor}")
print(f"bf16 supported: {torch.cuda.is_available() and torch.cuda.is_bf16_supported()}")
import vid2act_core
print("vid2act_core from", vid2act_core.__file__)
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("error: no CUDA device: the CUDA stages below will fail")
' "$device"
if selected device && command -v nvidia-smi >/dev/null; then
  nvidia-smi >> "$out/device.log" 2>&1
fi
if (( ! dry )) && selected device && grep -q "^bf16 supported: False" "$out/device.log"; then
  no_bf16="this GPU has no bf16 (torch.cuda.is_bf16_supported() is False)"
else
  no_bf16=""
fi

# The gpu tests import only vid2act_core; the other test files import the simulators.
if selected gpu-tests && ! "$python" -c 'import pytest' 2>/dev/null; then
  skip gpu-tests "pytest is not installed for $python"
else
  run gpu-tests 150 "$python" -m pytest -m gpu tests/core/test_gpu_paths.py -q -p no:cacheprovider -rs
fi

for batch in "$batch_small" "$batch_large"; do
  size=$([[ $batch == "$batch_small" ]] && echo b16 || echo b50)
  run "train-fp32-$size" 90 "${train[@]}" --batch "$batch" --precision 32
  if [[ -n $no_bf16 ]]; then skip "train-bf16-$size" "$no_bf16"; else
    run "train-bf16-$size" 90 "${train[@]}" --batch "$batch" --precision 16
  fi
done

if [[ -z ${VID2ACT_ANCHORS:-} ]]; then
  skip anchors "no anchor harness: neither shared/anchors nor ../shared/anchors has speed.py, and VID2ACT_ANCHORS is unset"
else
  run anchors 120 "$python" benchmarks/compare_anchors.py --device "$device" "${anchor_args[@]}" --out "$out/anchors.json"
fi

for size in b16 b50; do
  batch=$([[ $size == b16 ]] && echo "$batch_small" || echo "$batch_large")
  if [[ -n $no_compile || -n $no_bf16 ]]; then skip "train-compile-$size" "${no_compile:-$no_bf16}"; else
    run "train-compile-$size" 150 "${train[@]}" --batch "$batch" --precision 16 --compile
  fi
  if [[ -n $no_cudagraphs || -n $no_bf16 ]]; then skip "train-cudagraphs-$size" "${no_cudagraphs:-$no_bf16}"; else
    run "train-cudagraphs-$size" 150 "${train[@]}" --batch "$batch" --precision 16 --compile --compile-mode reduce-overhead
  fi
done

wall=$(elapsed "$started")
printf '%s\t%s\t%s\n' "$mode" "$budget" "$wall" > "$out/run.tsv"
if ! "$python" benchmarks/gpu_check_summary.py "$out"; then
  echo "error: gpu_check_summary.py failed: no summary.json; stages.tsv has each stage's status" >&2
  failures=$((failures + 1))
fi
echo "gpu_check: $failures stage(s) failed, $wall s in all; $out/summary.md, $out/summary.json"
(( failures == 0 ))
