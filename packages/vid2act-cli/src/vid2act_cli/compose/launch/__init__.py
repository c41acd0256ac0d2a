"""Launch an experiment's jobs through submitit (Slurm or local processes), record them, report their state.

- `runner`: the submitted callable, one `vid2act` command, requeued on preemption;
- `executors`: launcher options, thread budgets, the submitit executors;
- `records`: `jobs.json` (the plan and every submission) in the experiment directory;
- `status`: done / running / failed (with the last error line) / missing per job;
- `submit`: submit what is neither done nor running (`launch`), or show it (`dry_run`).
"""

from vid2act_cli.compose.launch.executors import LaunchOptions, parse_time
from vid2act_cli.compose.launch.records import JobsFileError
from vid2act_cli.compose.launch.status import STATES, JobStatus, experiment_status
from vid2act_cli.compose.launch.submit import LaunchResult, dry_run, launch

__all__ = ["STATES", "JobStatus", "JobsFileError", "LaunchOptions", "LaunchResult", "dry_run", "experiment_status",
           "launch", "parse_time"]
