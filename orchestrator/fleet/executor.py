"""The Slurm executor: the plan on many machines, one exclusive job per machine, each running
the ordinary isolated plan there into a shared output directory.

Layout under ``--output``::

    fleet-<stamp>-<hex>/
        fleet.json                 the jobs: machine, Slurm job id, state, reason, run directory
        slurm/                     submitit's job scripts and each job's stdout/stderr
        runs/<machine>/<run_id>/   each machine's run, exactly as a local run writes it
        machines.md, machines.png  the cross-machine report, when the jobs have ended

A machine is what a job asks Slurm for: a node of ``--slurm-nodelist`` (a Slurm host list,
one job per host), an entry of ``--slurm-constraint`` (one job per comma-separated entry;
an entry may use Slurm's own ``&`` and ``|``), or, with neither, any node of the partition.
The parent submits, follows each job's state through :mod:`orchestrator.fleet.slurm` (queued,
running with its cells finished, done, failed with Slurm's reason) and, once every job has
ended, writes the report. A job that fails, is cancelled or times out keeps whatever its run
wrote, and never costs the other machines theirs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator.fleet import slurm
from orchestrator.fleet.machines import MachineRun, machines_tables, read_machine_runs, write_machines_report
from schemas import files

POLL_S = 2.0  # how often Slurm is asked (one scontrol call for all the jobs)
LOST_AFTER_S = 300.0  # Slurm not knowing a job this long (a controller restarting, a purged job): lost
STATUS_FILE = "exit-status.json"  # the job's orchestrator exit status, beside its run directory
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass
class FleetJob:
    """One machine's job as the parent follows it."""

    machine: str
    settings: slurm.SlurmSettings
    output: Path
    job_id: str | None = None
    state: slurm.JobState | None = None
    error: str | None = None  # why it did not run or did not end well, in one line
    cells_done: int = 0
    cells_total: int | None = None
    unknown_since: float | None = None  # when Slurm first said it does not know the job, in a row
    # Why Slurm could not be asked about the job at the last poll (scontrol/sacct failed); None
    # once it answers again. A failed command says nothing about the job: it is asked again.
    unreachable: str | None = None

    @property
    def phase(self) -> str:
        """queued | running | done | failed, or Slurm's own state (lower case) for a job held
        between them (suspended, requeue-held ...)."""
        if self.job_id is None:
            return "failed"
        if self.state is None or self.state.state in ("PENDING", "CONFIGURING", "REQUEUED"):
            return "queued"
        if self.state.state in ("RUNNING", "COMPLETING"):
            return "running"
        if self.state.state == "COMPLETED" and self.error is None:
            return "done"
        if not self.state.final:
            return self.state.state.lower()
        return "failed"

    def shown(self) -> tuple[Any, ...]:
        """What a line of progress says: a change of it is worth a line (elapsed time is not)."""
        return (
            self.phase,
            self.state and self.state.node,
            self.cells_done,
            self.cells_total,
            self.error,
            self.unreachable,
        )

    @property
    def log_dir(self) -> Path:
        """submitit's folder: ``<fleet>/slurm/``, beside ``<fleet>/runs/``."""
        return self.output.parent.parent / "slurm"

    @property
    def ended(self) -> bool:
        return self.job_id is None or (self.state is not None and self.state.final)

    def run_dirs(self) -> list[Path]:
        """The run directories this job's run wrote (normally one)."""
        return sorted(path.parent for path in self.output.glob("*/plan.json"))

    def to_dict(self) -> dict[str, Any]:
        state = self.state
        return {
            "machine": self.machine,
            "job_id": self.job_id,
            "phase": self.phase,
            "slurm_state": None if state is None else state.state,
            "reason": None if state is None else state.reason,
            "exit_code": None if state is None else state.exit_code,
            "node": None if state is None else state.node,
            "elapsed": None if state is None else state.elapsed,
            "error": self.error,
            "slurm_unreachable": self.unreachable,
            "output": str(self.output),
            "run_dirs": [str(path) for path in self.run_dirs()],
            "cells_done": self.cells_done,
            "cells_total": self.cells_total,
        }


