"""Writes each model's shared files once, before any runner starts: weights, inputs, the
portable ONNX graph and the reference outputs, in ``<run>/models/<model>/``.

The parent never imports a framework: the weights are generated in numpy, the MLP's ONNX graph
is written from them with the ``onnx`` file-format library, and the zoo's graphs are exported
from PyTorch by a subprocess in the PyTorch environment (``runners.export``).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.base import Model, ModelFiles
from models.spec import ModelSpec
from orchestrator.execute.environments import Environment
from orchestrator.execute.inputs import write_inputs
from orchestrator.plan.workloads import family_of, rules_out
from schemas.tensors import write_npy

# A subprocess running ``python -m runners.export`` with the PyTorch environment, or the reason
# there is none; returns None on success, else the one-line reason.
Exporter = Callable[[list[str], Path], str | None]


@dataclass(frozen=True)
class PreparedModel:
    """A model's files in the run directory, and what the parent checks every runner against."""

    name: str
    ref: str  # registry name, or "file"
    model: Model
    spec: ModelSpec
    files: ModelFiles
    input_paths: dict[str, Path]  # .npy per input, in the model's order
    reference: np.ndarray | None  # outputs of the first reference rows, None: first framework's
    reference_kind: str | None  # what the reference is, in words
    onnx_error: str | None  # why there is no portable graph (ONNX Runtime, OpenVINO skipped)
    sha256: str | None  # of the user's file, or of the built-in's weights
    inputs_sha256: str | None = None  # of the input tensors, in the model's input order
    labels: np.ndarray | None = None  # the true class of the first inputs (a trained model's)
    # .npy per input of the seeded calibration set (calibration/ in the model's directory),
    # written only when a cell of the run quantizes; empty otherwise.
    calibration_paths: dict[str, Path] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files (a SavedModel) in name order."""
    digest = hashlib.sha256()
    paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for item in paths:
        with open(item, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def prepare_model(
    name: str,
    ref: str,
    model: Model,
    directory: Path,
    seed: int,
    shapes: dict[str, tuple[int, ...]],
    export: Exporter | None,
    inputs: dict[str, np.ndarray] | None = None,
    source: tuple[Path, str] | None = None,
    calibration_shapes: dict[str, tuple[int, ...]] | None = None,
) -> PreparedModel:
    """Write model ``name``'s weights, inputs (``inputs``, else seeded ones of ``shapes``), ONNX
    graph and reference into ``directory``.

    ``export`` runs the PyTorch export when the model's graph comes from PyTorch (None: no
    ONNX runtime needs it); ``source`` is the user's (file, format); ``calibration_shapes``
    (the calibration set's, batch first) writes a calibration set too.
    """
    spec = model.spec
    (directory / "inputs").mkdir(parents=True)
    files = ModelFiles(
        directory, None if source is None else source[0], None if source is None else source[1], spec.output
    )
    if source is None:
        model.write_weights(seed, directory)
        sha256: str | None = file_sha256(files.weights)
    else:
        sha256 = spec.source_sha256 or file_sha256(source[0])
    arrays = inputs if inputs is not None else model.make_inputs(seed, shapes)
    input_paths, inputs_sha256 = _write_inputs(arrays, directory)
    onnx_error = _write_onnx(model, files, ref, spec, export)
    reference, kind = None, None
    if onnx_error is None or model.onnx_from == "parent":
        reference, kind = _write_reference(model, files, arrays)
    calibration = (
        {} if calibration_shapes is None else write_calibration(model, seed, calibration_shapes, directory)
    )
    return PreparedModel(
        name,
        ref,
        model,
        spec,
        files,
        input_paths,
        reference,
        kind,
        onnx_error,
        sha256,
        inputs_sha256,
        # A user's --inputs are not the samples the model's labels belong to.
        model.labels() if inputs is None and source is None else None,
        calibration,
    )


def write_calibration(
    model: Model, seed: int, shapes: dict[str, tuple[int, ...]], directory: Path
) -> dict[str, Path]:
    """The seeded calibration set, one ``calibration/<input>.npy`` each (Model.calibration_inputs):
    drawn like the measured inputs from a seed stream of their own, so no calibration sample is a
    measured one (a trained model's come from its training data). With a user's --inputs the set
    is drawn by the model's spec all the same."""
    (directory / "calibration").mkdir(exist_ok=True)
    paths = {}
    for input_name, array in model.calibration_inputs(seed, shapes).items():
        paths[input_name] = directory / "calibration" / f"{input_name}.npy"
        write_npy(array, paths[input_name])
    return paths


def _write_inputs(arrays: dict[str, np.ndarray], directory: Path) -> tuple[dict[str, Path], str]:
    """inputs.parquet and one .npy per input; their paths, and the SHA-256 of names and buffers."""
    write_inputs(arrays, directory / "inputs.parquet")
    input_paths = {}
    inputs_digest = hashlib.sha256()
    for input_name, array in arrays.items():
        input_paths[input_name] = directory / "inputs" / f"{input_name}.npy"
        write_npy(array, input_paths[input_name])
        inputs_digest.update(input_name.encode())
        inputs_digest.update(np.ascontiguousarray(array).data)  # its buffer: no copy of the inputs
    return input_paths, inputs_digest.hexdigest()


def _write_reference(
    model: Model, files: ModelFiles, arrays: dict[str, np.ndarray]
) -> tuple[np.ndarray | None, str | None]:
    """The model's float64 reference outputs on its first rows, written as reference.npy, and
    their kind; (None, None) for a model without one."""
    rows = min(model.spec.reference_rows, min(len(a) for a in arrays.values()))
    try:
        reference = np.asarray(model.reference(files, {k: v[:rows] for k, v in arrays.items()}), np.float64)
    except NotImplementedError:
        return None, None
    write_npy(reference, files.directory / "reference.npy")
    return reference, model.reference_kind


def _write_onnx(
    model: Model, files: ModelFiles, ref: str, spec: ModelSpec, export: Exporter | None
) -> str | None:
    """Write the portable graph; the reason there is none, or None."""
    if files.source_format == "onnx":
        return None  # the user's own file is the graph
    if files.source_format not in (None, "pt2"):
        return f"no ONNX graph of a {files.source_format} model"
    if model.onnx_from == "parent":
        model.write_onnx(files)
        return None
    if export is None:
        return "no framework that reads ONNX in this run"
    command = [
        "--model-ref", ref, "--model-dir", str(files.directory),
        "--inputs", ",".join(spec.input_names()), "--output-name", spec.output,
    ]  # fmt: skip
    if files.source is not None:
        command += ["--source", str(files.source), "--format", str(files.source_format)]
    return export(command, files.directory / "export.log")


def run_export(python: Path | None, why_not: str | None, env: dict[str, str], timeout_s: float) -> Exporter:
    """An :data:`Exporter` that runs ``python -m runners.export`` with ``python`` (the PyTorch
    environment's interpreter), or reports ``why_not`` when there is none."""

    def export(arguments: list[str], log_path: Path) -> str | None:
        if python is None:
            return f"the ONNX graph is exported from PyTorch, which is not available: {why_not}"
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.run(
                    [str(python), "-m", "runners.export", *arguments],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    timeout=timeout_s,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired:
                return f"the ONNX export took longer than {timeout_s:g} s (see {log_path})"
        if proc.returncode != 0:
            lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
            return (
                f"the ONNX export failed: {lines[-1].strip() if lines else proc.returncode} (see {log_path})"
            )
        return None

    return export


def why_not_runnable(framework: str, prepared: PreparedModel, environment: Environment) -> str | None:
    """Why ``framework`` cannot run ``prepared`` in ``environment`` (the cell is skipped), or None."""
    if environment.error is not None:
        log = f" (log: {environment.log})" if environment.log else ""
        return f"its environment could not be built: {environment.error}{log}"
    source_format = prepared.files.source_format
    reason = rules_out(framework, prepared.name, source_format, prepared.model.families)
    if reason is not None:
        return reason
    # An ONNX-family framework runs the portable graph, unless it loads the user's file itself.
    uses_onnx = family_of(framework) == "onnx" and source_format not in ("onnx", "openvino-ir")
    if uses_onnx and prepared.onnx_error is not None:
        return f"no ONNX graph of {prepared.name}: {prepared.onnx_error}"
    return None
