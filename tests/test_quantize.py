"""int8 by each framework's own offline quantizer, in a process of its own: the calibration set,
``python -m runners.quantize``, the quantized model the runner loads, what executed, and the
failure path (a calibration that fails: the cell failed with the quantizer's last line, the log
kept, the other cells run)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import QUICK, only_run_dir, run_cli
from models.registry import load_model
from orchestrator.plan.options import as_json, defaults
from orchestrator.plan.plan import Plan
from runners.precision import onnxruntime_compute, onnxruntime_compute_flops, openvino_layer_flops, summarise
from runners.quantizers import onnxruntime as ort_quantizer
from runners.quantizers.onnxruntime import choose_flavour
from schemas.quantize import QuantizeOutcome, QuantizeRequest, QuantizeResult


def rows_by_model(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {row["model"]: row for row in pq.read_table(run_dir / "summary.parquet").to_pylist()}


# --- pure parts ------------------------------------------------------------------------------


def test_the_calibration_set_is_drawn_like_the_inputs_and_is_none_of_them() -> None:
    model = load_model("tiny-distilbert")
    shapes = {"input_ids": (64, 16), "attention_mask": (64, 16)}
    inputs = model.make_inputs(0, shapes)
    calibration = model.calibration_inputs(0, shapes)
    ids, calibration_ids = inputs["input_ids"], calibration["input_ids"]
    assert calibration_ids.dtype == ids.dtype and calibration_ids.shape == ids.shape
    assert calibration_ids.min() >= 0 and calibration_ids.max() < model.spec.inputs[0].high  # type: ignore[operator]
    assert not any(np.array_equal(row, other) for row in calibration_ids for other in ids)
    np.testing.assert_array_equal(calibration["attention_mask"], inputs["attention_mask"])  # all ones
    again = model.calibration_inputs(0, shapes)
    np.testing.assert_array_equal(again["input_ids"], calibration_ids)  # seeded


def test_int8_flavours_follow_onnxruntime_guidance() -> None:
    assert choose_flavour("int8", {"Conv", "Relu"})[0] == "static"
    assert choose_flavour("int8", {"MatMul", "Softmax"})[0] == "dynamic"
    assert choose_flavour("int8-dynamic", {"Conv"})[0] == "dynamic"
    assert choose_flavour("int8-static", {"MatMul"})[0] == "static"


def test_quantization_options_belong_to_the_int8_cells_only() -> None:
    plan = Plan(frameworks=("onnxruntime",), precisions=("fp32",), tune=True)
    assert all("activation_type" not in options for options in plan.option_sets_for("onnxruntime", "fp32"))
    int8 = plan.option_sets_for("onnxruntime", "int8")
    assert {options["activation_type"] for options in int8} == {"uint8", "int8"}
    assert {options["quant_format"] for options in int8} == {"qdq", "qoperator"}
    default = Plan(frameworks=("onnxruntime",), precisions=("int8",)).cells()[0]
    assert json.loads(default.options_json)["activation_type"] == "uint8"  # U8S8 by default


def test_one_quantization_serves_the_cells_that_differ_in_other_options(tmp_path: Path) -> None:
    from orchestrator.execute.quantize import directory_for

    plan = Plan(frameworks=("onnxruntime",), precisions=("int8",), tune=True)
    cells = plan.cells()
    by_options = {cell.options_json: directory_for(tmp_path, cell) for cell in cells}
    spinning = [d for o, d in by_options.items() if '"spinning": "off"' in o]
    activations = [d for o, d in by_options.items() if '"activation_type": "int8"' in o]
    default = by_options[next(o for o in by_options if o == as_json(defaults("onnxruntime")))]
    assert spinning == [default] and activations and default not in activations
    assert len(set(by_options.values())) == 3  # the defaults, S8S8, QOperator: quantized once each


def test_an_onnxruntime_profile_of_integer_nodes_reads_int8() -> None:
    def node(op: str, dtype: str) -> dict[str, Any]:
        args = {"op_name": op, "provider": "CPUExecutionProvider", "input_type_shape": [{dtype: [1, 8]}]}
        return {"cat": "Node", "name": f"{op}_kernel_time", "args": args}

    events = [node("QLinearConv", "uint8"), node("DynamicQuantizeMatMul", "float"), node("MatMul", "float")]
    dtypes, providers = onnxruntime_compute(events)
    assert summarise(dtypes) == "mixed: 2 int8, 1 fp32" and providers == ["CPUExecutionProvider"]


def test_a_mix_says_its_share_of_flops_at_the_lower_precision() -> None:
    def node(op: str, inputs: list[dict[str, list[int]]], output: list[int]) -> dict[str, Any]:
        args = {"op_name": op, "input_type_shape": inputs, "output_type_shape": [{"float": output}]}
        return {"cat": "Node", "name": f"{op}_kernel_time", "args": args}

    events = [
        node("DynamicQuantizeMatMul", [{"float": [4, 200]}, {"float": []}], [4, 128]),  # 2*4*128*200
        node("MatMul", [{"float": [4, 128]}, {"float": [128, 8]}], [4, 8]),  # 2*4*8*128
        node(
            "QLinearConv",
            [{"uint8": [1, 8, 8, 3]}, {"float": []}, {"uint8": []}, {"float": [16]}],
            [1, 8, 8, 16],
        ),
    ]
    flops = onnxruntime_compute_flops(events)
    assert flops == [2 * 4 * 128 * 200, 2 * 4 * 8 * 128, None]  # a pre-packed weight lists no shape
    unpacked = node(
        "QLinearConv",
        [{"uint8": [1, 8, 8, 3]}, {"float": []}, {"uint8": []}, {"int8": [16, 3, 3, 3]}],
        [1, 8, 8, 16],
    )
    assert onnxruntime_compute_flops([unpacked]) == [2 * 8 * 8 * 16 * 3 * 3 * 3]
    dtypes, _ = onnxruntime_compute(events[:2])
    assert summarise(dtypes, flops[:2]) == "mixed: 1 int8, 1 fp32 (96 % of FLOPs int8)"
    assert summarise([*dtypes, "int8"], flops) == "mixed: 2 int8, 1 fp32"  # a FLOP count unknown: none
    assert openvino_layer_flops("Convolution", [[1, 3, 32, 32], [16, 3, 7, 7]], [1, 16, 16, 16]) == (
        2 * 16 * 16 * 16 * 3 * 7 * 7
    )
    assert openvino_layer_flops("FullyConnected", [[1, 16, 32], [64, 32]], [1, 16, 64]) == 2 * 16 * 64 * 32
    assert openvino_layer_flops("Convolution", [[1, 3, 32, 32]], [1, 16, 16, 16]) is None


def test_a_quantize_request_and_its_answer_round_trip(tmp_path: Path) -> None:
    request = QuantizeRequest("onnxruntime", "mlp", "mlp", "int8", "/m", {"input": "/c.npy"}, str(tmp_path))
    (tmp_path / "request.json").write_text(request.to_json())
    assert QuantizeRequest.from_file(tmp_path / "request.json") == request
    QuantizeOutcome("ok", None, QuantizeResult("/q.onnx", {"flavour": "dynamic"}), 0.5).write(tmp_path)
    assert QuantizeOutcome.read(tmp_path).result == QuantizeResult("/q.onnx", {"flavour": "dynamic"})


# --- end to end --------------------------------------------------------------------------------


def test_each_onnx_runtime_quantizes_each_model_and_runs_int8(tmp_path: Path) -> None:
    """One run of both ONNX runtimes on the three tiny models (one export each). Each model is
    quantized in a process of its own before its cell (the model and quantize.log kept in the
    run directory), timed apart from the timed loop, loaded by the runner, and observed running
    int8 kernels. ONNX Runtime: dynamic for the MLP and the transformer, static QDQ per channel
    for the CNN, U8S8. OpenVINO: NNCF (never imported by the runner), its IR at f32 hint."""
    models = "mlp,tiny-resnet,tiny-distilbert"
    flags = ["--precision", "int8", "--calibration-samples", "16", "--output", str(tmp_path), "--quiet"]
    proc = run_cli(["--frameworks", "onnxruntime,openvino", "--model", models, *flags, *QUICK], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = only_run_dir(tmp_path)
    rows = {(r["framework"], r["model"]): r for r in pq.read_table(run_dir / "summary.parquet").to_pylist()}
    assert len(rows) == 6
    for (framework, model), row in rows.items():
        assert row["status"] == "ok", (framework, model, row["error"])
        settings = json.loads(row["settings_json"])
        quantized = Path(settings["quantized_model"])
        assert quantized.is_file() and quantized.is_relative_to(run_dir / "quantized" / model)
        assert (quantized.parent / "quantize.log").is_file()
        assert row["quantize_s"] > settings["quantization"]["quantize_call_s"] > 0
        loaded = json.loads(row["modules_json"])
        assert "nncf" not in loaded and "sklearn" not in loaded and "onnx" not in loaded
        # The calibration set: beside the inputs, as many samples as asked.
        for name in json.loads(row["input_shapes"]):
            assert len(np.load(run_dir / "models" / model / "calibration" / f"{name}.npy")) == 16
    flavours = {"mlp": "dynamic", "tiny-resnet": "static", "tiny-distilbert": "dynamic"}
    for model, flavour in flavours.items():
        settings = json.loads(rows["onnxruntime", model]["settings_json"])
        assert settings["quantization"]["flavour"] == flavour
        written = "QDQ" if flavour == "static" else "integer operators (dynamic)"
        assert settings["quantization"]["format"] == written
        assert settings["quantization"]["activation_type"].startswith("uint8")  # U8S8
        assert settings["options"]["activation_type"] == "uint8"
        settings = json.loads(rows["openvino", model]["settings_json"])
        assert settings["quantization"]["fake_quantize_nodes"] > 0
        assert settings["INFERENCE_PRECISION_HINT"] == "f32"  # the layers left in float: f32, not bf16
    # What ran, read back: ONNX Runtime's node types and OpenVINO's layers' runtime precision are
    # integer on any x86-64 (VNNI or not, only their speed differs), so never skipped. ONNX
    # Runtime's dynamic transformer keeps its attention's activation products in float: mixed.
    assert rows["onnxruntime", "mlp"]["precision_effective"] == "int8"
    assert rows["onnxruntime", "tiny-resnet"]["precision_effective"] == "int8"
    assert rows["onnxruntime", "tiny-distilbert"]["precision_effective"].startswith("mixed: ")
    assert "% of FLOPs int8)" in rows["onnxruntime", "tiny-distilbert"]["precision_effective"]
    for model in flavours:
        assert rows["openvino", model]["precision_effective"] == "int8"


def _graph(path: Path, nodes: list[Any], initializers: list[Any], width: int = 8) -> None:
    """A user's ONNX file: ``x`` [batch, 8] in, ``y`` [batch, width] out."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_a_users_model_is_quantized_where_it_can_be_and_skipped_where_not(tmp_path: Path) -> None:
    """A user's file with a matrix product: quantized by both ONNX runtimes; one with nothing to
    quantize (no product, no convolution): skipped by each, saying why in one line."""
    from onnx import helper, numpy_helper

    values = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    _graph(
        tmp_path / "dense.onnx",
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        [numpy_helper.from_array(values, "W")],
        4,
    )
    _graph(tmp_path / "plain.onnx", [helper.make_node("Relu", ["x"], ["y"])], [])
    models = f"{tmp_path / 'dense.onnx'},{tmp_path / 'plain.onnx'}"
    flags = [
        "--precision",
        "int8",
        "--calibration-samples",
        "8",
        "--output",
        str(tmp_path / "out"),
        "--quiet",
    ]
    proc = run_cli(["--frameworks", "onnxruntime,openvino", "--model", models, *flags, *QUICK], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = pq.read_table(only_run_dir(tmp_path / "out") / "summary.parquet").to_pylist()
    assert len(rows) == 4
    for row in rows:
        if row["model"] == "dense":
            assert row["status"] == "ok" and row["precision_effective"] == "int8", (
                row["framework"],
                row["error"],
            )
        else:
            assert row["status"] == "skipped" and row["error"].startswith("cannot quantize: "), row["error"]
            assert "\n" not in row["error"]


def _nan_graph(path: Path) -> None:
    """A graph whose activations are NaN for inputs in [0, 1): log(-x), then a matrix product."""
    from onnx import helper, numpy_helper

    values = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Neg", ["x"], ["negated"]),
        helper.make_node("Log", ["negated"], ["logged"]),
        helper.make_node("MatMul", ["logged", "W"], ["y"]),
    ]
    _graph(path, nodes, [numpy_helper.from_array(values, "W")], 4)


