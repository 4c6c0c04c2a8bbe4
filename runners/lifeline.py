"""A runner never outlives its parent, nor its own deadline.

The parent holds the write end of a pipe whose read end each runner inherits (the lifeline).
However the parent ends -- SIGKILL, the out-of-memory killer, a CI job cancelled -- the kernel
closes that write end and a read on the other end returns end-of-file. A watchdog waits for
that and then kills the runner's whole process group at once: the runner and anything it
started (runners lead their own session, so a kill aimed at the parent's group never reaches
them). The watchdog also enforces the runner's own deadline, a second line behind the parent's
``--timeout``.

The watchdog is a small forked process, not a thread: a thread needs the interpreter lock to
act, and native code that holds it (a long copy, a stuck extension) would keep a thread from
ever running. It is forked first thing, before any import that starts a thread, and waits in
``select``; it holds no part of the runner's memory figures (it is another process).

Why a pipe and not ``PR_SET_PDEATHSIG``: that signal fires when the *thread* that started the
child exits, not the process (a parent launching from a worker thread would kill its runners
early), and it needs a ``getppid()`` check for a parent that died before the call. End-of-file
on a pipe has neither trap.

Stdlib only: this starts before the runner imports numpy.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time


class Watchdog:
    """The runner's side of its watchdog: :meth:`extend` gives the next job its budget."""

    def __init__(self, control_fd: int, budget_s: float | None) -> None:
        self._control_fd = control_fd  # closed by the runner's exit, which ends the watchdog
        self.budget_s = budget_s

    def extend(self, budget_s: float | None) -> None:
        """From now, the runner may take ``budget_s`` seconds more (None: no deadline)."""
        os.write(self._control_fd, f"{'none' if budget_s is None else budget_s}\n".encode())


_current: Watchdog | None = None  # this runner's, once started


def renew_budget(scheduled_s: float = 0.0) -> None:
    """Give the runner its whole budget again from now, plus ``scheduled_s``: a job made of
    several runs (the probes of a peak search) has one budget per run, and a run whose length is
    set by its schedule (a LoadGen server run: 1,024 queries at the offered rate) may take that
    long on top. Without a watchdog, nothing to do."""
    if _current is not None:
        _current.extend(None if _current.budget_s is None else _current.budget_s + scheduled_s)


def start_watchdog(
    lifeline_fd: int | None, budget_s: float | None, keep_fds: tuple[int, ...] = ()
) -> Watchdog:
    """Fork the watchdog of this process group; call before anything starts a thread.

    ``lifeline_fd`` is the pipe whose end-of-file means the parent is gone (None: no parent
    to watch, only the deadline); ``keep_fds`` are the runner's own descriptors, which the
    watchdog closes so that it never holds them open.
    """
    control_r, control_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the watchdog
        try:
            os.close(control_w)
            for fd in keep_fds:
                os.close(fd)
            _watch(lifeline_fd, control_r, budget_s)
        finally:
            os._exit(0)
    os.close(control_r)
    if lifeline_fd is not None:
        os.close(lifeline_fd)  # the watchdog holds it now; the runner itself has no use for it
    global _current
    _current = Watchdog(control_w, budget_s)
    return _current


def _watch(lifeline_fd: int | None, control_fd: int, budget_s: float | None) -> None:
    """Wait for the parent's end, the deadline, or the runner's own exit (then leave quietly)."""
    deadline = None if budget_s is None else time.monotonic() + budget_s
    watched = [control_fd] if lifeline_fd is None else [lifeline_fd, control_fd]
    pending = b""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select(watched, [], [], timeout)
        if lifeline_fd in readable and not os.read(lifeline_fd, 4096):
            _kill_group("the orchestrator that started it is gone")
        if control_fd in readable:
            data = os.read(control_fd, 4096)
            if not data:  # the runner exited: nothing left to guard
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                deadline = None if line == b"none" else time.monotonic() + float(line)
        if deadline is not None and time.monotonic() >= deadline:
            _kill_group("it ran past its own deadline")


def _kill_group(reason: str) -> None:
    """SIGKILL this process group: the runner, every process it started, and the watchdog."""
    try:
        print(f"runner {os.getppid()}: {reason}; killing its process group", file=sys.stderr, flush=True)
    finally:
        os.killpg(os.getpgrp(), signal.SIGKILL)
