#!/usr/bin/env bash
# Regenerate the example plugin's shipped teacher `toy_reach` with the public vid2act commands.
#
#     bash examples/vid2act-plugin-example/make_teacher.sh      (from the workspace root)
#
# Collects 4 expert episodes of toy:reach with the domain's scripted expert, pretrains a `tiny`
# teacher on them for 100 updates (`vid2act pretrain` registers it with its action-replay set) in a
# throwaway VID2ACT_HOME, and writes it into the package with `vid2act teachers export --for-plugin`
# (model.safetensors, config.json, replay_set.safetensors). A plugin author makes a shipped teacher
# the same way, with any task and preset.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
teachers="$here/src/vid2act_plugin_example/teachers"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export VID2ACT_HOME="$work/home"
# The plugin registers the shipped teacher only while its model.safetensors exists: remove it first so
# the teacher being trained under the same name does not hide a stale one.
rm -f "$teachers/toy_reach/model.safetensors"
uv run vid2act collect toy:reach --episodes 4 --seed 0 --out "$work/toy_reach.h5"
uv run vid2act pretrain --data "$work/toy_reach.h5" --name toy_reach --preset tiny --steps 100 --seed 0 \
    --device cpu --logdir "$work/pretrain" --no-progress
uv run vid2act teachers export toy_reach --for-plugin "$teachers" --overwrite
uv run vid2act teachers verify toy_reach
