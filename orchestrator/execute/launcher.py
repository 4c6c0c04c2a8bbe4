"""Runs one cell in a fresh interpreter: exec'd, never forked; pinned by the runner itself.

The parent reads the runner's events from a pipe with a timeout (never busy-waits), keeps
the runner's stderr in a log file, and kills the runner's whole process group on timeout or
on any error of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import runners
from runners.registry import EXTRA_RUNNERS_VARIABLE

# Variables a worker inherits from the parent; everything else is dropped so that a stray
# setting (a thread count, a library path) in the user's shell cannot change a figure.
_INHERITED = (
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LD_LIBRARY_PATH",
    "OPENBLAS_CORETYPE",  # set on some CPUs where OpenBLAS would otherwise compute wrongly
    "OPENBLAS_L2_SIZE",
    "PATH",
    "TMPDIR",
    "TZ",
    "USER",
    EXTRA_RUNNERS_VARIABLE,  # set by the test suite alone: the runners it registers (its fakes)
)

EventHandler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Exit:
    """How a runner process ended."""

    returncode: int | None
    timed_out: bool
    elapsed_s: float

    @property
    def signal_name(self) -> str | None:
        """The signal that killed the runner, e.g. ``SIGSEGV``, if one did."""
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


def worker_env() -> dict[str, str]:
    """The environment a runner starts with: the allow-list, plus what makes it find ``runners``."""
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    project_root = str(Path(runners.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root, os.environ.get("PYTHONPATH")]))
    env["PYTHONFAULTHANDLER"] = "1"  # a segfaulting runner leaves a Python stack in its log
    env["PYTHONUNBUFFERED"] = "1"
    return env


# The runner's own deadline trails the parent's --timeout by this much, so that the parent's
# kill (and its "timeout" status) comes first; the runner's is for when the parent is gone.
_RUNNER_DEADLINE_GRACE_S = 5.0


class _Deadline:
    """``timeout_s`` from the start of each job: a shared worker's jobs get one budget each."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.at = time.monotonic() + timeout_s
        self._job: object = None

    def on_event(self, event: dict[str, Any]) -> None:
        """A job's first event starts its budget; a ``renew`` event starts it again, plus the
        run's own schedule (each LoadGen run may take its 1,024 queries at the offered rate
        plus ``timeout_s``; each probe of a peak search has a budget of its own)."""
        if event.get("event") == "renew":
            self.at = time.monotonic() + self.timeout_s + float(event.get("scheduled_s") or 0.0)
        job = event.get("cell_id")
        if job is not None and job != self._job:
            if self._job is not None:
                self.at = time.monotonic() + self.timeout_s
            self._job = job


def launch(
    job_paths: list[Path],
    log_path: Path,
    timeout_s: float,
    on_event: EventHandler,
    python: Path | None = None,
) -> Exit:
    """Run ``python -m runners --job ...`` to completion or timeout; return how it ended.

    ``python`` is the interpreter of the framework's environment (default: this one).

    One worker process runs every job given, in order; each job may take ``timeout_s``.
    The runner holds the read end of a lifeline pipe whose write end only this process holds:
    if this process dies, however it dies, the runner sees end-of-file and kills itself and
    its children (see ``runners.lifeline``).
    """
    read_fd, write_fd = os.pipe()
    lifeline_read, lifeline_write = os.pipe()
    started = time.monotonic()
    deadline = _Deadline(timeout_s)
    jobs = [arg for path in job_paths for arg in ("--job", str(path))]
    command = [str(python or sys.executable), "-m", "runners", *jobs, "--events-fd", str(write_fd)]
    command += ["--lifeline-fd", str(lifeline_read), "--budget", f"{timeout_s + _RUNNER_DEADLINE_GRACE_S:g}"]
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=worker_env(),
                pass_fds=(write_fd, lifeline_read),
                start_new_session=True,  # its own process group, so a kill reaches every child
            )
    finally:
        os.close(write_fd)
        os.close(lifeline_read)

    def handle(event: dict[str, Any]) -> None:
        deadline.on_event(event)
        on_event(event)

    try:
        timed_out = not _pump_events(read_fd, deadline, handle)
        if not timed_out:
            try:
                process.wait(timeout=max(0.0, deadline.at - time.monotonic()))
            except subprocess.TimeoutExpired:  # closed its pipe but kept running
                timed_out = True
    except BaseException:
        _kill_group(process)
        raise
    finally:
        # Also after a normal exit: anything the runner left behind would hold the benchmark
        # CPUs during every later cell.
        _kill_group(process)
        os.close(read_fd)
        os.close(lifeline_write)
    return Exit(process.returncode, timed_out, time.monotonic() - started)


def _pump_events(read_fd: int, deadline: _Deadline, on_event: EventHandler) -> bool:
    """Pass each event line to ``on_event`` until the pipe closes (True) or the deadline (False)."""
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while True:
            remaining = deadline.at - time.monotonic()
            if remaining <= 0:
                return False
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                return True
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a garbled event costs a display update, not the run
                if isinstance(event, dict):
                    on_event(event)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the runner's process group and reap the runner."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
