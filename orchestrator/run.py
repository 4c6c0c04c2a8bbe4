"""Executes a plan: a fresh run directory, the shared artifacts, then one subprocess per cell.

Results are persisted after every cell, so a later failure or an interruption never loses
what was already measured.
"""

from __future__ import annotations

import secrets
import signal
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.aggregate import (
    CellOutcome,
    interrupted_row,
    summarise_cell,
    write_samples,
    write_summary,
)
from orchestrator.artifacts import Artifacts, write_artifacts
from orchestrator.display import Display
from orchestrator.environment import describe_environment
from orchestrator.launcher import launch
from orchestrator.plan import Cell, Plan
from schemas import io
from schemas.job import JobSpec
from schemas.model import forward_numpy


@dataclass(frozen=True)
class RunRecord:
    """A run, finished or cut short: where it lives and one summary row per cell."""

    run_id: str
    run_dir: Path
    rows: list[dict[str, Any]]


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; raised from the signal handler the CLI installs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class OutputError(Exception):
    """The run directory could not be created under --output; nothing was written."""


class RunInterrupted(Exception):
    """The run stopped on a signal after saving what it had; ``record`` is what was saved."""

    def __init__(self, record: RunRecord, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.record = record
        self.signum = signum


def create_run_dir(output: Path) -> tuple[str, Path]:
    """Make a new, uniquely named ``<output>/<run_id>/``; never reuses an existing one.

    The exclusive mkdir is what keeps two runs started at once into one --output apart.
    """
    output.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        try:
            (output / run_id).mkdir()
        except FileExistsError:
            continue
        return run_id, output / run_id


def _job_for(cell: Cell, plan: Plan, artifacts: Artifacts, cell_dir: Path) -> JobSpec:
    return JobSpec(
        cell_id=cell.cell_id,
        framework=cell.framework,
        batch_size=cell.batch_size,
        threads=cell.threads,
        cpus=cell.cpus,
        warmup=plan.warmup,
        min_iterations=plan.min_iterations,
        min_time_s=plan.min_time_s,
        inputs_path=str(artifacts.inputs_path.resolve()),
        weights_path=str(artifacts.weights_path.resolve()),
        onnx_path=str(artifacts.onnx_path.resolve()),
        result_path=str((cell_dir / "result.parquet").resolve()),
    )


def execute(plan: Plan, display: Display, inputs: np.ndarray | None = None) -> RunRecord:
    """Run every cell of ``plan`` in its own subprocess, in order, and write the summary.

    ``inputs`` replaces the seeded random inputs. On SIGINT/SIGTERM (raised as
    :class:`Interrupted`) the running worker is killed, unfinished cells are recorded as
    ``interrupted`` and :class:`RunInterrupted` is raised.
    """
    try:
        run_id, run_dir = create_run_dir(plan.output)
    except OSError as exc:
        raise OutputError(f"cannot create a run directory in {plan.output}: {exc.strerror or exc}") from exc
    cells = plan.cells()
    outcomes: list[CellOutcome] = []

    def save(unfinished: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
        rows = [o.row for o in outcomes] + list(unfinished)
        write_summary(rows, run_dir / "summary.parquet")
        write_samples(outcomes, run_dir / "samples.parquet")
        return rows

    display.start(cells)
    try:
        io.write_json({"run_id": run_id, **plan.to_dict()}, run_dir / "plan.json")
        io.write_json(describe_environment(), run_dir / "environment.json")
        artifacts = write_artifacts(run_dir, plan.seed, plan.rows, inputs)
        references: dict[int, np.ndarray] = {}
        for cell in cells:
            outcomes.append(_run_cell(run_id, plan, cell, artifacts, run_dir, references, display))
            save()
    except Interrupted as interruption:
        # Finish the bookkeeping even if the user presses Ctrl-C again.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        unfinished = [interrupted_row(run_id, plan, c, str(interruption)) for c in cells[len(outcomes) :]]
        rows = save(tuple(unfinished))
        raise RunInterrupted(RunRecord(run_id, run_dir, rows), interruption.signum) from None
    finally:
        display.stop()
    return RunRecord(run_id, run_dir, [o.row for o in outcomes])


def _run_cell(
    run_id: str,
    plan: Plan,
    cell: Cell,
    artifacts: Artifacts,
    run_dir: Path,
    references: dict[int, np.ndarray],
    display: Display,
) -> CellOutcome:
    cell_dir = run_dir / "cells" / cell.cell_id
    cell_dir.mkdir(parents=True)
    job = _job_for(cell, plan, artifacts, cell_dir)
    job_path = cell_dir / "job.json"
    io.write_bytes(job.to_json().encode(), job_path)

    display.event(cell, {"event": "phase", "phase": "starting"})
    exit = launch(job_path, cell_dir / "stderr.log", plan.timeout_s, partial(display.event, cell))
    if cell.batch_size not in references:
        references[cell.batch_size] = forward_numpy(artifacts.layers, artifacts.inputs[: cell.batch_size])
    outcome = summarise_cell(run_id, plan, cell, Path(job.result_path), exit, references[cell.batch_size])
    display.finish_cell(cell, outcome.row)
    return outcome
