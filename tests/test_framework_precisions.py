"""bf16 and int8 in PyTorch and TensorFlow by their own documented paths: PyTorch's bf16 by
casting (channels-last for a CNN), its int8 by the PT2E flow (torchao's X86InductorQuantizer,
torch.compile) at load in the runner; TensorFlow's int8 by TFLite's converter in the quantize
process and its interpreter in the runner; JAX's int8 skipped, saying why. Each cell records
what executed, read from the framework (the profiler's operators, the TFLite model's).

No path needs a CPU feature to run: oneDNN's and XNNPACK's integer and bf16 kernels run on any
x86-64 (VNNI, AVX512-BF16 or AMX make them faster, not possible), so nothing here skips on a CPU.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import QUICK, only_run_dir, run_cli
from orchestrator.execute.environments import default_root, resolve
from orchestrator.plan.framework_refs import FrameworkRef
from orchestrator.plan.plan import Plan
from runners.calibration import calibration_calls
from runners.frameworks.tflite import compute_op_types, op_flops
from runners.precision import summarise, torch_compute_dtypes
from schemas.tensors import write_npy

# Few calibration samples: the flow is under test here, not the ranges.
_CALIBRATION = ["--calibration-samples", "8"]


def rows_by_cell(run_dir: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = pq.read_table(run_dir / "summary.parquet").to_pylist()
    return {(row["framework"], row["model"], row["precision"]): row for row in rows}


# --- pure parts ------------------------------------------------------------------------------


def test_calibration_calls_take_the_cells_shape_and_wrap_around(tmp_path: Path) -> None:
    ids = np.arange(10, dtype=np.int64).reshape(5, 2)
    write_npy(ids, tmp_path / "ids.npy")
    write_npy(ids.astype(np.float32) / 10, tmp_path / "mask.npy")
    paths = {"ids": str(tmp_path / "ids.npy"), "mask": str(tmp_path / "mask.npy")}
    calls = calibration_calls(paths, 2)
    assert [call["ids"][:, 0].tolist() for call in calls] == [[0, 2], [4, 6], [8, 0]]  # the last wraps
    assert all(list(call) == ["ids", "mask"] and call["mask"].dtype == np.float32 for call in calls)
    assert calibration_calls({}, 4) == []
    write_npy(ids[:3], tmp_path / "short.npy")
    with pytest.raises(ValueError, match="same number of samples"):
        calibration_calls({"ids": paths["ids"], "short": str(tmp_path / "short.npy")}, 2)


def test_pytorch_integer_kernels_read_as_int8() -> None:
    """oneDNN's integer operators take uint8 activations ("unsigned char") and int8 weights:
    int8 arithmetic; an attention product inductor left in float32 shows beside them."""
    events = [
        ("onednn::qlinear_pointwise", ["unsigned char", "float", "int", "signed char", "float"]),
        ("onednn::qconv_pointwise", ["unsigned char", "float", "int", "signed char"]),
        ("onednn::qconv2d_pointwise", ["unsigned char", "float", "int", "signed char"]),
        ("aten::bmm", ["float", "float"]),
    ]
    assert summarise(torch_compute_dtypes(events[:3])) == "int8"
    assert summarise(torch_compute_dtypes(events)) == "mixed: 3 int8, 1 fp32"


class _Interpreter:
    """The two calls compute_op_types makes of a TFLite interpreter, on a made-up graph."""

    _types: ClassVar[dict[int, type]] = {0: np.float32, 1: np.int8, 2: np.int8, 3: np.float32}

    def _get_ops_details(self) -> list[dict[str, Any]]:
        return [
            {"op_name": "QUANTIZE", "inputs": np.array([0])},
            {"op_name": "FULLY_CONNECTED", "inputs": np.array([1, 2, -1])},  # full-integer
            {"op_name": "FULLY_CONNECTED", "inputs": np.array([0, 2, -1])},  # dynamic range
            {"op_name": "BATCH_MATMUL", "inputs": np.array([0, 3])},  # left in float32
            {"op_name": "DELEGATE", "inputs": np.array([0, 2])},  # XNNPACK's node: not an operator
        ]

    def _get_tensor_details(self, index: int, subgraph: int) -> dict[str, Any]:
        return {"dtype": self._types[index]}


def test_a_tflite_models_compute_ops_are_read_with_their_types() -> None:
    ops = compute_op_types(_Interpreter())
    assert ops == [
        ("FULLY_CONNECTED", ["int8", "int8"]),
        ("FULLY_CONNECTED", ["float32", "int8"]),
        ("BATCH_MATMUL", ["float32", "float32"]),
    ]


def test_a_tflite_mix_gives_the_share_of_flops_in_int8() -> None:
    fc = op_flops("FULLY_CONNECTED", [[2, 200], [128, 200]], [2, 128])
    conv = op_flops("CONV_2D", [[1, 8, 8, 3], [16, 3, 3, 3]], [1, 8, 8, 16])
    attention = op_flops("BATCH_MATMUL", [[1, 2, 16, 32], [1, 2, 32, 16]], [1, 2, 16, 16])
    assert (fc, conv, attention) == (2 * 2 * 128 * 200, 2 * 8 * 8 * 16 * 27, 2 * 2 * 16 * 16 * 32)
    assert op_flops("TRANSPOSE_CONV", [[4], [16, 3, 3, 3]], [1, 8, 8, 16]) is None
    assert summarise(["int8", "float32"], [fc, attention]) == "mixed: 1 int8, 1 fp32 (76 % of FLOPs int8)"


def test_the_compile_options_belong_to_the_float_cells_only() -> None:
    """int8 always compiles in PyTorch (its integer kernels come from inductor) and runs the TFLite
    interpreter in TensorFlow: their compile options would make two identical int8 cells."""
    plan = Plan(frameworks=("pytorch", "tensorflow"), precisions=("fp32", "int8"), tune=True)
    for framework, key in (("pytorch", "compile"), ("tensorflow", "jit_compile")):
        assert {options[key] for options in plan.option_sets_for(framework, "fp32")} == {"true", "false"}
        assert plan.option_sets_for(framework, "int8") == [{}], framework


# --- end to end, each framework for real ------------------------------------------------------


def test_pytorch_int8_quantizes_at_load_and_runs_onednns_integer_kernels(tmp_path: Path) -> None:
    """Static (int8) and dynamic PT2E on the CNN (convolutions and a linear head) in the runner,
    its time a phase of its own, what ran read from the profiler, the settings from the quantizer."""
    proc = run_cli(
        ["--frameworks", "pytorch", "--model", "tiny-resnet", "--precision", "int8,int8-dynamic",
         "--batch-size", "2", *_CALIBRATION, *QUICK],
        cwd=tmp_path,
    )  # fmt: skip
    rows = rows_by_cell(only_run_dir(tmp_path / "results"))
    for (_, _, precision), row in rows.items():
        assert row["status"] == "ok", (precision, row["error"], proc.stderr[-3000:])
        assert row["quantize_s"] > 0 and row["load_s"] is not None, precision
        quantization = json.loads(row["settings_json"])["quantization"]
        assert quantization["where"] == "at load, in the runner"
        assert quantization["inductor_freezing"] is True
        assert quantization["weights"] == "int8 per_channel_symmetric, PerChannelMinMaxObserver"
    static = rows["pytorch", "tiny-resnet", "int8"]
    assert static["precision_effective"] == "int8"  # every convolution and the head: oneDNN's q-kernels
    assert "precision:" not in (static["warnings"] or ""), static["warnings"]
    settings = json.loads(static["settings_json"])["quantization"]
    assert (settings["flavour"], settings["calibration_calls"]) == ("static", 4)  # 8 samples, calls of 2
    # The dynamic flavour quantizes linear layers only: the convolutions stay fp32, and the
    # cell says so rather than int8.
    dynamic = rows["pytorch", "tiny-resnet", "int8-dynamic"]
    assert json.loads(dynamic["settings_json"])["quantization"]["flavour"] == "dynamic"
    assert dynamic["precision_effective"].startswith("mixed: ") and "1 int8" in dynamic["precision_effective"]
    assert "the framework compiled mixed" in dynamic["warnings"]
    assert proc.returncode == 0, proc.stderr[-3000:]


_USER_PT2 = """
import sys, torch
net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3)).eval()
batch = torch.export.Dim("batch", min=1, max=4096)
torch.export.save(torch.export.export(net, (torch.randn(2, 8),), dynamic_shapes=({0: batch},)), sys.argv[1])
"""


def test_pytorch_int8_quantizes_a_users_exported_program(tmp_path: Path) -> None:
    """A user's torch.export archive goes through the same PT2E flow (its module is already a graph)."""
    env = resolve([FrameworkRef("pytorch")], "own", default_root())["pytorch"]
    assert env.python is not None, env.error
    path = tmp_path / "net.pt2"
    subprocess.run([str(env.python), "-c", _USER_PT2, str(path)], check=True, capture_output=True)
    proc = run_cli(
        ["--model", str(path), "--frameworks", "pytorch", "--precision", "int8", "--batch-size", "4",
         *_CALIBRATION, *QUICK],
        cwd=tmp_path,
    )  # fmt: skip
    (row,) = rows_by_cell(only_run_dir(tmp_path / "results")).values()
    assert row["status"] == "ok", (row["error"], proc.stderr[-3000:])
    assert row["precision_effective"] == "int8"
    settings = json.loads(row["settings_json"])
    assert settings["mode"].startswith("torch.export archive") and "PT2E int8" in settings["mode"]
    assert settings["quantization"]["calibration_calls"] == 2  # 8 samples, calls of 4


