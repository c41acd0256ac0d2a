"""summary.json and summary.md for benchmarks/gpu_check.sh, from its stages.tsv and the stages' logs.

    python benchmarks/gpu_check_summary.py OUT_DIR

stages.tsv has one line per stage: name, status (ok / failed / skipped), wall seconds, exit status,
reason, log file (relative to OUT_DIR). Each stage's figures are read back from what it wrote: the
train_step.py table rows, the pytest tally, the device lines, compare_anchors.py's JSON. Standard
library only, so that it runs wherever gpu_check.sh runs, even when torch is broken.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# preset, teachers, batch, WM upd/s, AC upd/s, upd/s, vs none, peak MB (train_step.py's table)
TRAIN_ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d+x\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s+([\d.]+)\s*$")
TRAIN_FAILED = re.compile(r"^(\S+)\s+(\S+)\s+failed: (.*)$")
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)")


def train_figures(log: str) -> dict:
    rows, failed = [], []
    for line in log.splitlines():
        if match := TRAIN_ROW.match(line):
            preset, teachers, batch, model, behaviour, total, ratio, peak = match.groups()
            rows.append({"preset": preset, "teachers": teachers, "batch": batch, "world_model_updates_per_s": float(model),
                         "actor_critic_updates_per_s": float(behaviour), "updates_per_s": float(total),
                         "vs_none": ratio, "peak_mb": float(peak)})
        elif match := TRAIN_FAILED.match(line):
            failed.append({"preset": match[1], "teachers": match[2], "error": match[3]})
    return {"rows": rows, "failed_rows": failed} if failed else {"rows": rows}


def test_figures(log: str) -> dict:
    tally_lines = [line for line in log.splitlines() if re.search(r"\d+ (passed|failed|skipped|errors?|deselected) in ", line)]
    if not tally_lines:
        return {}
    counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(number)
              for number, kind in PYTEST_COUNT.findall(tally_lines[-1])}
    return {"tests": counts, "tally": tally_lines[-1].strip("= ")}


DEVICE_LINE = re.compile(r"^(python |CUDA available|cuda:\d+: |bf16 supported|vid2act_core from|error: |\| NVIDIA-SMI )")


def device_figures(log: str) -> dict:
    lines = [line.strip("| ") if line.startswith("| NVIDIA-SMI") else line for line in log.splitlines()[1:] if DEVICE_LINE.match(line)]
    figures = {"lines": lines}
    gpus = [line.strip() for line in lines if re.match(r"^cuda:\d+: ", line)]
    if gpus:
        figures["gpus"] = gpus
    for line in lines:
        if line.startswith("python "):
            figures["versions"] = line
    return figures


def anchor_figures(out: Path) -> dict:
    path = out / "anchors.json"
    if not path.is_file():
        return {}
    results = json.loads(path.read_text()).get("results", {})
    keep = ("median_s", "updates_per_s", "wm_median_s", "ac_median_s", "peak_rss_mib")
    # the harness's matmul-ceiling probe has a peak but no update times
    return {"rows": {name: {key: row.get(key) for key in keep} for name, row in results.items() if row.get("median_s") is not None}}


def figures_of(name: str, log: str, out: Path) -> dict:
    if name.startswith("train-"):
        return train_figures(log)
    if name == "gpu-tests":
        return test_figures(log)
    if name == "device":
        return device_figures(log)
    if name == "anchors":
        return anchor_figures(out)
    return {}


def _number(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def markdown(summary: dict) -> str:
    lines = [f"# gpu_check: {summary['mode']}", "",
             f"{summary['stages_ok']} ok, {summary['stages_failed']} failed, {summary['stages_skipped']} skipped; "
             f"{summary['wall_s']:.1f} s in all (budget {summary['budget_s']} s). Logs beside this file, one per stage.", "",
             "| stage | status | wall s | note |", "|---|---|---:|---|"]
    for stage in summary["stages"]:
        note = stage["reason"] or stage["figures"].get("tally", "")
        lines.append(f"| {stage['name']} | {stage['status']} | {stage['wall_s']:.1f} | {note.replace('|', '/')} |")
    train = [(stage["name"], row) for stage in summary["stages"] for row in stage["figures"].get("rows", []) if isinstance(row, dict)]
    if train:
        lines += ["", "## train_step.py", "", "| stage | preset | teachers | batch | WM upd/s | AC upd/s | upd/s | vs none | peak MB |",
                  "|---|---|---:|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {name} | {row['preset']} | {row['teachers']} | {row['batch']} | {row['world_model_updates_per_s']:.2f} | "
                  f"{row['actor_critic_updates_per_s']:.2f} | {row['updates_per_s']:.2f} | {row['vs_none']} | {row['peak_mb']:.0f} |"
                  for name, row in train]
    anchors = next((stage["figures"]["rows"] for stage in summary["stages"]
                    if stage["name"] == "anchors" and stage["figures"].get("rows")), None)
    if anchors:
        lines += ["", "## compare_anchors.py", "", "| implementation | s/update | upd/s | WM s | AC s | peak MiB |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {name} | {_number(row['median_s'], 3)} | {_number(row['updates_per_s'], 3)} | {_number(row['wm_median_s'], 3)} | "
                  f"{_number(row['ac_median_s'], 3)} | {_number(row['peak_rss_mib'], 0)} |" for name, row in anchors.items()]
    device = next((stage["figures"] for stage in summary["stages"] if stage["name"] == "device"), {})
    if device.get("lines"):
        lines += ["", "## device", "", "```", *device["lines"], "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(sys.argv[1])
    mode, budget, wall = (out / "run.tsv").read_text().split("\t")
    stages = []
    for line in (out / "stages.tsv").read_text().splitlines():
        name, status, seconds, code, reason, log_name = line.split("\t")
        log_path = out / log_name if log_name else None
        log = log_path.read_text(errors="replace") if log_path and log_path.is_file() else ""
        stages.append({"name": name, "status": status, "wall_s": float(seconds), "exit_status": int(code) if code else None,
                       "reason": reason, "log": log_name or None, "figures": figures_of(name, log, out) if status != "skipped" else {}})
    summary = {"mode": mode, "budget_s": int(budget), "wall_s": float(wall),
               "stages_ok": sum(stage["status"] == "ok" for stage in stages),
               "stages_failed": sum(stage["status"] == "failed" for stage in stages),
               "stages_skipped": sum(stage["status"] == "skipped" for stage in stages), "stages": stages}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary))


if __name__ == "__main__":
    main()
