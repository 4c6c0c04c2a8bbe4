"""The user's own model files: recognised, checked and read as far as their inputs, before
anything runs. A file that does not exist, is not a model, or is corrupt or truncated is a
one-line error naming it (exit 2, nothing written).

ONNX is read here (the onnx file-format library); the other formats by the framework that reads
them, in that framework's environment (``runners.inspect``), which is built first if need be.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from models.spec import InputSpec, ModelSpec, Tolerance
from models.user import UserModel, detect_format, dim_name, flag_symbol
from orchestrator.execute.artifacts import file_sha256
from orchestrator.execute.environments import Environment, StatusHandler, resolve
from orchestrator.execute.launcher import worker_env
from orchestrator.plan.errors import PlanError
from orchestrator.plan.framework_refs import FrameworkRef
from orchestrator.plan.workloads import Workload
from runners.registry import inspector_of

_DTYPES = {
    "float32": "float32", "float": "float32", "float16": "float16", "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32", "bool": "bool",
}  # fmt: skip
# Parity of a user's model: relative to its largest output, like the zoo's.
_TOLERANCE = {"fp32": Tolerance(relative=1e-4), "bf16": Tolerance(relative=5e-2)}


def _fail(path: Path, problem: str) -> PlanError:
    return PlanError("--model", f"{path}: {problem}")


def resolve_user_model(
    path: Path,
    taken: set[str],
    environment: str,
    envs_root: Path,
    on_status: StatusHandler | None = None,
    torch_index: str | None = None,
) -> Workload:
    """The workload of the user's file ``path``: its format, inputs and a unique name.

    ``environment``, ``envs_root`` and ``torch_index`` say where the framework that reads a
    non-ONNX file runs, and where its torch comes from.
    """
    if not path.exists():
        raise _fail(path, "no such file or directory")
    source_format = detect_format(path)
    if source_format is None:
        raise _fail(
            path,
            "not a model file; expected .onnx, .pt2 (torch.export), .keras, a SavedModel directory "
            "or an OpenVINO .xml (with its .bin)",
        )
    if source_format == "openvino-ir" and not path.with_suffix(".bin").is_file():
        raise _fail(
            path, f"an OpenVINO IR needs its weights beside it: {path.with_suffix('.bin').name} is missing"
        )
    if source_format == "onnx":
        declared = _inspect_onnx(path)
    else:
        reader = _reader_environment(source_format, environment, envs_root, on_status, torch_index)
        declared = _inspect_in(reader, path, source_format)
    name = _unique(re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem if path.is_file() else path.name), taken)
    spec = _spec(name, path, source_format, declared)
    return Workload(
        name, "file", UserModel(path.resolve(), source_format, spec), (path.resolve(), source_format)
    )


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def _reader_environment(
    source_format: str, environment: str, root: Path, status: StatusHandler | None, torch_index: str | None
) -> Environment:
    kind = "shared" if environment == "shared" else "current" if environment == "current" else "own"
    reader = inspector_of(source_format)
    assert reader is not None, f"the parent reads {source_format} itself"
    return resolve([FrameworkRef(reader)], kind, root, status, torch_index)[reader]


def _inspect_in(env: Environment, path: Path, source_format: str) -> dict[str, Any]:
    """The file's declared inputs and outputs, read by its framework in its environment."""
    if env.python is None:
        raise _fail(path, f"{inspector_of(source_format)}, which reads it, is not available: {env.error}")
    proc = subprocess.run(
        [str(env.python), "-m", "runners.inspect", "--format", source_format, str(path.resolve())],
        capture_output=True,
        text=True,
        env=worker_env(),
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise _fail(path, f"not a readable {source_format} model ({lines[-1] if lines else proc.returncode})")
    return dict(json.loads(proc.stdout))


def _inspect_onnx(path: Path) -> dict[str, Any]:
    import onnx
    from onnx import TensorProto

    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as exc:  # truncated, corrupt, or not ONNX at all
        first = str(exc).strip().splitlines()
        raise _fail(
            path, f"not a readable ONNX model ({first[0] if first else type(exc).__name__})"
        ) from None
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dtype = TensorProto.DataType.Name(tensor.elem_type).lower()
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]
        inputs.append(
            {"name": value.name, "dtype": dtype, "dims": dims, "vocab": _vocabulary(model, value.name)}
        )
    return {"inputs": inputs, "outputs": [value.name for value in model.graph.output]}


def _vocabulary(model: Any, input_name: str) -> int | None:
    """Rows of the embedding table an integer input indexes (a Gather on an initializer), if any."""
    from onnx import numpy_helper

    tables = {tensor.name: tensor for tensor in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == input_name:
            table = tables.get(node.input[0])
            if table is not None and table.dims:
                return int(numpy_helper.to_array(table).shape[0])
    return None


def _dims(raw: list[Any], input_name: str, dim_flags: dict[str, str]) -> tuple[int | str, ...]:
    """An input's dims: its fixed sizes, and its open dims by the names its file gives them
    (``batch`` first), each name the flag that also fills it noted in ``dim_flags``."""
    dims: list[int | str] = []
    for axis, dim in enumerate(raw):
        if isinstance(dim, int) and dim > 0 and axis > 0:
            dims.append(dim)
            continue
        own = dim if isinstance(dim, str) and dim else None
        dims.append("batch" if axis == 0 else dim_name(own, input_name, axis))
        symbol = flag_symbol(own, axis) if own else None
        if own and symbol and own != symbol:
            dim_flags[own] = symbol
    return tuple(dims)


def _spec(name: str, path: Path, source_format: str, declared: dict[str, Any]) -> ModelSpec:
    inputs = []
    fixed_batch: int | None = None
    dim_flags: dict[str, str] = {}
    for item in declared["inputs"]:
        dtype = _DTYPES.get(str(item["dtype"]).lower())
        if dtype is None:
            raise _fail(
                path,
                f"input {item['name']!r} is {item['dtype']}; the tool feeds float32, int64, int32 or bool",
            )
        raw = list(item["dims"])
        if not raw:
            raise _fail(path, f"input {item['name']!r} is a scalar; expected a batch axis first")
        if isinstance(raw[0], int) and raw[0] > 0:
            fixed_batch = raw[0]
        dims = _dims(raw, item["name"], dim_flags)
        lowered = item["name"].lower()
        if dtype.startswith("float"):
            values, high = "uniform", None
        elif "mask" in lowered:
            values, high = "ones", None
        else:  # token ids: below the vocabulary the graph indexes, where it tells; else 0 or 1
            values, high = "tokens", item.get("vocab") or 2
        inputs.append(InputSpec(item["name"], dtype, dims, values=values, high=high))
    if not inputs:
        raise _fail(path, "declares no inputs")
    outputs = declared.get("outputs") or ["output"]
    return ModelSpec(
        name=name,
        description=f"the user's {source_format} model {path.name}",
        inputs=tuple(inputs),
        output=str(outputs[0]),
        default_dims={"batch": fixed_batch or 1},
        single_stream_samples=8,
        reference_rows=4,
        tolerance=_TOLERANCE,
        source=str(path.resolve()),
        source_sha256=file_sha256(path),
        fixed_batch=fixed_batch,
        dim_flags=dim_flags,
    )