def split_machines(settings: slurm.SlurmSettings) -> list[tuple[str, slurm.SlurmSettings]]:
    """One (machine label, job settings) per machine asked for."""
    if settings.nodelist is not None and settings.constraint is not None:
        raise ValueError("--slurm-nodelist and --slurm-constraint: give one of them, not both")
    if settings.nodelist is not None:
        nodes = _hostnames(settings.nodelist)
        return [(node, dataclasses.replace(settings, nodelist=node)) for node in nodes]
    if settings.constraint is not None:
        entries = [entry.strip() for entry in settings.constraint.split(",") if entry.strip()]
        if not entries or len(set(entries)) != len(entries):
            raise ValueError(f"--slurm-constraint: expected distinct entries, got {settings.constraint!r}")
        return [(entry, dataclasses.replace(settings, constraint=entry)) for entry in entries]
    return [(settings.partition or "any", settings)]


def _hostnames(nodelist: str) -> list[str]:
    """A Slurm host list (``node[1-3],gpu7``) as host names, as Slurm expands it."""
    try:
        proc = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"--slurm-nodelist: cannot expand {nodelist!r} with scontrol: {exc}") from exc
    names = list(dict.fromkeys(proc.stdout.split()))
    if proc.returncode != 0 or not names:
        raise ValueError(f"--slurm-nodelist: scontrol cannot expand {nodelist!r}: {proc.stderr.strip()}")
    return names


def run_on_machine(argv: list[str], output: str) -> int:
    """What each job runs: the ordinary local, isolated plan into ``output``; its exit status.

    Raises (so that Slurm records the job FAILED, with this as the last line of its log) when
    the orchestrator refused the plan on this machine or was killed.
    """
    # A job ends at its time limit as Slurm ends it -- TIMEOUT, reason TimeLimit -- rather than
    # through the checkpoint signal submitit asks for, which would make it a FAILED job.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    command = [sys.executable, "-m", "orchestrator", *argv]
    command += ["--executor", "local", "--output", output, "--quiet"]
    last_error = ""
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # into the job's log as it comes; the last line kept for the reason
            sys.stderr.write(line)
            last_error = line.strip() or last_error
    status = proc.returncode
    Path(output).mkdir(parents=True, exist_ok=True)
    files.write_json({"exit_status": status}, Path(output) / STATUS_FILE)
    if status < 0:
        raise RuntimeError(f"the orchestrator was killed by signal {signal.Signals(-status).name}")
    if status == 2:
        raise RuntimeError(f"the orchestrator refused the plan on this machine: {last_error}")
    return status


