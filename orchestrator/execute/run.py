"""Executes a plan: a fresh run directory, the shared artifacts, then one subprocess per cell.

Results are persisted after every cell, so a later failure or an interruption never loses
what was already measured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from orchestrator.execute.aggregate import (
    CellOutcome,
    Reference,
    interrupted_outcome,
    samples_of,
    skipped_outcome,
    summarise_cell,
    summarise_configs,
    with_comparison_warnings,
    with_speedups,
    write_cells,
    write_samples,
    write_summary,
)
from orchestrator.execute.artifacts import (
    Exporter,
    PreparedModel,
    prepare_model,
    run_export,
    why_not_runnable,
)
from orchestrator.execute.display import Display
from orchestrator.execute.environments import Environment, StatusHandler, default_root, resolve
from orchestrator.execute.launcher import Exit, launch, worker_env
from orchestrator.execute.quantize import Quantization, directory_for, needs_quantizing, quantize
from orchestrator.execute.roofs import roofs_record
from orchestrator.execute.run_record import describe_environment
from orchestrator.figures.roofs import MachineRoofs, with_roofline
from orchestrator.host import MachineState
from orchestrator.plan.cells import Cell, launch_groups
from orchestrator.plan.framework_refs import FrameworkRef
from orchestrator.plan.measurement import Measurement
from orchestrator.plan.plan import Plan
from orchestrator.plan.scenarios import LOADGEN_SCENARIOS
from orchestrator.plan.workloads import Workload, builtin, ruled_out
from runners.registry import onnx_exporter
from schemas import io
from schemas.job import JobSpec, ModelJob
from schemas.precisions import BASELINE, INT8_PRECISIONS
from schemas.scenarios import scenario


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
        # Cells of the interrupted worker that had finished (in-process, one worker runs
        # several): kept as measured, not marked interrupted.
        self.finished: list[CellOutcome] = []


class OutputError(Exception):
    """The run directory could not be created under --output; nothing was written."""


class OutOfMemory(Exception):
    """An allocation failed during the run (MemoryError); ``run_dir`` holds what was written."""

    def __init__(self, run_dir: Path, error: MemoryError) -> None:
        super().__init__(str(error) or "an allocation failed")
        self.run_dir = run_dir


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


def _job_for(
    cell: Cell,
    measurement: Measurement,
    prepared: PreparedModel,
    cell_dir: Path,
    quantized: dict[str, Any] | None = None,
) -> JobSpec:
    files = prepared.files
    return JobSpec(
        cell_id=cell.cell_id,
        framework=cell.framework,
        scenario=cell.scenario,
        precision=cell.precision,
        batch_size=cell.batch_size,
        threads=cell.threads,
        cpus=cell.pinned_to,
        warmup=measurement.warmup,
        min_iterations=measurement.min_iterations,
        max_iterations=measurement.max_iterations,
        min_time_s=measurement.min_time_s,
        model=ModelJob(
            name=prepared.name,
            ref=prepared.ref,
            directory=str(files.directory.resolve()),
            inputs={name: str(path.resolve()) for name, path in prepared.input_paths.items()},
            output=prepared.spec.output,
            source=None if files.source is None else str(files.source.resolve()),
            source_format=files.source_format,
            single_stream_samples=prepared.spec.single_stream_samples,
            calibration={name: str(path.resolve()) for name, path in prepared.calibration_paths.items()},
        ),
        result_path=str((cell_dir / "result.parquet").resolve()),
        options=json.loads(cell.options_json),
        loadgen=_loadgen_spec(cell),
        quantized=quantized,
    )


def _loadgen_spec(cell: Cell) -> dict[str, Any] | None:
    """What the runner tells LoadGen, for a LoadGen scenario's cell."""
    if cell.scenario not in LOADGEN_SCENARIOS:
        return None
    return {
        "scenario": LOADGEN_SCENARIOS[cell.scenario],  # LoadGen's own name (schemas/scenarios.py)
        # Instances share the offered rate: each LoadGen offers its part, Poisson too.
        "target_qps": None if cell.target_qps is None else cell.target_qps / cell.instances,
        "latency_bound_ms": cell.latency_bound_ms,
        "find_peak": scenario(cell.scenario).find_peak,
    }


