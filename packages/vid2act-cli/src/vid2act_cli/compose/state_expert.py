"""Stage a of `teachers add` for DeepMind Control: the cached SAC state expert (trained if missing).

The expert is the task's seed-0 expert under `$VID2ACT_HOME/experts/<task>/`, shared by every
teacher of that task and by `vid2act experts collect`; `--expert-steps` sets its budget in agent
steps (default per task, see docs/experts.md). `--expert dreamer` keeps the pixel DreamerV2 agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vid2act_cli.compose.reporter import Reporter

STATE_EXPERT = "state"
DREAMER_EXPERT = "dreamer"
EXPERT_KINDS: tuple[str, ...] = (STATE_EXPERT, DREAMER_EXPERT)
STATE_EXPERT_DOMAINS: tuple[str, ...] = ("dmc",)
"""Domains whose tasks have a state-based expert trainer."""


def ensure_state_expert(spec: Any, steps: int | None, home: Path, reporter: Reporter) -> tuple[Any, Any]:
    """(policy acting from obs["state"], ExpertMetadata) of the task's expert, trained when missing."""
    from vid2act_teachers.experts import default_steps, expert_dir, load_expert, train_expert
    from vid2act_teachers.experts.store import read_metadata

    total = default_steps(spec.task) if steps is None else int(steps)
    if total < 1:
        raise ValueError(f"--expert-steps must be >= 1, got {total}")
    directory = expert_dir(home, spec.task)
    cached = read_metadata(directory)
    if cached is None or cached.agent_steps < total:
        # Training takes minutes to hours: say so before it starts, not only when it is done.
        reporter.say(f"[1/4] expert: training SAC from state on {spec.task} for {total} agent steps "
                     f"(kept in {directory} for reuse; re-running resumes it)")
    with reporter.progress(f"expert {spec.task}", total) as bar:
        result = train_expert(
            spec.task, home, steps=total,
            on_progress=lambda done, _, recent: bar.update(done, "" if recent is None else f"return {recent:.0f}"),
        )
    meta = result.metadata
    how = "cached" if result.reused else "trained"
    reporter.say(
        f"[1/4] expert: SAC from state ({how}), {meta.agent_steps} agent steps, "
        f"eval return {meta.eval_mean:.1f} ± {meta.eval_std:.1f}, sha256 {meta.sha256[:12]}"
    )
    policy, meta = load_expert(result.directory)
    return policy, meta
