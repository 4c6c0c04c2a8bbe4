"""Runs one job in this (already pinned) process and writes its result.parquet.

Until every figure is taken, this process holds its framework, numpy, psutil and the inputs:
the Parquet library (pyarrow, ~40 MB) is imported only to write the result, after the peak.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models.base import ModelFiles
from models.registry import load_model
from runners.base import CellResult, Sample, run_cell
from runners.events import EventPipe
from runners.registry import load_runner_class, other_frameworks_modules
from schemas.job import JobSpec
from schemas.scenarios import scenario
from schemas.tensors import aligned_copy, read_npy


def block_other_frameworks(framework: str) -> list[str]:
    """Make every other framework's modules unimportable in this process; return them.

    One environment may hold several frameworks (--environment shared, current), and they
    import each other when they find one another (``import tensorflow`` imports JAX); a
    runner's figures must hold its own framework and nothing else. Each blocked import raises
    ImportError, which the frameworks treat as "not installed".
    """
    blocked = [name for name in other_frameworks_modules(framework) if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    return blocked


def load_samples(job: JobSpec) -> list[Sample]:
    """The inputs the timed loop feeds to the model, each array C-contiguous and 64-byte aligned.

    offline: one call's worth, the first ``batch_size`` rows of every input. single-stream: each
    of the first (up to) ``single_stream_samples`` rows as a call of its own, in turn.
    """
    if not scenario(job.scenario).cycles_samples:  # offline, and LoadGen's: a call of the cell's batch
        return [{name: read_npy(Path(path), rows=job.batch_size) for name, path in job.model.inputs.items()}]
    count = job.model.single_stream_samples
    rows = {name: read_npy(Path(path), rows=count) for name, path in job.model.inputs.items()}
    available = min(len(array) for array in rows.values())
    return [{name: aligned_copy(array[i : i + 1]) for name, array in rows.items()} for i in range(available)]


def run_job(job: JobSpec, events_fd: int | None, isolated: bool = True) -> int:
    """Load the inputs and the model plug-in, run the cell, write the result; 0 unless it failed.

    ``isolated``: the job has this process to itself, so every other framework is blocked.
    """
    events = EventPipe(events_fd, job.cell_id)
    blocked = block_other_frameworks(job.framework) if isolated else []
    samples = load_samples(job)
    model = load_model(job.model.ref, job.model.source, job.model.source_format)
    files = ModelFiles(
        Path(job.model.directory),
        None if job.model.source is None else Path(job.model.source),
        job.model.source_format,
        job.model.output,
    )
    runner = load_runner_class(job.framework)(job.options)
    runner.settings["blocked_modules"] = blocked
    # LoadGen draws each query's samples from the whole set of stored inputs.
    pool = {name: read_npy(Path(path)) for name, path in job.model.inputs.items()} if job.loadgen else None
    result = run_cell(runner, job, samples, model, files, events, pool)
    write_result(result, Path(job.result_path))
    events.phase("done" if result.status == "ok" else result.status, error=result.error)
    return 1 if result.status == "failed" else 0


def write_result(result: CellResult, path: Path) -> None:
    """Write ``result`` as the one-row result.parquet, atomically (pyarrow is imported here)."""
    import pyarrow as pa

    from schemas import io, tables

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
        python=sys.executable,
        settings_json=json.dumps(settings, sort_keys=True, default=str) if settings else None,
        outputs=None if outputs is None else np.asarray(outputs, np.float32),
    )
    io.write_table(pa.Table.from_pylist([row], schema=tables.RESULT), path)