@dataclass
class _References:
    """What each cell's outputs are checked against: its model's reference, or -- for a model
    with none (a user's own) -- the outputs of the first framework that ran that configuration
    at the baseline precision (fp32, which runs first; any precision when the run has no fp32).
    The tolerance is the model's own at the cell's precision."""

    prepared: dict[str, PreparedModel]
    precisions: tuple[str, ...]
    first: dict[tuple[Any, ...], Reference] = field(default_factory=dict)

    @staticmethod
    def _key(cell: Cell) -> tuple[Any, ...]:
        return (cell.model, cell.scenario, cell.batch_size, cell.input_shapes)

    def for_cell(self, cell: Cell) -> Reference | None:
        prepared = self.prepared[cell.model]
        tolerance = prepared.spec.acceptance(cell.precision)
        if prepared.reference is not None:
            rows = (
                prepared.spec.single_stream_samples
                if scenario(cell.scenario).cycles_samples
                else cell.batch_size
            )
            values = prepared.reference[:rows]
            kind = prepared.reference_kind or "reference"
            return Reference(values, kind, tolerance, prepared.spec.top1, cell.precision)
        first = self.first.get(self._key(cell))
        if first is None:
            return None
        return dataclasses.replace(first, tolerance=tolerance, precision=cell.precision)

    def remember(self, cell: Cell, outcome: CellOutcome) -> None:
        """A model without a reference: the first ok outputs at the baseline precision become it."""
        baseline = BASELINE if BASELINE in self.precisions else self.precisions[0]
        if self.prepared[cell.model].reference is None and outcome.outputs is not None:
            key = self._key(cell)
            if key not in self.first and outcome.row["status"] == "ok" and cell.precision == baseline:
                kind = f"{cell.framework_label}, the first framework to run it (the model has no reference)"
                top1 = self.prepared[cell.model].spec.top1
                self.first[key] = Reference(outcome.outputs.astype(np.float64), kind, None, top1)


def resolve_environments(
    plan: Plan,
    workloads: dict[str, Workload],
    root: Path | None = None,
    on_status: StatusHandler | None = None,
    torch_index: str | None = None,
) -> tuple[dict[str, Environment], Exporter | None]:
    """Each framework's environment (built or reused) by label, and -- when a model's graph
    comes from PyTorch -- the ONNX export in the PyTorch environment: ONNX Runtime and OpenVINO
    run that graph, and the reference is computed from it, whichever frameworks run. A framework
    that no model of the run can run gets none (its cells are skipped with the model's reason).
    ``torch_index``: a mirror of PyTorch's CPU index to build from."""
    root = root or default_root()
    refs = [FrameworkRef.parse(text) for text in plan.frameworks]
    kind = plan.environment_for()
    needed = [ref for ref in refs if any(ruled_out(ref.name, w) is None for w in workloads.values())]
    environments = resolve(needed, kind, root, on_status, torch_index)
    for ref in refs:
        unneeded = "no model of the run runs in it"
        environments.setdefault(ref.label, Environment(ref.label, kind, None, unneeded=unneeded))
    if not any(workload.exported_from_pytorch for workload in workloads.values()):
        return environments, None
    exporter = onnx_exporter()  # the framework whose environment runs the tool's ONNX export
    pytorch = next((env for label, env in environments.items() if label.split("@")[0] == exporter), None)
    if pytorch is None or (pytorch.python is None and pytorch.error is None):
        # PyTorch is not among the frameworks run: its environment exports all the same
        pytorch = resolve([FrameworkRef(exporter)], kind, root, on_status, torch_index)[exporter]
    return environments, run_export(pytorch.python, pytorch.error, worker_env(), plan.timeout_s)


