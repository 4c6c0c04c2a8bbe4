"""Executes a plan: a fresh run directory, the shared artifacts, then one subprocess per cell.

Results are persisted after every cell, so a later failure or an interruption never loses
what was already measured.
"""

from __future__ import annotations

import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from orchestrator.aggregate import (
    CellOutcome,
    interrupted_outcome,
    samples_of,
    summarise_cell,
    summarise_configs,
    write_cells,
    write_samples,
    write_summary,
)
from orchestrator.artifacts import Artifacts, write_artifacts
from orchestrator.display import Display
from orchestrator.environment import describe_environment
from orchestrator.launcher import launch
from orchestrator.plan import Cell, Plan, launch_groups
from schemas import io
from schemas.job import JobSpec
from schemas.model import SINGLE_STREAM_ROWS, forward_numpy


@dataclass(frozen=True)
class RunRecord:
    """A run, finished or cut short: where it lives and one summary row per configuration."""

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
        scenario=cell.scenario,
        precision=cell.precision,
        batch_size=cell.batch_size,
        threads=cell.threads,
        cpus=cell.cpus,
        warmup=plan.warmup,
        min_iterations=plan.min_iterations,
        max_iterations=plan.max_iterations,
        min_time_s=plan.min_time_s,
        inputs_path=str(artifacts.inputs_path.resolve()),
        weights_path=str(artifacts.weights_path.resolve()),
        onnx_path=str(artifacts.onnx_path.resolve()),
        result_path=str((cell_dir / "result.parquet").resolve()),
    )


def execute(
    plan: Plan, display: Display, inputs: np.ndarray | None = None, config: Path | None = None
) -> RunRecord:
    """Run every cell of ``plan`` in its worker process, in order, and write the summary.

    ``inputs`` replaces the seeded random inputs; ``config`` is recorded with the environment.
    On SIGINT/SIGTERM (raised as
    :class:`Interrupted`) the running worker is killed, unfinished cells are recorded as
    ``interrupted`` and :class:`RunInterrupted` is raised.
    """
    try:
        run_id, run_dir = create_run_dir(plan.output)
    except OSError as exc:
        raise OutputError(f"cannot create a run directory in {plan.output}: {exc.strerror or exc}") from exc
    cells = plan.cells()
    outcomes: list[CellOutcome] = []
    samples: list[pa.Table] = []
    summary: dict[str, dict[str, Any]] = {}  # by config_id, in first-run order

    def save(new: list[CellOutcome]) -> list[dict[str, Any]]:
        """Add ``new`` outcomes and rewrite the three tables; only their configs are re-summarised."""
        outcomes.extend(new)
        samples.extend(samples_of(outcome) for outcome in new if outcome.latencies_ns.size)
        changed = {outcome.cell.config_id for outcome in new}
        for row in summarise_configs([o for o in outcomes if o.cell.config_id in changed]):
            summary[row["config_id"]] = row
        write_cells(outcomes, run_dir / "cells.parquet")
        write_summary(list(summary.values()), run_dir / "summary.parquet")
        write_samples(samples, run_dir / "samples.parquet")
        return list(summary.values())

    display.start(cells)
    try:
        io.write_json({"run_id": run_id, **plan.to_dict()}, run_dir / "plan.json")
        io.write_json(describe_environment(config), run_dir / "environment.json")
        artifacts = write_artifacts(run_dir, plan.seed, plan.rows, inputs)
        # Row by row independent: one pass over every input row serves every cell's rows.
        reference = forward_numpy(artifacts.layers, artifacts.inputs)
        rows: list[dict[str, Any]] = []
        for group in launch_groups(cells):
            rows = save(_run_group(run_id, plan, group, artifacts, reference, run_dir, display))
    except Interrupted as interruption:
        # Finish the bookkeeping even if the user presses Ctrl-C again.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        done = {outcome.cell.cell_id for outcome in outcomes}
        rows = save(
            [
                interrupted_outcome(run_id, plan, cell, str(interruption))
                for cell in cells
                if cell.cell_id not in done
            ]
        )
        raise RunInterrupted(RunRecord(run_id, run_dir, rows), interruption.signum) from None
    finally:
        display.stop()
    return RunRecord(run_id, run_dir, rows)


def _run_group(
    run_id: str,
    plan: Plan,
    group: list[Cell],
    artifacts: Artifacts,
    reference: np.ndarray,
    run_dir: Path,
    display: Display,
) -> list[CellOutcome]:
    """Run the cells of one worker process; summarise each from its own result file."""
    job_paths = []
    for cell in group:
        cell_dir = run_dir / "cells" / cell.cell_id
        cell_dir.mkdir(parents=True)
        job = _job_for(cell, plan, artifacts, cell_dir)
        io.write_bytes(job.to_json().encode(), cell_dir / "job.json")
        job_paths.append(cell_dir / "job.json")

    by_id = {cell.cell_id: cell for cell in group}
    started: set[str] = set()  # cells that announced a phase: the worker reached them

    def on_event(event: dict[str, Any]) -> None:
        cell = by_id.get(str(event.get("cell_id")))
        if cell is not None:
            started.add(cell.cell_id)
            display.event(cell, event)

    for cell in group:
        display.event(cell, {"event": "phase", "phase": "starting"})
    # The log of a shared worker lives with its first cell.
    log_path = run_dir / "cells" / group[0].cell_id / "stderr.log"
    exit = launch(job_paths, log_path, plan.timeout_s, on_event)
    outcomes = []
    for cell in group:
        cell_reference = _reference_rows(reference, cell)
        result_path = run_dir / "cells" / cell.cell_id / "result.parquet"
        reached = cell is group[0] or cell.cell_id in started  # the worker starts on its first cell
        outcome = summarise_cell(run_id, plan, cell, result_path, exit, cell_reference, reached)
        display.finish_cell(cell, outcome.row)
        outcomes.append(outcome)
    return outcomes


def _reference_rows(reference: np.ndarray, cell: Cell) -> np.ndarray:
    """The reference outputs for the rows ``cell`` computes."""
    count = cell.batch_size if cell.scenario == "offline" else SINGLE_STREAM_ROWS
    return reference[:count]
