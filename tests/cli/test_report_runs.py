"""`vid2act report` on small real runs: PNG figures, an HTML page that holds them, partial runs, bad paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from pretrained_teachers import TeacherStore

from vid2act_cli.report import aggregate, build_report, load_run, NotARunError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRANSFER = [sys.executable, "-m", "vid2act_cli.app", "transfer", "--target", "cartpole_balance", "--preset", "tiny",
            "--device", "cpu", "--no-progress", "--steps", "160", "--set", "train.eval_every=60"]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, VID2ACT_HOME=str(home))
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="module")
def two_runs(pretrained_teachers: TeacherStore, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A Vid2Act transfer run (2 teachers pretrained for 60 steps) and a --no-distill run on cartpole_balance, trained side by side."""
    root = tmp_path_factory.mktemp("report_runs")
    home = root / "home"
    pretrained_teachers.install(home, {"swingup_src": "cartpole_swingup", "balance_src": "cartpole_balance"})
    vid2act, dreamer = root / "vid2act", root / "dreamer"
    processes = [
        subprocess.Popen(TRANSFER + ["--teachers", "swingup_src,balance_src", "--logdir", str(vid2act)], env=_env(home),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        subprocess.Popen(TRANSFER + ["--no-distill", "--logdir", str(dreamer)], env=_env(home),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
    ]
    for process in processes:
        output, _ = process.communicate(timeout=500)
        assert process.returncode == 0, output[-3000:]
    return vid2act, dreamer


def _report(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vid2act_cli.app", "report", *args], env=_env(Path(os.environ["VID2ACT_HOME"])),
                          capture_output=True, text=True, timeout=300)


def test_report_writes_non_empty_pngs_and_an_html_page_that_holds_them(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    vid2act, dreamer = two_runs
    out = tmp_path / "report"
    result = _report([str(vid2act), str(dreamer), "--out", str(out)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"report: {out / 'index.html'}" in result.stdout
    assert "cartpole_balance vid2act" in result.stdout and "dominant teacher" in result.stdout
    pngs = sorted(out.glob("*.png"))
    names = {png.name for png in pngs}
    for expected in ("eval_return.png", "task_weights.png", "selected_teacher.png", "selected_over_time.png", "model_loss.png",
                     "open_loop_dmc_cartpole_balance_vid2act.png", "open_loop_dmc_cartpole_balance_dreamer.png"):
        assert expected in names, sorted(names)
    page = (out / "index.html").read_text()
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, png
        image = iio.imread(png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert np.asarray(image)[..., :3].std() > 1  # not a blank canvas
        assert f'href="{png.name}"' in page
    assert page.count("data:image/png;base64,") == len(pngs)  # embedded: the page stands alone
    assert "Vid2Act" in page and "DreamerV2" in page and "swingup_src" in page
    summary = json.loads((out / "summary.json").read_text())
    rows = {row["method"]: row for row in summary["rows"]}
    assert set(rows) == {"vid2act", "dreamer"}
    # The dominant teacher is the one with the largest mean task weight over the last quarter of the
    # run's logged weights, recomputed here from metrics.jsonl (the two means differ, so a wrong pick fails).
    records = [json.loads(line) for line in (vid2act / "metrics.jsonl").read_text().splitlines()]
    weight_rows = [r for r in records if "losses/weight/swingup_src" in r]
    tail = weight_rows[-max(1, len(weight_rows) // 4):]
    means = {name: float(np.mean([r[f"losses/weight/{name}"] for r in tail])) for name in ("swingup_src", "balance_src")}
    assert means["swingup_src"] != means["balance_src"]
    expected = max(means, key=means.get)
    assert rows["vid2act"]["dominant_teacher"] == expected
    assert rows["vid2act"]["dominant_weight"] == pytest.approx(means[expected])
    assert f"dominant teacher {expected}" in result.stdout
    assert len(rows["dreamer"]["last_eval_return"]) == 1 and rows["dreamer"]["env_steps"] >= 160


def test_runs_group_by_method_with_seeds_and_partial_runs_are_noted(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    vid2act, dreamer = two_runs
    # A second "seed" of the baseline, stopped early: no DONE marker, no evaluations, metrics cut at 80 steps.
    partial = tmp_path / "dreamer_seed1"
    shutil.copytree(dreamer, partial)
    (partial / "DONE").unlink()
    config_text = (partial / "config.yaml").read_text().replace("\nseed: 0\n", "\nseed: 1\n")
    (partial / "config.yaml").write_text(config_text)
    kept = [line for line in (partial / "metrics.jsonl").read_text().splitlines()
            if json.loads(line)["step"] <= 80 and not any(key.startswith("eval/") for key in json.loads(line))]
    (partial / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    report = build_report([vid2act, dreamer, partial], tmp_path / "out")
    rows = {row["method"]: row for row in report.rows}
    assert rows["dreamer"]["seeds"] == 2 and rows["dreamer"]["done"] == 1 and rows["dreamer"]["env_steps"] <= 80
    assert any("no evaluations yet" in note and str(partial) in note for note in report.notes)
    assert any("unfinished" in note and str(partial) in note for note in report.notes)
    page = report.html.read_text()
    assert "no evaluations yet" in page and report.figures["eval_return"].stat().st_size > 5_000


def test_aggregate_takes_mean_and_std_over_seeds_on_a_common_grid() -> None:
    a = (np.array([0.0, 100.0, 200.0]), np.array([0.0, 10.0, 20.0]))
    b = (np.array([0.0, 100.0]), np.array([2.0, 14.0]))  # a partial seed: stops at 100
    grid, mean, std, count = aggregate([a, b])
    assert grid.tolist() == [0.0, 100.0, 200.0]
    assert mean.tolist() == [1.0, 12.0, 20.0] and std.tolist() == [1.0, 2.0, 0.0] and count.tolist() == [2, 2, 1]
    c = (np.array([50.0, 150.0]), np.array([5.0, 15.0]))
    grid, mean, _, count = aggregate([a, c])
    assert grid.tolist() == [0.0, 50.0, 100.0, 150.0, 200.0]
    assert mean.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0] and count.tolist() == [1, 2, 2, 2, 1]
    assert aggregate([])[0].size == 0


def test_a_directory_that_is_not_a_run_is_one_line_error(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    result = _report([str(two_runs[0]), str(empty), "--out", str(tmp_path / "out")])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(empty) in lines[0] and "not a vid2act run directory" in lines[0]
    missing = _report([str(tmp_path / "nowhere")])
    assert missing.returncode == 2 and "nowhere" in missing.stderr and "Traceback" not in missing.stderr
    with pytest.raises(NotARunError, match="not_a_run"):
        load_run(empty)


def test_an_experiment_directory_stands_for_its_started_runs(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    vid2act, dreamer = two_runs
    experiment = tmp_path / "experiment"
    shutil.copytree(vid2act, experiment / "runs" / "cartpole_balance-vid2act-0")
    shutil.copytree(dreamer, experiment / "runs" / "cartpole_balance-dreamer-0")
    (experiment / "runs" / "cartpole_balance-dreamer-1").mkdir()  # submitted, not started
    report = build_report([experiment], tmp_path / "out")
    assert {(row["method"], row["seeds"]) for row in report.rows} == {("vid2act", 1), ("dreamer", 1)}
    assert any("cartpole_balance-dreamer-1" in note and "not started" in note for note in report.notes)
    empty = tmp_path / "empty_experiment"
    (empty / "runs").mkdir(parents=True)
    with pytest.raises(NotARunError, match="empty_experiment.*without a started run"):
        build_report([empty], tmp_path / "out2")


def test_selected_over_time_draws_each_teacher_and_the_within_episode_switch_rate(
        two_runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vid2act_cli.report import group_runs, plots

    drawn: list[tuple[str, np.ndarray]] = []
    original = plots._band

    def record(axis, grid, mean, std, color, label):  # type: ignore[no-untyped-def]
        drawn.append((label, mean))
        return original(axis, grid, mean, std, color, label)

    monkeypatch.setattr(plots, "_band", record)
    vid2act, _ = two_runs
    path = plots.plot_selected_over_time(group_runs([load_run(vid2act)]), tmp_path / "selected_over_time.png")
    assert path is not None and path.read_bytes().startswith(PNG_MAGIC)
    labels = [label for label, _ in drawn]
    assert labels == ["swingup_src", "balance_src", "k changed within an episode"], labels
    switch_rate = drawn[-1][1]
    assert len(switch_rate) and np.all((switch_rate >= 0) & (switch_rate <= 1))
