"""`vid2act report` draws APV and Iso-Dream beside Vid2Act and DreamerV2: labels, colours, legend order."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from matplotlib.colors import to_rgb

from vid2act_cli.compose.runs import save_run_config
from vid2act_cli.report import build_report
from vid2act_cli.report.runs import RETURN_KEY, group_runs, load_run, method_style
from vid2act_core.config import preset

METHODS = ("isodream", "dreamer", "apv", "vid2act")  # written out of the paper's order on purpose


def _fake_run(directory: Path, method: str, offset: float) -> Path:
    """A finished run directory of `method` on cartpole_swingup: config, three evaluations, DONE."""
    save_run_config(directory, preset("tiny"), {"task": "dmc:cartpole_swingup", "method": method})
    records = [{"step": step, RETURN_KEY: offset + step / 100} for step in (0, 500, 1000)]
    (directory / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (directory / "DONE").write_text(json.dumps({"env_steps": 1000}) + "\n")
    return directory


def _has_colour(image: np.ndarray, colour: str) -> bool:
    rgb = np.round(np.array(to_rgb(colour)) * 255)
    return bool(np.any(np.all(np.abs(image[..., :3].astype(float) - rgb) <= 1, axis=-1)))


def test_report_draws_apv_and_isodream_curves_beside_vid2act_and_dreamer(tmp_path: Path) -> None:
    runs = [_fake_run(tmp_path / method, method, 10.0 * index) for index, method in enumerate(METHODS)]
    assert [label for _, label in group_runs([load_run(run) for run in runs])] == ["vid2act", "dreamer", "apv", "isodream"]
    assert method_style("apv")[0] == "APV" and method_style("isodream")[0] == "Iso-Dream"
    colours = {method: method_style(method)[1] for method in METHODS}
    assert len(set(colours.values())) == len(METHODS) and "tab:gray" not in colours.values()
    report = build_report(runs, tmp_path / "out")
    assert {row["method"] for row in report.rows} == set(METHODS)
    image = np.asarray(iio.imread(report.figures["eval_return"]))
    for method, colour in colours.items():
        assert _has_colour(image, colour), f"no {method} curve ({colour}) in the return figure"
    page = report.html.read_text()
    assert "APV" in page and "Iso-Dream" in page
    # A figure without the APV run has no APV colour: the check above can fail.
    without = build_report([run for run in runs if run.name != "apv"], tmp_path / "out2")
    assert not _has_colour(np.asarray(iio.imread(without.figures["eval_return"])), colours["apv"])