def execute(
    plan: Plan,
    display: Display,
    workloads: dict[str, Workload] | None = None,
    environments: dict[str, Environment] | None = None,
    export: Exporter | None = None,
    config: Path | None = None,
    roofs: dict[int, MachineRoofs] | None = None,
) -> RunRecord:
    """Run every cell of ``plan`` in its worker process, in order, and write the summary.

    ``workloads`` are the plan's models, resolved (with the user's --inputs, if any);
    ``environments`` the interpreter of each framework (by label); ``export`` makes the ONNX
    graph of a model that is exported from PyTorch; ``config`` is recorded with the environment;
    ``roofs`` (by busy thread count, ``orchestrator.execute.roofs``) go into environment.json and
    place each summary row under them (None: every row's point says they were not measured).
    Left out, the workloads are the plan's built-in models and the environments are resolved
    (and the export found) with :func:`resolve_environments`.
    On SIGINT/SIGTERM (raised as :class:`Interrupted`) the running worker is killed,
    unfinished cells are recorded as ``interrupted`` and :class:`RunInterrupted` is raised.
    """
    if workloads is None:
        workloads = {name: builtin(name) for name in plan.models}
    if environments is None:
        environments, export = resolve_environments(plan, workloads)
    try:
        run_id, run_dir = create_run_dir(plan.output)
    except OSError as exc:
        raise OutputError(f"cannot create a run directory in {plan.output}: {exc.strerror or exc}") from exc
    cells = plan.cells()
    written = _RunTables(run_dir, roofs)
    # The host as it is, before this process moves itself off the runners' CPUs: the record
    # (and the fingerprint that keys history and compare) must not depend on --cpus.
    described = describe_environment(config)
    display.start(cells)
    with _kept_off(plan.cpus or ()):
        try:
            io.write_json({"run_id": run_id, **plan.to_dict()}, run_dir / "plan.json")
            described["environments"] = {label: env.record() for label, env in environments.items()}
            described["roofs"] = roofs_record(roofs or {}) or None
            io.write_json(described, run_dir / "environment.json")
            prepared = {
                name: _prepare(plan, name, workload, run_dir, export) for name, workload in workloads.items()
            }
            context = RunContext(
                run_id, plan, prepared, _References(prepared, plan.precisions), environments, run_dir, display
            )
            rows: list[dict[str, Any]] = []
            for together in _together(launch_groups(cells)):
                rows = written.save(_run_together(together, context))
        except MemoryError as exc:  # numpy's _ArrayMemoryError among them: one line for the user
            raise OutOfMemory(run_dir, exc) from None
        except Interrupted as interruption:
            rows = _save_interrupted(written, interruption, run_id, plan, cells)
            raise RunInterrupted(RunRecord(run_id, run_dir, rows), interruption.signum) from None
        finally:
            display.stop()
    return RunRecord(run_id, run_dir, rows)


def _save_interrupted(
    written: _RunTables, interruption: Interrupted, run_id: str, plan: Plan, cells: list[Cell]
) -> list[dict[str, Any]]:
    """The cells that finished before the signal, and every other one as interrupted."""
    # Finish the bookkeeping even if the user presses Ctrl-C again.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    kept = interruption.finished
    done = {outcome.cell.cell_id for outcome in [*written.outcomes, *kept]}
    unfinished = [cell for cell in cells if cell.cell_id not in done]
    return written.save(
        kept + [interrupted_outcome(run_id, plan.measurement, cell, str(interruption)) for cell in unfinished]
    )


@dataclass
class _RunTables:
    """The run's three tables as they grow: every outcome so far, rewritten after each group."""

    run_dir: Path
    roofs: dict[int, MachineRoofs] | None = None
    outcomes: list[CellOutcome] = field(default_factory=list)
    samples: list[pa.Table] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)  # by config_id, first-run order

    def save(self, new: list[CellOutcome]) -> list[dict[str, Any]]:
        """Add ``new`` outcomes and rewrite the three tables; only their configs are re-summarised."""
        self.outcomes.extend(new)
        self.samples.extend(samples_of(outcome) for outcome in new if outcome.latencies_ns.size)
        changed = {outcome.cell.config_id for outcome in new}
        machine = MachineState.read()  # as the machine is now, once for every config of this save
        for row in summarise_configs([o for o in self.outcomes if o.cell.config_id in changed], machine):
            self.summary[row["config_id"]] = row
        rows = [
            with_roofline(row, self.roofs)
            for row in with_speedups(with_comparison_warnings(list(self.summary.values())))
        ]
        write_cells(self.outcomes, self.run_dir / "cells.parquet")
        write_summary(rows, self.run_dir / "summary.parquet")
        write_samples(self.samples, self.run_dir / "samples.parquet")
        return rows


