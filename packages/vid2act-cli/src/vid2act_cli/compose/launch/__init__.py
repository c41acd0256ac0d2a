"""Launch an experiment's jobs through submitit (Slurm or local processes), record them, report their state.

- `runner`: the submitted callable, one `vid2act` command, requeued on preemption;
- `executors`: launcher options, thread budgets, the submitit executors;
- `records`: `jobs.json` (the plan and every submission) in the experiment directory;
- `status`: done / running / failed (with the last error line) / missing per job;
- `submit`: submit what is neither done nor running (`launch`), or show it (`dry_run`);
- `local`: `run_jobs`, the local launch for callers that go on only when every job is done (demo, probe).
"""

from vid2act_cli.compose.launch.executors import LaunchOptions, parse_time
from vid2act_cli.compose.launch.local import JobFailedError, default_slots, run_jobs
from vid2act_cli.compose.launch.records import JobsFileError
from vid2act_cli.compose.launch.status import STATES, JobStatus, experiment_status
from vid2act_cli.compose.launch.submit import LaunchResult, dry_run, launch

__all__ = ["STATES", "JobFailedError", "JobStatus", "JobsFileError", "LaunchOptions", "LaunchResult", "default_slots", "dry_run",
           "experiment_status", "launch", "parse_time", "run_jobs"]
