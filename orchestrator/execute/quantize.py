"""Offline quantization before the cells that need it: ``python -m runners.quantize`` in the
framework's environment, once per (framework, model, precision, quantization options), timed
(``quantize_s``).

The quantized model, the request, the answer and ``quantize.log`` stay in the run directory,
in ``quantized/<model>/<framework>-<precision>[-<hash of the quantization options>]/``. A
quantizer that fails makes its cells ``failed`` with its last line (the log kept); one that
cannot quantize the model makes them ``skipped`` with its reason; every other cell runs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.execute.artifacts import PreparedModel
from orchestrator.plan.cells import Cell
from orchestrator.plan.options import declared
from runners.registry import quantizes_offline
from schemas.quantize import OUTCOME_FILE, QuantizeOutcome, QuantizeRequest

LOG_FILE = "quantize.log"


@dataclass(frozen=True)
class Quantization:
    """How one quantization ended: ok (the model to load), skipped or failed (and why)."""

    status: str  # ok | skipped | failed
    reason: str | None
    quantize_s: float | None  # the quantize process's wall time: start-up, import, calibration, writing
    directory: Path
    path: str | None = None  # the quantized model
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def job(self) -> dict[str, Any] | None:
        """What ``JobSpec.quantized`` holds for the runner."""
        return None if self.path is None else {"path": self.path, "settings": self.settings}


def needs_quantizing(cell: Cell) -> bool:
    """Whether ``cell`` loads a model its framework's quantizer makes beforehand."""
    return quantizes_offline(cell.framework, cell.precision)


def directory_for(run_dir: Path, cell: Cell) -> Path:
    """Where ``cell``'s quantization lives: one per framework, model, precision and quantization
    options (those that apply to some precisions only: cells that differ in another option, a
    thread pool's spinning, share one quantized model)."""
    offered = declared(cell.framework)
    options = {
        key: value
        for key, value in json.loads(cell.options_json).items()
        if key in offered and offered[key].precisions
    }
    text = json.dumps(options, sort_keys=True)
    tag = f"-{hashlib.sha256(text.encode()).hexdigest()[:8]}" if options else ""
    label = cell.framework_label.replace("@", "-")
    return run_dir / "quantized" / cell.model / f"{label}-{cell.precision}{tag}"


def quantize(
    cell: Cell, prepared: PreparedModel, python: Path, directory: Path, env: dict[str, str], timeout_s: float
) -> Quantization:
    """Run the framework's quantizer for ``cell`` with ``python`` (its environment's interpreter),
    pinned to the cell's CPUs with its threads, and return how it ended."""
    directory.mkdir(parents=True, exist_ok=True)
    files = prepared.files
    request = QuantizeRequest(
        framework=cell.framework,
        model=prepared.name,
        model_ref=prepared.ref,
        precision=cell.precision,
        model_dir=str(files.directory.resolve()),
        calibration={name: str(path.resolve()) for name, path in prepared.calibration_paths.items()},
        output_dir=str(directory.resolve()),
        options=json.loads(cell.options_json),
        source=None if files.source is None else str(files.source.resolve()),
        source_format=files.source_format,
        cpus=cell.pinned_to,
        threads=cell.threads,
    )
    request_path = directory / "request.json"
    request_path.write_text(request.to_json())
    log_path = directory / LOG_FILE
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.run(
                [str(python), "-m", "runners.quantize", str(request_path.resolve())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                timeout=timeout_s,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            return Quantization(
                "failed",
                f"quantizing took longer than --timeout {timeout_s:g} s (see {log_path})",
                None,
                directory,
            )
    return _ended(proc.returncode, time.perf_counter() - start, directory)


def _ended(returncode: int, seconds: float, directory: Path) -> Quantization:
    """The quantization as its answer (quantize.json) and exit status tell it."""
    log_path = directory / LOG_FILE
    try:
        outcome: QuantizeOutcome | None = QuantizeOutcome.read(directory)
    except (OSError, ValueError, KeyError, TypeError):
        outcome = None  # killed, or crashed before it could answer
    if outcome is not None and outcome.status == "ok" and outcome.result is not None and returncode == 0:
        settings = dict(outcome.result.settings, quantize_call_s=outcome.call_s)
        return Quantization("ok", None, seconds, directory, outcome.result.model_path, settings)
    if outcome is not None and outcome.status == "skipped":
        return Quantization("skipped", f"cannot quantize: {outcome.reason}", seconds, directory)
    last = outcome.reason if outcome is not None and outcome.reason else _last_log_line(log_path, returncode)
    return Quantization("failed", f"quantizing failed: {last} (see {log_path})", seconds, directory)


def _last_log_line(log_path: Path, returncode: int) -> str:
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    if lines:
        return lines[-1]
    return f"the quantizer exited with status {returncode} and wrote no {OUTCOME_FILE}"