@dataclass(frozen=True)
class RunContext:
    """What every worker group of one run shares: the run, its prepared models, what their
    outputs are checked against, each framework's environment, where it writes, what shows it."""

    run_id: str
    plan: Plan
    prepared: dict[str, PreparedModel]
    references: _References
    environments: dict[str, Environment]
    run_dir: Path
    display: Display
    # Each quantization made so far, by its directory: one per framework, model, precision, options.
    quantizations: dict[Path, Quantization] = field(default_factory=dict)

    def quantization(self, cell: Cell) -> Quantization:
        """``cell``'s quantized model: made now (in the framework's environment), or the one made
        for an earlier cell of the same framework, model, precision and options."""
        directory = directory_for(self.run_dir, cell)
        if directory not in self.quantizations:
            python = self.environments[cell.framework_label].python
            assert python is not None  # why_not_runnable skipped a cell without an environment
            self.display.event(cell, {"event": "phase", "phase": "quantizing"})
            self.quantizations[directory] = quantize(
                cell, self.prepared[cell.model], python, directory, worker_env(), self.plan.timeout_s
            )
        return self.quantizations[directory]

    def quantize_s(self, cell: Cell) -> float | None:
        """Seconds the quantization of ``cell``'s model took, None where it loads none."""
        found = self.quantizations.get(directory_for(self.run_dir, cell)) if needs_quantizing(cell) else None
        return None if found is None else found.quantize_s


@contextlib.contextmanager
def _kept_off(benchmark_cpus: tuple[int, ...]) -> Iterator[None]:
    """Move this process (its display, its bookkeeping) off the CPUs the runners measure on
    while the run lasts, when the machine allows others; each runner pins itself first thing,
    whatever this process's mask."""
    before = os.sched_getaffinity(0)
    others = before - set(benchmark_cpus)
    if others:
        os.sched_setaffinity(0, others)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _prepare(
    plan: Plan, name: str, workload: Workload, run_dir: Path, export: Exporter | None
) -> PreparedModel:
    shapes = plan.call_shapes(name, plan.rows(name))
    # Only when a cell of this model runs a quantized precision: a calibration set of its own.
    quantizing = any(cell.model == name and cell.precision in INT8_PRECISIONS for cell in plan.cells())
    calibration = plan.call_shapes(name, plan.calibration_samples) if quantizing else None
    return prepare_model(
        name,
        workload.ref,
        workload.model,
        run_dir / "models" / name,
        plan.seed,
        shapes,
        export,
        inputs=workload.inputs,
        source=workload.source,
        calibration_shapes=calibration,
    )


def _together(groups: list[list[Cell]]) -> list[list[list[Cell]]]:
    """Worker groups that run at the same time: the instances of one cell, each its own process."""
    batches: list[list[list[Cell]]] = []
    for group in groups:
        first = group[0]
        if first.instances > 1 and first.instance > 0 and batches:
            batches[-1].append(group)
        else:
            batches.append([group])
    return batches


def _run_together(together: list[list[Cell]], context: RunContext) -> list[CellOutcome]:
    """Run these worker groups at once (the instances of one cell, on their own CPUs), one thread
    each waiting on its own process; or the one group, here."""
    if len(together) == 1:
        return _run_group(context, together[0])
    results: list[list[CellOutcome] | BaseException] = [[] for _ in together]

    def run(index: int, group: list[Cell]) -> None:
        try:
            results[index] = _run_group(context, group)
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, group), daemon=True) for i, group in enumerate(together)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # in slices, so a signal reaches the main thread meanwhile
            thread.join(timeout=0.2)
    outcomes: list[CellOutcome] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        outcomes += result
    return outcomes


def _run_group(context: RunContext, group: list[Cell]) -> list[CellOutcome]:
    """Run the cells of one worker process; summarise each from its own result file.

    Cells that cannot run (their environment failed to build, their framework cannot load the
    model) are skipped with the reason, without a process.
    """
    plan, prepared, run_dir = context.plan, context.prepared, context.run_dir
    environments, display = context.environments, context.display
    outcomes: list[CellOutcome] = []
    runnable = []
    for cell in group:
        cell_dir = run_dir / "cells" / cell.cell_id
        cell_dir.mkdir(parents=True)
        outcome, quantized = _before_the_runner(context, cell)
        if outcome is not None:
            display.finish_cell(cell, outcome.row)
            outcomes.append(outcome)
            continue
        job = _job_for(cell, plan.measurement, prepared[cell.model], cell_dir, quantized)
        io.write_bytes(job.to_json().encode(), cell_dir / "job.json")
        runnable.append(cell)
    if not runnable:
        return outcomes

    worker = _Worker(context, runnable)
    display.event(runnable[0], {"event": "phase", "phase": "starting"})
    job_paths = [run_dir / "cells" / cell.cell_id / "job.json" for cell in runnable]
    # Each cell's output goes to its own stderr.log: the worker switches to the next cell's
    # log as it starts each job; what comes before the first job lands in the first one's.
    log_path = run_dir / "cells" / runnable[0].cell_id / "stderr.log"
    python = environments[runnable[0].framework_label].python
    assert python is not None
    try:
        exit = launch(job_paths, log_path, plan.timeout_s, worker.on_event, python)
    except Interrupted as stop:
        stop.finished += outcomes + list(worker.finished.values())
        raise
    return outcomes + worker.outcomes(exit)


