"""precision_effective is what executed, observed from each framework's own record of it (its
profiler, its compiled graph), or ``unobserved`` with the reason -- never the precision asked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import QUICK, cpu_has_bf16, only_run_dir, run_cli, summary_rows
from orchestrator.execute.environments import default_root, resolve
from orchestrator.plan.framework_refs import FrameworkRef
from runners.precision import hlo_compute_dtypes, onnxruntime_compute, summarise, torch_compute_dtypes


def ort_kernel(op: str, *types: str, provider: str = "CPUExecutionProvider") -> list[dict[str, object]]:
    """The three events ONNX Runtime's profiler writes for one node: two fences and the kernel."""
    kernel = {
        "cat": "Node",
        "name": f"{op}_node_kernel_time",
        "args": {"op_name": op, "provider": provider, "input_type_shape": [{t: [1, 8]} for t in types]},
    }
    fences = [{"cat": "Node", "name": f"{op}_node_fence_{when}", "args": {}} for when in ("before", "after")]
    return [fences[0], kernel, fences[1]]


def test_onnxruntime_precision_is_read_from_the_kernels_that_ran() -> None:
    profile = [
        {"cat": "Session", "name": "model_run", "args": {}},
        *ort_kernel("Cast", "float"),  # not a compute op
        *ort_kernel("MatMul", "bfloat16", "bfloat16"),
        *ort_kernel("FusedConv", "bfloat16"),
    ]
    dtypes, providers = onnxruntime_compute(profile)
    assert (summarise(dtypes), providers) == ("bf16", ["CPUExecutionProvider"])
    dtypes, _ = onnxruntime_compute([*profile, *ort_kernel("Gemm", "float")])
    assert summarise(dtypes) == "mixed: 2 bf16, 1 fp32"


def test_pytorch_precision_counts_the_operators_that_compute_once() -> None:
    events = [
        ("aten::linear", ["c10::BFloat16", "c10::BFloat16", "c10::BFloat16"]),  # calls addmm: not counted
        ("aten::addmm", ["c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "Scalar", "Scalar"]),
        ("aten::to", ["float", "Scalar"]),
        ("aten::_convolution", ["", "float", "float"]),
    ]
    found = torch_compute_dtypes(events)
    assert found == ["c10::BFloat16", "float"] and summarise(found) == "mixed: 1 bf16, 1 fp32"
    assert summarise(torch_compute_dtypes(events[2:3])) is None  # nothing computed: unobserved


def test_xla_precision_is_read_from_the_hlo() -> None:
    hlo = (
        "%dot.3 = bf16[1000,128]{1,0} dot(%p0, %p1)\n"
        "%convolution.1 = f32[1,8,8,4]{3,2,1,0} convolution(%a, %b)"
    )
    assert summarise(hlo_compute_dtypes(hlo)) == "mixed: 1 bf16, 1 fp32"


def test_the_record_is_what_ran_not_what_was_asked(tmp_path: Path) -> None:
    """fp32 asked of all three: the fake computes fp32, its half-precision twin fp16 (numpy's
    products say so), and the identity computes nothing, so nothing is observed."""
    proc = run_cli(["--frameworks", "fake,fake-half,noop", *QUICK], cwd=tmp_path)
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    assert {name: row["precision"] for name, row in rows.items()} == dict.fromkeys(rows, "fp32")
    assert rows["fake"]["precision_effective"] == "fp32"
    assert rows["fake-half"]["precision_effective"] == "fp16"
    assert "precision: fp32 asked, the framework compiled fp16" in rows["fake-half"]["warnings"]
    assert rows["noop"]["precision_effective"] == "unobserved"
    settings = json.loads(rows["noop"]["settings_json"])
    assert settings["precision_unobserved"] == "the identity does no arithmetic"
    assert "precision" not in (rows["noop"]["warnings"] or ""), proc.stdout


def float64_onnx(path: Path) -> Path:
    """A graph that takes and gives float32 and multiplies in float64 in between."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(2).standard_normal((8, 4))
    nodes = [
        helper.make_node("Cast", ["x"], ["x64"], to=TensorProto.DOUBLE),
        helper.make_node("MatMul", ["x64", "w"], ["y64"]),
        helper.make_node("Cast", ["y64"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnxruntime_records_the_type_its_kernels_ran_in(tmp_path: Path) -> None:
    """fp32 asked; the user's graph multiplies in float64, and the record says so."""
    path = float64_onnx(tmp_path / "wide.onnx")
    proc = run_cli(["--model", str(path), "--frameworks", "onnxruntime", *QUICK], cwd=tmp_path)
    row = summary_rows(only_run_dir(tmp_path / "results"))["onnxruntime"]
    assert row["status"] == "ok", (row["error"], proc.stderr)
    assert (row["precision"], row["precision_effective"]) == ("fp32", "fp64")
    assert json.loads(row["settings_json"])["compute_providers"] == ["CPUExecutionProvider"]


_MIXED_PT2 = """
import sys, torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(16, 3).to(torch.bfloat16)
    def forward(self, features):
        return self.b(torch.relu(self.a(features)).to(torch.bfloat16)).float()
torch.manual_seed(0)
batch = torch.export.Dim("batch", min=1, max=4096)
program = torch.export.export(Net().eval(), (torch.randn(2, 8),), dynamic_shapes=({0: batch},))
torch.export.save(program, sys.argv[1])
"""


def test_pytorch_records_the_types_its_operators_ran_in(tmp_path: Path) -> None:
    """fp32 asked of a user's archive that runs one layer in bfloat16: the record says mixed."""
    env = resolve([FrameworkRef("pytorch")], "own", default_root())["pytorch"]
    assert env.python is not None, env.error
    path = tmp_path / "mixed.pt2"
    subprocess.run([str(env.python), "-c", _MIXED_PT2, str(path)], check=True, capture_output=True)
    proc = run_cli(
        ["--model", str(path), "--frameworks", "pytorch", "--batch-size", "4", *QUICK], cwd=tmp_path
    )
    row = summary_rows(only_run_dir(tmp_path / "results"))["pytorch"]
    assert row["status"] == "ok", (row["error"], proc.stderr)
    assert row["precision"] == "fp32"
    assert row["precision_effective"] in ("mixed: 1 fp32, 1 bf16", "mixed: 1 bf16, 1 fp32")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_tensorflow_without_xla_records_its_graphs_types(tmp_path: Path, precision: str) -> None:
    """A plain TensorFlow graph (no XLA): the types of its MatMul operations, as run."""
    if precision == "bf16" and not cpu_has_bf16():
        pytest.skip("this CPU has no bfloat16 arithmetic (avx512_bf16, amx_bf16, avx_ne_convert)")
    proc = run_cli(
        ["--frameworks", "tensorflow,pytorch", "--option", "tensorflow.jit_compile=false",
         "--precision", precision, *QUICK],
        cwd=tmp_path,
    )  # fmt: skip
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    for name, row in rows.items():
        assert row["status"] == "ok", (name, row["error"], proc.stderr)
        assert row["precision_effective"] == precision, name
        assert "precision_unobserved" not in json.loads(row["settings_json"]), name
