"""Slurm, as the fleet executor needs it: submit a Python call as an exclusive job (submitit),
read a job's state and reason, cancel it.

submitit submits and, where the call returns, brings its result back. It learns a job's state
from ``sacct``, which a cluster without an accounting database does not have: it then calls
every job UNKNOWN and waits forever on one that was cancelled, killed or timed out. So the
state comes from ``scontrol show job`` while slurmctld holds the job (MinJobAge, 300 s by
default, after it ends), then from ``sacct`` (the accounting database, or with ``-c`` the
job-completion log of a cluster that keeps one).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Slurm's states a job does not leave (squeue --help, "JOB STATE CODES").
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
        "LOST",  # not Slurm's: what the fleet records for a job Slurm stopped knowing
    }
)
_KEY = re.compile(r"\s(?=[A-Za-z][A-Za-z0-9_:/]*=)")  # where the next Key= of `scontrol -o` starts


class SlurmError(RuntimeError):
    """Slurm refused a job, or cannot be reached: its own message, one line."""


@dataclasses.dataclass(frozen=True)
class SlurmSettings:
    """What each job asks Slurm for. ``time_min`` is the job's time limit in minutes."""

    partition: str | None = None
    account: str | None = None
    time_min: int = 60
    constraint: str | None = None
    nodelist: str | None = None

    def submitit_parameters(self) -> dict[str, Any]:
        """The parameters of ``submitit.AutoExecutor.update_parameters`` for one job."""
        parameters: dict[str, Any] = {
            "timeout_min": self.time_min,
            "slurm_exclusive": True,  # the machine to itself: no other job on its cores
            "nodes": 1,
            "tasks_per_node": 1,
            "name": "inference-bench",
            # Python in the batch script itself, with the whole allocation: an srun step would
            # be bound to the one CPU of its one task, and the runners could not be pinned.
            "slurm_use_srun": False,
            # The submitting directory, said outright: Slurm would run the job in /tmp,
            # silently, on a node where it is missing. All the node's memory: the machine's.
            "slurm_additional_parameters": {"chdir": os.getcwd(), "mem": "0"},
        }
        for key in ("partition", "account", "constraint", "nodelist"):
            value = getattr(self, key)
            if value is not None:
                parameters[f"slurm_{key}"] = value
        return parameters


@dataclasses.dataclass(frozen=True)
class JobState:
    """A job as Slurm last reported it. ``state`` is Slurm's (PENDING, RUNNING, COMPLETED,
    FAILED, CANCELLED, TIMEOUT, ...); ``reason`` its reason (None when it gives none);
    ``exit_code`` ``exit:signal`` of the job script; ``node`` where it runs or ran."""

    state: str
    reason: str | None = None
    exit_code: str | None = None
    node: str | None = None
    elapsed: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def submit(function: Callable[..., Any], args: tuple[Any, ...], settings: SlurmSettings, folder: Path) -> str:
    """Submit ``function(*args)`` as one exclusive job; its id. Logs and pickles go in ``folder``
    (use a fresh one per run: Slurm reuses job ids after its state is reset)."""
    import submitit  # only the Slurm executor needs it

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(**settings.submitit_parameters())
    try:
        job = executor.submit(function, *args)
    except (submitit.core.utils.FailedJobError, OSError) as exc:
        raise SlurmError(_last_line(str(exc)) or type(exc).__name__) from exc
    return str(job.job_id)


def job_state(job_id: str) -> JobState | None:
    """The job's state from scontrol, else from sacct; None when neither knows the job."""
    return job_states([job_id]).get(job_id)


def job_states(job_ids: list[str]) -> dict[str, JobState]:
    """The states of the jobs Slurm knows, by id: scontrol while slurmctld holds a job, then
    sacct (one call per job: a fleet is a handful of machines)."""
    found: dict[str, JobState] = {}
    for job_id in job_ids:
        lines = _run(["scontrol", "show", "job", "-o", job_id])
        state = parse_scontrol_line(lines[0])[1] if lines else None
        state = state or _from_sacct(job_id, ["sacct"]) or _from_sacct(job_id, ["sacct", "-c"])
        if state is not None:
            found[job_id] = state
    return found


def cancel(job_id: str) -> None:
    """Ask Slurm to cancel the job (a no-op for a job that has ended)."""
    subprocess.run(["scancel", job_id], capture_output=True, text=True, timeout=30)


def parse_scontrol_line(line: str) -> tuple[str | None, JobState]:
    """(JobId, state) of one line of ``scontrol show job -o``."""
    values = {
        key: value.strip()
        for key, value in (item.split("=", 1) for item in _KEY.split(" " + line) if "=" in item)
    }
    node = values.get("NodeList")
    return values.get("JobId"), JobState(
        state=values.get("JobState", "UNKNOWN"),
        reason=None if values.get("Reason") in (None, "None") else values["Reason"],
        exit_code=values.get("ExitCode"),
        node=None if node in (None, "(null)", "") else node,
        elapsed=values.get("RunTime"),
    )


def _from_sacct(job_id: str, command: list[str]) -> JobState | None:
    return parse_sacct_lines(
        job_id,
        _run([*command, "-X", "-n", "-P", "-j", job_id, "-o", "JobID,State,ExitCode,NodeList,Elapsed"]),
    )


def parse_sacct_lines(job_id: str, lines: list[str]) -> JobState | None:
    """The job's state in ``sacct -X -n -P -o JobID,State,ExitCode,NodeList,Elapsed`` output."""
    for line in lines:
        parts = line.split("|")
        if len(parts) == 5 and parts[0] == job_id:
            # sacct writes "CANCELLED by 0": the state is the first word
            state, _, by = parts[1].partition(" ")
            return JobState(state, by or None, parts[2] or None, parts[3] or None, parts[4] or None)
    return None


def _run(command: list[str]) -> list[str]:
    """The command's non-empty output lines; none when it fails or is missing."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    return [line for line in proc.stdout.splitlines() if line.strip()]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
