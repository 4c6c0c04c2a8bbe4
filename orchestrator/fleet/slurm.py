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


class CommandFailed(Exception):
    """scontrol or sacct did not answer (missing, timed out, or an error that is not "no such
    job"): nothing is known about the job, least of all that Slurm forgot it."""


@dataclasses.dataclass(frozen=True)
class Survey:
    """What one round of asking Slurm found: the state of each job it knows, and for each job
    it could not be asked about, why (one line). A job in neither is one Slurm does not know."""

    states: dict[str, JobState]
    failures: dict[str, str]


def job_state(job_id: str) -> JobState | None:
    """The job's state from scontrol, else from sacct; None when neither knows the job.
    Raises :class:`CommandFailed` when they could not be asked."""
    survey = job_states([job_id])
    if job_id in survey.failures:
        raise CommandFailed(survey.failures[job_id])
    return survey.states.get(job_id)


def job_states(job_ids: list[str]) -> Survey:
    """The states of the jobs Slurm knows, by id: scontrol while slurmctld holds a job, then
    sacct (one call per job: a fleet is a handful of machines). A job whose commands failed is
    in ``failures``, never reported as unknown."""
    found: dict[str, JobState] = {}
    failures: dict[str, str] = {}
    for job_id in job_ids:
        try:
            state = _ask(job_id)
        except CommandFailed as exc:
            failures[job_id] = str(exc)
            continue
        if state is not None:
            found[job_id] = state
    return Survey(found, failures)


def _ask(job_id: str) -> JobState | None:
    """scontrol's word on the job, else sacct's, else the job-completion log's; None only when
    each of them answered that it does not know the job (or keeps no such records)."""
    lines = _run(["scontrol", "show", "job", "-o", job_id], _SCONTROL_UNKNOWN)
    state = parse_scontrol_line(lines[0])[1] if lines else None
    return state or _from_sacct(job_id, ["sacct"]) or _from_sacct(job_id, ["sacct", "-c"])


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
        _run(
            [*command, "-X", "-n", "-P", "-j", job_id, "-o", "JobID,State,ExitCode,NodeList,Elapsed"],
            _SACCT_UNAVAILABLE,
        ),
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


# How long one scontrol or sacct call may take before it counts as failed.
COMMAND_TIMEOUT_S = 30.0
# A non-zero exit that is an answer, not a failure: scontrol does not know the job (it left
# slurmctld, MinJobAge after it ended) ...
_SCONTROL_UNKNOWN = ("Invalid job id specified",)
# ... or sacct keeps no records here (no accounting database): it cannot know any job.
_SACCT_UNAVAILABLE = ("accounting storage is disabled",)


def _run(command: list[str], answers: tuple[str, ...]) -> list[str]:
    """The command's non-empty output lines; none when it exits non-zero with one of the
    ``answers`` in its message (it does not know the job). Raises :class:`CommandFailed`,
    with the command and its error in one line, when it is missing, times out or fails otherwise."""
    name = command[0] + (" -c" if "-c" in command else "")  # scontrol | sacct | sacct -c
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"{name}: no answer in {COMMAND_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise CommandFailed(f"{name}: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        said = _last_line(proc.stderr) or _last_line(proc.stdout)
        if any(answer in said for answer in answers):
            return []
        raise CommandFailed(f"{name}: exit {proc.returncode}: {said or 'no message'}")
    return [line for line in proc.stdout.splitlines() if line.strip()]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
