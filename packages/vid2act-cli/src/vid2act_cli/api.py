"""The Python front door: one typed function per command, each taking one frozen request.

A notebook or a cluster job calls these instead of the ~30 composition modules; the Typer
commands in `commands/` only parse options into a request, call the function here and print.
The functions live in `vid2act_cli.front` by kind of work (`runs`, `teachers`, `experts`, `studies`, `grids`)
and are imported from here. Those modules import the composition layer (and so torch) at module level;
the commands import this module only inside their functions, so that `vid2act --help` stays fast.

    from vid2act_cli import api
    result = api.train(api.TrainRequest(task="cartpole_balance", preset="tiny", steps=200, device="cpu"))

Invalid fields raise a one-line ValueError naming the option (`--steps: ...`), the same text the
command prints after `error:`.
"""

from __future__ import annotations

from vid2act_cli.front.experts import (
    CollectExpertRequest, CollectExpertResult, EvaluateExpertRequest, EvaluateExpertResult, ExpertEntry, ExpertResult,
    ListExpertsRequest, ListExpertsResult, TrainExpertRequest, collect_expert, evaluate_expert, list_experts, train_expert,
)
from vid2act_cli.front.grids import (
    ExperimentStatusRequest, ExperimentStatusResult, JobState, LaunchRequest, LaunchResult, experiment_status, launch,
)
from vid2act_cli.front.runs import (
    EvaluateRequest, EvaluateResult, TrainRequest, TrainResult, TransferRequest, TransferResult, evaluate, train,
    transfer,
)
from vid2act_cli.front.studies import (
    DemoRequest, DemoResult, ProbeRequest, ProbeResult, ReportRequest, ReportResult, StageFailedError, demo, probe,
    report,
)
from vid2act_cli.front.teachers import (
    AddTeacherRequest, AttachDataRequest, AttachDataResult, CollectRequest, CollectResult, PretrainRequest, TeacherResult,
    add_teacher, attach_data, collect, pretrain,
)

__all__ = [
    "AddTeacherRequest", "AttachDataRequest", "AttachDataResult", "CollectExpertRequest", "CollectExpertResult",
    "CollectRequest", "CollectResult", "DemoRequest", "DemoResult", "EvaluateExpertRequest", "EvaluateExpertResult",
    "EvaluateRequest", "EvaluateResult", "ExperimentStatusRequest", "ExperimentStatusResult", "ExpertEntry",
    "ExpertResult", "JobState", "LaunchRequest", "LaunchResult", "ListExpertsRequest", "ListExpertsResult",
    "PretrainRequest", "ProbeRequest", "ProbeResult", "ReportRequest", "ReportResult", "StageFailedError",
    "TeacherResult", "TrainExpertRequest", "TrainRequest", "TrainResult", "TransferRequest", "TransferResult",
    "add_teacher", "attach_data", "collect", "collect_expert", "demo", "evaluate", "evaluate_expert",
    "experiment_status", "launch", "list_experts", "pretrain", "probe", "report", "train", "train_expert",
    "transfer",
]