def test_a_calibration_that_fails_fails_its_cell_alone(tmp_path: Path) -> None:
    """NaN activations give a NaN range: the quantizer fails, its cell is failed with the
    quantizer's last line and the log kept, and the other model's cell runs."""
    _nan_graph(tmp_path / "nan.onnx")
    models = f"{tmp_path / 'nan.onnx'},mlp"
    flags = ["--precision", "int8-static", "--calibration-samples", "8", "--output", str(tmp_path / "out")]
    proc = run_cli(["--frameworks", "onnxruntime", "--model", models, *flags, "--quiet", *QUICK], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = rows_by_model(only_run_dir(tmp_path / "out"))
    failed = rows["nan"]
    assert failed["status"] == "failed" and failed["error"].startswith("quantizing failed: ")
    log = Path(failed["error"].rsplit("(see ", 1)[1].rstrip(")"))
    last = [line for line in log.read_text().splitlines() if line.strip()][-1]
    assert last in failed["error"] and failed["quantize_s"] is not None
    assert rows["mlp"]["status"] == "ok", rows["mlp"]["error"]
    assert json.loads(rows["mlp"]["settings_json"])["quantization"]["flavour"] == "static"


def _fake_pre_process(monkeypatch: pytest.MonkeyPatch, fault: Exception) -> None:
    """ONNX Runtime's quant_pre_process, as the quantizer imports it, failing with ``fault``."""

    def quant_pre_process(source: str, target: str) -> None:
        raise fault

    module = types.ModuleType("onnxruntime.quantization.shape_inference")
    module.quant_pre_process = quant_pre_process  # type: ignore[attr-defined]
    for name in ("onnxruntime", "onnxruntime.quantization"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)


def test_a_graph_onnx_runtime_cannot_pre_process_is_quantized_as_it_is_saying_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_pre_process(monkeypatch, RuntimeError("symbolic shape inference failed\nat node Where_7"))

    prepared, record = ort_quantizer._pre_process(tmp_path / "model.onnx", tmp_path / "model.pre.onnx")

    assert prepared == tmp_path / "model.onnx"
    assert record == "failed, quantized without it: RuntimeError: at node Where_7"


def test_a_full_disk_while_pre_processing_fails_the_quantization(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Quantized without the step, the model is another one: the machine's fault is not hidden."""
    _fake_pre_process(monkeypatch, OSError(28, "No space left on device"))

    with pytest.raises(OSError, match="No space left on device"):
        ort_quantizer._pre_process(tmp_path / "model.onnx", tmp_path / "model.pre.onnx")


def test_openvino_has_no_int8_dynamic_and_says_so_in_one_line() -> None:
    from runners.base import UnsupportedPrecision
    from runners.frameworks.openvino import OpenVinoRunner
    from runners.registry import quantizes_offline

    assert quantizes_offline("openvino", "int8") and not quantizes_offline("openvino", "int8-dynamic")
    with pytest.raises(UnsupportedPrecision, match="no int8-dynamic model") as raised:
        OpenVinoRunner().configure_precision("int8-dynamic")
    assert "\n" not in str(raised.value)


def test_onnxruntime_has_no_bf16_and_says_so_in_one_line() -> None:
    from runners.base import UnsupportedPrecision
    from runners.frameworks.onnxruntime import OnnxRuntimeRunner

    with pytest.raises(UnsupportedPrecision, match="no bf16 arithmetic") as raised:
        OnnxRuntimeRunner().configure_precision("bf16")
    assert "\n" not in str(raised.value)