def _before_the_runner(context: RunContext, cell: Cell) -> tuple[CellOutcome | None, dict[str, Any] | None]:
    """A cell that cannot run (its environment failed to build, its framework cannot load the
    model, its quantizer failed or cannot quantize it) as its outcome, with no process; else
    None and the quantized model its runner loads, if it loads one."""
    prepared, environment = context.prepared[cell.model], context.environments[cell.framework_label]
    reason = why_not_runnable(cell.framework, prepared, environment)
    measurement = context.plan.measurement
    if reason is not None:
        return skipped_outcome(context.run_id, measurement, cell, reason, prepared, environment), None
    if not needs_quantizing(cell):
        return None, None
    quantization = context.quantization(cell)
    if quantization.status == "ok":
        return None, quantization.job
    outcome = skipped_outcome(
        context.run_id, measurement, cell, quantization.reason or "", prepared, environment
    )
    outcome.row.update(status=quantization.status, quantize_s=quantization.quantize_s)
    return outcome, None


@dataclass
class _Worker:
    """The cells of one worker process as it runs them, in order: each shown starting when the
    worker reaches it, and summarised as soon as its result is written -- not when the worker's
    last cell ends (in-process, one worker runs every framework)."""

    context: RunContext
    cells: list[Cell]
    started: set[str] = field(default_factory=set)  # cells that announced a phase: reached
    finished: dict[str, CellOutcome] = field(default_factory=dict)

    def _summarise(self, cell: Cell, exit: Exit, reached: bool) -> None:
        context = self.context
        outcome = summarise_cell(
            context.run_id,
            context.plan.measurement,
            cell,
            self._result(cell),
            exit,
            context.references.for_cell(cell),
            context.prepared[cell.model],
            context.environments[cell.framework_label],
            reached,
        )
        if outcome.row.get("quantize_s") is None:  # else the runner's own (quantized at load)
            outcome.row["quantize_s"] = context.quantize_s(cell)
        context.references.remember(cell, outcome)
        context.display.finish_cell(cell, outcome.row)
        self.finished[cell.cell_id] = outcome

    def _result(self, cell: Cell) -> Path:
        return self.context.run_dir / "cells" / cell.cell_id / "result.parquet"

    def on_event(self, event: dict[str, Any]) -> None:
        """An event of the worker's: to the display; a cell's last one summarises it."""
        cell = next((c for c in self.cells if c.cell_id == event.get("cell_id")), None)
        if cell is None:
            return
        if cell.cell_id not in self.started and cell is not self.cells[0]:  # the worker moved on to it
            self.context.display.event(cell, {"event": "phase", "phase": "starting"})
        self.started.add(cell.cell_id)
        self.context.display.event(cell, event)
        if _ended(event) and cell.cell_id not in self.finished and self._result(cell).is_file():
            self._summarise(cell, _RESULT_WRITTEN, True)

    def outcomes(self, exit: Exit) -> list[CellOutcome]:
        """Every cell's outcome once the worker ended (``exit``), in order; the worker starts on
        its first cell, and one it never reached is reported as not run."""
        for cell in self.cells:
            if cell.cell_id not in self.finished:
                self._summarise(cell, exit, cell is self.cells[0] or cell.cell_id in self.started)
        return [self.finished[cell.cell_id] for cell in self.cells]


# How a worker ended, for a cell summarised while its worker runs on: never consulted, as the
# cell's result file is there (the exit only explains a missing one).
_RESULT_WRITTEN = Exit(returncode=None, timed_out=False, elapsed_s=0.0)


def _ended(event: dict[str, Any]) -> bool:
    """The runner's last event of a cell: its result is written."""
    return event.get("event") == "phase" and event.get("phase") in ("done", "failed", "skipped")
