"""Runs one job in this (already pinned) process and writes its result.parquet."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from runners.base import CellResult, ModelFiles, run_cell
from runners.events import EventPipe
from runners.registry import load_runner_class
from schemas import io, tables
from schemas.job import JobSpec
from schemas.model import SINGLE_STREAM_ROWS, aligned_copy, read_inputs, read_weights


def load_samples(job: JobSpec) -> list[np.ndarray]:
    """The arrays the timed loop feeds to the model, each C-contiguous and 64-byte aligned.

    offline: one [batch, features] array, called every time. single-stream: each of the first
    (up to) 1000 input rows as its own [1, features] array, called in turn.
    """
    if job.scenario == "offline":
        return [read_inputs(Path(job.inputs_path), rows=job.batch_size)]
    rows = read_inputs(Path(job.inputs_path), rows=SINGLE_STREAM_ROWS)
    return [aligned_copy(rows[i : i + 1]) for i in range(len(rows))]


def run_job(job: JobSpec, events_fd: int | None) -> int:
    """Load the shared inputs and weights, run the cell, write the result; 0 unless it failed."""
    events = EventPipe(events_fd, job.cell_id)
    samples = load_samples(job)
    model = ModelFiles(layers=read_weights(Path(job.weights_path)), onnx_path=job.onnx_path)
    runner = load_runner_class(job.framework)()
    result = run_cell(runner, job, samples, model, events)
    write_result(result, Path(job.result_path))
    events.phase("done" if result.status == "ok" else result.status, error=result.error)
    return 1 if result.status == "failed" else 0


def write_result(result: CellResult, path: Path) -> None:
    """Write ``result`` as the one-row result.parquet, atomically."""
    figures: dict[str, Any] = dict(result.figures)
    settings = figures.pop("settings", None)
    outputs = figures.pop("outputs", None)
    row: dict[str, Any] = {name: None for name in tables.RESULT.names}
    row.update({key: value for key, value in figures.items() if key in row})
    row.update(
        cell_id=result.cell_id,
        framework=result.framework,
        status=result.status,
        error=result.error,
        pid=os.getpid(),
        settings_json=json.dumps(settings, sort_keys=True, default=str) if settings else None,
        outputs=None if outputs is None else np.asarray(outputs, np.float32),
    )
    io.write_table(pa.Table.from_pylist([row], schema=tables.RESULT), path)