class FleetDisplay:
    """Per job: machine, Slurm job id, phase, node, cells finished, elapsed, reason."""

    def __init__(self, jobs: list[FleetJob]) -> None:
        self._jobs = jobs

    def __rich__(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for header in ("machine", "job", "state", "node", "cells", "elapsed", "reason"):
            table.add_column(header, justify="right" if header in ("cells", "elapsed") else "left")
        for job in self._jobs:
            state = job.state
            cells = f"{job.cells_done}/{job.cells_total}" if job.cells_total else str(job.cells_done)
            table.add_row(
                job.machine,
                job.job_id or "-",
                job.phase + ("" if state is None or job.phase != "failed" else f" ({state.state})"),
                (state.node if state else None) or "-",
                cells,
                (state.elapsed if state else None) or "-",
                job.error
                or (f"Slurm could not be asked: {job.unreachable}" if job.unreachable else "")
                or (state.reason if state and state.reason else ""),
            )
        return table


def create_fleet_dir(output: Path) -> Path:
    """A new ``<output>/fleet-<UTC stamp>-<hex>/``, never an existing one; absolute, since
    the jobs write into it from wherever Slurm starts them."""
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    while True:
        path = output / (
            "fleet-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        )
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def run_fleet(
    argv: list[str],
    settings: slurm.SlurmSettings,
    output: Path,
    console: Console,
    quiet: bool,
    reference_machine: str | None = None,
    submit: Callable[..., str] = slurm.submit,
) -> int:
    """Submit the plan (``argv``: the command line, run as is on each machine), follow the jobs
    to their end and write the cross-machine report; the exit status (0 when every job ended
    COMPLETED with every cell ok, else the worst)."""
    fleet_dir = create_fleet_dir(output)
    jobs = [
        FleetJob(machine, job_settings, fleet_dir / "runs" / name)
        for (machine, job_settings), name in zip(split_machines(settings), _directory_names(settings))
    ]
    interrupted = _Interruption()
    try:
        with interrupted.handling():
            for job in jobs:
                try:
                    job.job_id = submit(
                        run_on_machine, (argv, str(job.output)), job.settings, fleet_dir / "slurm"
                    )
                except slurm.SlurmError as exc:
                    job.error = f"not submitted: {exc}"
                if not quiet:
                    console.print(
                        f"{job.machine}: " + (f"Slurm job {job.job_id}" if job.job_id else str(job.error))
                    )
                _write(fleet_dir, jobs)
            if not quiet:
                console.print(f"fleet: {fleet_dir}")
            _follow(jobs, fleet_dir, console, quiet)
    except _Interrupted:
        for job in jobs:
            if job.job_id is not None and not job.ended:
                try:
                    slurm.cancel(job.job_id)
                except (OSError, subprocess.SubprocessError) as exc:
                    console.print(f"{job.machine}: could not cancel job {job.job_id}: {exc}")
        console.print("interrupted: the jobs not yet ended were cancelled; what they wrote is kept")
        with interrupted.ignoring():
            _follow(jobs, fleet_dir, console, quiet=True, patience_s=60.0)
            _finish(jobs, fleet_dir, console, reference_machine)
        return 128 + (interrupted.signum or signal.SIGINT)
    return _finish(jobs, fleet_dir, console, reference_machine)


class _Interrupted(Exception):
    """SIGINT or SIGTERM reached the parent while it submitted or followed the jobs."""


class _Interruption:
    """Turns SIGINT and SIGTERM into :class:`_Interrupted` (a cron or CI timeout sends SIGTERM),
    and remembers which it was; then ignores both while the jobs are cancelled and saved."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        def handler(signum: int, frame: object) -> None:
            self.signum = signum
            raise _Interrupted()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, action in previous.items():
                signal.signal(sig, action)

    @contextlib.contextmanager
    def ignoring(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, action in previous.items():
                signal.signal(sig, action)


def _directory_names(settings: slurm.SlurmSettings) -> list[str]:
    """A directory name per machine, file-name safe and distinct (``a&b`` and ``a|b`` both
    read ``a_b``: the second becomes ``a_b-2``)."""
    names: list[str] = []
    for machine, _ in split_machines(settings):
        name = _UNSAFE.sub("_", machine).strip("._") or "machine"
        candidate, count = name, 1
        while candidate in names:
            count += 1
            candidate = f"{name}-{count}"
        names.append(candidate)
    return names


def _follow(
    jobs: list[FleetJob], fleet_dir: Path, console: Console, quiet: bool, patience_s: float | None = None
) -> None:
    """Poll Slurm until every job has ended (or ``patience_s`` has passed), showing progress."""
    live = Live(FleetDisplay(jobs), console=console, refresh_per_second=1) if console.is_terminal else None
    deadline = None if patience_s is None else time.monotonic() + patience_s
    if live is not None and not quiet:
        live.start()
    try:
        while not all(job.ended for job in jobs):
            following = [job for job in jobs if not job.ended]
            survey = slurm.job_states([job.job_id for job in following if job.job_id is not None])
            _log_failures(fleet_dir, following, survey.failures)
            changed = [
                job
                for job in following
                if _update(job, survey.states.get(str(job.job_id)), survey.failures.get(str(job.job_id)))
            ]
            _write(fleet_dir, jobs)  # elapsed times too, for whoever reads fleet.json meanwhile
            if live is None and not quiet:
                for job in changed:
                    _print_change(console, job)
            if deadline is not None and time.monotonic() > deadline:
                return
            time.sleep(POLL_S)
    finally:
        if live is not None and not quiet:
            live.stop()


def _log_failures(fleet_dir: Path, jobs: list[FleetJob], failures: dict[str, str]) -> None:
    """Append each failed Slurm command to ``<fleet>/slurm/commands.log``, one stamped line."""
    if not failures:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [
        f"{stamp} {job.machine} job {job.job_id}: {failures[str(job.job_id)]}\n"
        for job in jobs
        if str(job.job_id) in failures
    ]
    log = fleet_dir / "slurm" / "commands.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.writelines(lines)
    except OSError:
        pass  # the log is a courtesy: following the jobs goes on without it


def _update(job: FleetJob, state: slurm.JobState | None, failure: str | None = None) -> bool:
    """Take Slurm's latest word on the job and count its finished cells; whether anything
    that a line of progress shows changed. ``failure``: Slurm could not be asked (a failed
    scontrol or sacct) -- nothing is concluded, the job is asked again at the next poll."""
    before = job.shown()
    job.unreachable = failure
    if failure is not None:
        # Not "unknown": a flaky controller must never make a healthy job LOST and cancelled.
        # The count of "does not know the job" answers starts again once Slurm answers.
        job.unknown_since = None
        return job.shown() != before
    if state is not None:
        job.state, job.unknown_since = state, None
    else:  # a slurmctld restarting, or a job purged with no accounting to remember it
        now = time.monotonic()
        job.unknown_since = job.unknown_since or now
        if now - job.unknown_since < LOST_AFTER_S:
            return False
        job.state = slurm.JobState("LOST", f"Slurm has not known the job for {LOST_AFTER_S:.0f} s")
        if job.job_id is not None:
            slurm.cancel(job.job_id)  # should it still run somewhere, it is not followed any more
    job.cells_done, job.cells_total = _cells(job)
    if job.state.final and job.state.state != "COMPLETED":
        job.error = _why(job)
    return job.shown() != before


def _cells(job: FleetJob) -> tuple[int, int | None]:
    """(cells finished, cells planned) of the job's run, as far as it has got."""
    done, total = 0, None
    for run_dir in job.run_dirs():
        try:
            total = len(json.loads((run_dir / "plan.json").read_text())["cells"])
            if (run_dir / "cells.parquet").is_file():
                done = pq.read_metadata(run_dir / "cells.parquet").num_rows
        except (OSError, ValueError, KeyError):
            continue
    return done, total


def _why(job: FleetJob) -> str:
    """Slurm's state and reason, with the last line the job wrote to its stderr."""
    assert job.state is not None
    text = job.state.state
    details = [
        part
        for part in (job.state.reason, f"exit {job.state.exit_code}" if job.state.exit_code else None)
        if part
    ]
    if details:
        text += f" ({', '.join(details)})"
    log = job.log_dir / f"{job.job_id}_0_log.err"
    last = _last_error_line(log)
    return f"{text}: {last}" if last else text


def _last_error_line(log: Path) -> str | None:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    # submitit's own chatter is not the reason; the job's last words are
    lines = [line for line in lines if "submitit" not in line and not line.startswith("Traceback")]
    return lines[-1][:300] if lines else None


def _print_change(console: Console, job: FleetJob) -> None:
    stamp = time.strftime("%H:%M:%S")
    text = f"{stamp} {job.machine}: job {job.job_id} {job.phase}"
    if job.state is not None and job.state.node:
        text += f" on {job.state.node}"
    if job.cells_total:
        text += f", {job.cells_done}/{job.cells_total} cells"
    if job.phase == "failed" and job.error:
        text += f": {job.error}"
    if job.unreachable:
        text += f"; Slurm could not be asked ({job.unreachable}), asking again in {POLL_S:g} s"
    console.print(text, markup=False, highlight=False)


def _write(fleet_dir: Path, jobs: list[FleetJob]) -> None:
    files.write_json({"jobs": [job.to_dict() for job in jobs]}, fleet_dir / "fleet.json")


def _finish(jobs: list[FleetJob], fleet_dir: Path, console: Console, reference_machine: str | None) -> int:
    """The exit status, the report and, per job that did not end well, why."""
    status = 0
    machine_dirs: list[Path] = []
    labels: list[str] = []
    for job in jobs:
        job_status = _job_status(job)
        status = max(status, job_status)
        for run_dir in job.run_dirs():
            if (run_dir / "summary.parquet").is_file():
                machine_dirs.append(run_dir)
                labels.append(job.machine)
        if job.phase != "done":
            console.print(
                f"{job.machine}: job {job.job_id or '-'} {job.error}", markup=False, highlight=False
            )
    _write(fleet_dir, jobs)
    if machine_dirs:
        try:
            runs: list[MachineRun] = read_machine_runs(machine_dirs, labels, console.print)
            for heading, table in machines_tables(runs, reference_machine):
                console.print(heading, markup=False, highlight=False)
                console.print(table)
            for path in write_machines_report(runs, fleet_dir, reference_machine):
                console.print(f"report: {path}")
        except ValueError as exc:
            console.print(f"no cross-machine report: {exc}")
            status = max(status, 1)
    console.print(f"fleet: {fleet_dir}")
    return status


def _job_status(job: FleetJob) -> int:
    """0 for a COMPLETED job whose run was all ok; the run's own status; 1 for any other end."""
    if job.phase != "done":
        return 1
    try:
        return int(json.loads((job.output / STATUS_FILE).read_text())["exit_status"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1