def test_pytorch_bf16_runs_a_cnn_channels_last(tmp_path: Path) -> None:
    """A CNN in bf16 as PyTorch's CPU guides run it: weights and images channels-last; the
    profiler reads bf16 convolutions, and the outputs agree within bf16's tolerance."""
    proc = run_cli(
        [
            "--frameworks",
            "pytorch",
            "--model",
            "tiny-resnet",
            "--precision",
            "bf16",
            "--batch-size",
            "2",
            *QUICK,
        ],
        cwd=tmp_path,
    )
    (row,) = rows_by_cell(only_run_dir(tmp_path / "results")).values()
    assert row["status"] == "ok", (row["error"], proc.stderr[-3000:])
    assert row["precision_effective"] == "bf16" and row["parity_ok"], row["max_abs_diff"]
    assert json.loads(row["settings_json"])["mode"].endswith(", channels-last")


def test_tensorflow_int8_converts_with_tflite_and_runs_its_interpreter(tmp_path: Path) -> None:
    """Full-integer (int8) and dynamic-range (int8-dynamic) quantization by TFLite's converter
    in the quantize process; the cell runs the interpreter, and what ran is read from the model."""
    proc = run_cli(
        ["--frameworks", "tensorflow", "--model", "tiny-resnet,digits", "--precision", "int8,int8-dynamic",
         "--batch-size", "16", *_CALIBRATION, *QUICK],
        cwd=tmp_path,
    )  # fmt: skip
    rows = rows_by_cell(only_run_dir(tmp_path / "results"))
    # digits' dynamic range leaves its last layer float (TFLite quantizes weights of 1024
    # elements or more: 64x10 is not), its two large layers, 96 % of the FLOPs, in int8: the
    # share is counted at the cell's batch in every layer, not at the converter's batch of 1 in
    # the layers XNNPACK took over (which read 62 % at batch 16, 5 % at 540).
    digits_dynamic = rows.pop(("tensorflow", "digits", "int8-dynamic"))
    assert digits_dynamic["status"] == "ok", digits_dynamic["error"]
    share = re.search(r"\((\d+) % of FLOPs int8\)", digits_dynamic["precision_effective"])
    assert share and int(share.group(1)) >= 90, digits_dynamic["precision_effective"]
    for (_, _, precision), row in rows.items():
        assert row["status"] == "ok", (precision, row["error"], proc.stderr[-3000:])
        settings = json.loads(row["settings_json"])
        assert settings["mode"].startswith("TFLite interpreter, int8"), settings["mode"]
        assert settings["interpreter_threads"] == row["threads"]
        assert row["quantize_s"] > 0 and Path(settings["quantized_model"]).suffix == ".tflite"
        assert settings["quantization"]["flavour"] == (
            "dynamic-range" if precision == "int8-dynamic" else "full-integer"
        )
        assert row["precision_effective"] == "int8", precision  # every convolution and the head
    full = json.loads(rows["tensorflow", "tiny-resnet", "int8"]["settings_json"])["quantization"]
    assert full["calibration_samples"] == 8 and full["input_types"] == ["float32"]
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_jax_int8_is_skipped_saying_why(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "jax", "--precision", "int8", *QUICK], cwd=tmp_path)
    (row,) = rows_by_cell(only_run_dir(tmp_path / "results")).values()
    assert row["status"] == "skipped", row["error"]
    assert row["error"].startswith("jax documents no int8 inference path"), row["error"]
    assert "\n" not in row["error"]
    assert proc.returncode == 0, proc.stderr[-3000:]
