"""`vid2act probe`: the offline dynamics-transfer probe, one resumable grid of (budget, configuration, seed, order) cells.

Every cell trains a fresh student world model offline on the first `train_episodes` episodes of the
target dataset for a fixed number of updates (`vid2act_core.probe`), then measures it on the last
`eval_episodes` (never trained on, the same for every budget). A budget is one (updates,
train episodes) pair; `--updates 160,640 --train-episodes 1,5` gives four. A cell's result is
written atomically to `OUT/cells/<budget>/<cell>.json`; a re-run skips the cells already there, so an
interrupted probe continues where it stopped. The settings that decide a cell's result are kept in
`OUT/probe.json`; a re-run with other settings is refused (budgets, seeds, configurations, controls
and orders may be added: they only add cells). At the end: `results.json`, `table.md`, `errors.png`,
`weights.png` and (where the student reports diagnostics) `diagnostics.png` over every finished cell.

Configurations: `none` (no distillation); `all-<scorer>` (every teacher, learned W, one per
scorer, f_distill kind and distillation form); `related` (the related teacher alone, so W = 1);
`unrelated` (the other teachers, learned W with the first scorer); `uniform` (every teacher,
W = 1/N); each distilled one also at every other `--alphas` value (`<config>-alpha<a>`). Orders:
`given` (teachers as listed) and `rotated` (each teacher moved one place: b, c, a), only for
configurations with 2 or more teachers; a selection that follows the position or the
initialisation rather than the task shows up as a difference between the two.

Controls (`--controls`): `mean-image` and `last-frame` (predictors that train nothing), `teacher`
(the related teacher's own zero-shot prediction, images only), `init` (a student started from the
related teacher's weights, no distillation), and with `--oracle NAME` the same two for a teacher
pretrained on other episodes of the target (`oracle-teacher`, `oracle-init`). Predictor controls
are deterministic and run one seed.

The modules: `plan` (the grid: the request, its budgets, configurations, controls and cells, and the spec
that decides whether finished cells can be reused), `data` (the inputs: named target/teacher pairs, the
target episodes split, the teachers' features), `run` (running the cells, in one process or side by side)
and `report` (the summary over the finished cells).
"""

from vid2act_cli.compose.probe.plan import (
    ADDITIVE_KEYS,
    CONFIGURATIONS,
    CONTROLS,
    DEFAULT_FORMS,
    DEFAULT_SCORERS,
    ORDERS,
    SPEC_FILE,
    SPEC_FORMAT,
    ProbeBudget,
    ProbeCell,
    ProbeOutcome,
    ProbeRequest,
    cell_path,
    check_spec,
    plan_cells,
    plan_controls,
    plan_variants,
    result_spec,
    teacher_columns,
)
from vid2act_cli.compose.probe.run import build_cell_student, cell_predictor, deal_cells, plan_cell_jobs, run_probe

__all__ = ["ADDITIVE_KEYS", "CONFIGURATIONS", "CONTROLS", "DEFAULT_FORMS", "DEFAULT_SCORERS", "ORDERS", "SPEC_FILE", "SPEC_FORMAT",
           "ProbeBudget", "ProbeCell", "ProbeOutcome", "ProbeRequest", "build_cell_student", "cell_path", "cell_predictor",
           "check_spec", "deal_cells", "plan_cell_jobs", "plan_cells", "plan_controls", "plan_variants", "result_spec", "run_probe",
           "teacher_columns"]
