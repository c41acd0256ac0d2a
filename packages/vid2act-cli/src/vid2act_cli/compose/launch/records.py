"""`jobs.json` in an experiment directory: the experiment's jobs and which launcher job runs each.

It holds the plan (every job's command, done file and prerequisites, so `vid2act experiment
status DIR` needs nothing but the directory) and one record per submitted job. Only the launching
process writes it (atomically); the jobs never touch it, so concurrent jobs cannot corrupt it.
A record is replaced each time its job is submitted again.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vid2act_core.runtime.fileio import atomic_write_text

from vid2act_cli.experiments import Job

JOBS_FILE = "jobs.json"
FORMAT_VERSION = 1
SUBMITIT_DIR = "submitit"
LOGS_DIR = "logs"


class JobsFileError(ValueError):
    """jobs.json is unreadable or not in the expected format."""


@dataclass(frozen=True)
class JobRecord:
    """One submission of one experiment job."""

    label: str
    launcher: str
    """slurm or local."""
    job_id: str
    """The Slurm job id, or the pid of submitit's local job controller."""
    folder: str
    """submitit's folder for this submission (its pickles and its own logs)."""
    submitted_at: str
    log: str
    """The command's output (appended across attempts)."""
    submissions: int = 1
    """How many times this job has been submitted (1 = first)."""


def jobs_file(root: Path) -> Path:
    return Path(root) / JOBS_FILE


def log_path(root: Path, key: str) -> Path:
    """Where the output of the job with this key goes."""
    return Path(root) / LOGS_DIR / f"{key}.log"


@dataclass
class ExperimentFile:
    """The contents of jobs.json."""

    experiment: str
    plan: list[Job]
    records: dict[str, JobRecord] = field(default_factory=dict)
    """By job key."""


def _job_to_dict(job: Job) -> dict[str, Any]:
    data = asdict(job)
    data["argv"], data["needs"], data["done_file"] = list(job.argv), list(job.needs), str(job.done_file)
    return data


def _job_from_dict(data: dict[str, Any]) -> Job:
    return Job(**dict(data, argv=tuple(data["argv"]), needs=tuple(data["needs"]), done_file=Path(data["done_file"])))


def read_experiment(root: Path) -> ExperimentFile | None:
    """jobs.json of `root`; None if there is none, JobsFileError naming the file if it is corrupt."""
    path = jobs_file(root)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT_VERSION:
            raise JobsFileError(f"{path}: format {data.get('format')!r}, expected {FORMAT_VERSION}")
        return ExperimentFile(
            experiment=str(data["experiment"]), plan=[_job_from_dict(item) for item in data["plan"]],
            records={key: JobRecord(**value) for key, value in data["jobs"].items()},
        )
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as error:
        raise JobsFileError(f"{path}: not a vid2act jobs file ({type(error).__name__}: {error})") from None


def write_experiment(root: Path, contents: ExperimentFile) -> None:
    data = {
        "format": FORMAT_VERSION, "experiment": contents.experiment, "plan": [_job_to_dict(job) for job in contents.plan],
        "jobs": {key: asdict(record) for key, record in sorted(contents.records.items())},
    }
    atomic_write_text(jobs_file(root), json.dumps(data, indent=2) + "\n")


def new_record(label: str, launcher: str, job_id: str, folder: Path, log: Path, previous: JobRecord | None) -> JobRecord:
    return JobRecord(label=label, launcher=launcher, job_id=str(job_id), folder=str(folder),
                     submitted_at=time.strftime("%Y-%m-%dT%H:%M:%S"), log=str(log),
                     submissions=(previous.submissions + 1) if previous else 1)
