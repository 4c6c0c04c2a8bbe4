"""The user's own model files: models someone else made, in the formats each framework loads,
run where they can be loaded and are skipped with the reason elsewhere; a bad file is refused
before anything runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from orchestrator.execute.environments import default_root, resolve
from orchestrator.plan.framework_refs import FrameworkRef


def onnx_model(path: Path) -> Path:
    """A small graph written with onnx.helper: an embedding of token ids, averaged over a
    sequence whose length the file leaves open (named "sequence"), added to float features."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    weights = [
        numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal((50, 8)).astype(np.float32), "embedding"),
    ]
    nodes = [
        helper.make_node("Gather", ["embedding", "ids"], ["e"]),
        helper.make_node("ReduceMean", ["e"], ["m"], axes=[1], keepdims=0),
        helper.make_node("Add", ["m", "x"], ["s"]),
        helper.make_node("MatMul", ["s", "w"], ["mm"]),
        helper.make_node("Relu", ["mm"], ["y"]),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8]),
        helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "sequence"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])]
    model = helper.make_model(helper.make_graph(nodes, "theirs", inputs, outputs, weights))
    model.opset_import[0].version = 17
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


_PT2 = """
import sys, torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(16, 3)
    def forward(self, features):
        return torch.softmax(self.b(torch.relu(self.a(features))), dim=-1)
torch.manual_seed(0)
batch = torch.export.Dim("batch", min=1, max=4096)
program = torch.export.export(Net().eval(), (torch.randn(2, 8),), dynamic_shapes=({0: batch},))
torch.export.save(program, sys.argv[1])
"""


def pt2_model(path: Path) -> Path:
    """A torch.export archive made the way a PyTorch user makes one, in the PyTorch environment."""
    env = resolve([FrameworkRef("pytorch")], "own", default_root())["pytorch"]
    assert env.python is not None, env.error
    subprocess.run([str(env.python), "-c", _PT2, str(path)], check=True, capture_output=True)
    return path


def test_an_onnx_file_runs_in_both_onnx_runtimes_and_is_skipped_elsewhere(tmp_path: Path) -> None:
    path = onnx_model(tmp_path / "theirs.onnx")
    proc = run_cli(["--model", str(path), "--seq-len", "12", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    for name in ("onnxruntime", "openvino"):
        row = rows[name]
        assert row["status"] == "ok" and row["parity_ok"], (name, row["error"])
        assert row["model"] == "theirs" and row["model_source"] == str(path)
        assert row["parity_reference"].startswith("onnx.reference evaluator")
        assert '"ids": [1, 12]' in row["input_shapes"]  # --seq-len filled the "sequence" dim
        assert row["model_flops_per_sample"] == 2 * 8 * 4  # its one MatMul, counted from the graph
    for name in ("pytorch", "tensorflow", "jax"):
        assert rows[name]["status"] == "skipped"
        assert rows[name]["error"] == "an ONNX model runs in onnxruntime, openvino only"


def test_a_pt2_archive_runs_in_pytorch_and_through_the_tools_export_in_onnx(tmp_path: Path) -> None:
    path = pt2_model(tmp_path / "net.pt2")
    proc = run_cli(["--model", str(path), "--batch-size", "4", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    rows = summary_rows(run_dir)
    for name in ("pytorch", "onnxruntime", "openvino"):
        assert rows[name]["status"] == "ok" and rows[name]["parity_ok"], (name, rows[name]["error"])
        # Linear 8 -> 16 and 16 -> 3, counted from the tool's export of the archive
        assert rows[name]["model_flops_per_sample"] == 2 * (8 * 16 + 16 * 3), name
    assert rows["tensorflow"]["status"] == rows["jax"]["status"] == "skipped"
    assert (run_dir / "models" / "net" / "model.onnx").is_file()  # the export the tool made, kept
    assert "exported" in (run_dir / "models" / "net" / "export.log").read_text()


def test_a_dim_the_flags_leave_open_is_refused_naming_the_input(tmp_path: Path) -> None:
    path = onnx_model(tmp_path / "theirs.onnx")
    proc = run_cli(["--model", str(path), *QUICK], cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'ids'" in lines[0] and "--seq-len" in lines[0], proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("missing.onnx", None, "no such file"),
        ("notes.txt", lambda p: p.write_text("hello"), "not a model file"),
        ("garbage.onnx", lambda p: p.write_bytes(b"\x00\xff" * 64), "not a readable ONNX model"),
        ("truncated.onnx", "truncate", "not a readable ONNX model"),
        ("model.xml", lambda p: p.write_text("<net/>"), "model.bin is missing"),
        ("broken.pt2", lambda p: p.write_bytes(b"PK\x03\x04 not a zip"), "not a readable pt2 model"),
    ],
)
def test_a_bad_model_file_is_refused_before_anything_runs(
    tmp_path: Path, name: str, make: object, expected: str
) -> None:
    path = tmp_path / name
    if make == "truncate":
        whole = onnx_model(tmp_path / "whole.onnx").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif callable(make):
        make(path)
    proc = run_cli(["--model", str(path), *QUICK], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--model" in lines[0] and str(path) in lines[0] and expected in lines[0], (
        proc.stderr
    )
    assert not (tmp_path / "results").exists()
