"""A run directory keeps its transfer plan (`run_info`) and `evaluate` rebuilds the agent from it
(`plan_of_run`): the same teachers, source datasets and replay sets; `init_from` only where the
method builds its agent from a video model's architecture."""

from __future__ import annotations

from pathlib import Path

from vid2act_cli.compose.transfer import PINS_KEY, TransferPlan, plan_of_run, run_info


def _saved(plan: TransferPlan) -> dict:
    return {"method": plan.method, **run_info(plan, {"t1": "abc"})}


def test_a_vid2act_plan_round_trips_through_the_run_section(tmp_path: Path) -> None:
    plan = TransferPlan(method="vid2act", teacher_names=["t1", "t2"], source_data={"t2": tmp_path / "t2.h5"},
                        replay_sets=["t1"])
    saved = _saved(plan)
    assert saved[PINS_KEY] == {"t1": "abc"} and saved["source_data"] == {"t2": str(tmp_path / "t2.h5")}
    rebuilt = plan_of_run(saved)
    assert (rebuilt.method, rebuilt.teacher_names, rebuilt.source_data, rebuilt.replay_sets, rebuilt.init_from) == \
        ("vid2act", ["t1", "t2"], {"t2": tmp_path / "t2.h5"}, ["t1"], None)


def test_init_from_is_kept_for_a_video_model_method_only() -> None:
    assert plan_of_run(_saved(TransferPlan(method="init", init_from="walker_walk"))).init_from is None
    assert plan_of_run(_saved(TransferPlan(method="apv", init_from="apv_video"))).init_from == "apv_video"


def test_a_dreamer_run_has_no_teachers_and_an_unknown_method_keeps_nothing_extra() -> None:
    assert plan_of_run({"method": "dreamer"}) == TransferPlan(method="dreamer")
    assert plan_of_run({"method": "someone-elses", "init_from": "x"}).init_from is None
