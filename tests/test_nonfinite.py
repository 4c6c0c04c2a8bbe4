"""Outputs that are NaN or infinite are compared by where they are, as well as the finite
values: NaN where the reference is NaN is agreement; NaN where it is finite is a divergence, and
the verdict says which."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from models.spec import Tolerance
from orchestrator.execute.aggregate import Reference, parity

NAN, INF = float("nan"), float("inf")


def check(got: list[float], want: list[float]) -> dict[str, object]:
    reference = Reference(np.array([want], np.float64), "the float64 reference", Tolerance(relative=1e-4))
    return parity(np.array(got, np.float32), reference)


def test_nan_in_the_same_places_as_the_reference_passes_and_says_so() -> None:
    found = check([1.0, NAN, 2.0, NAN], [1.0, NAN, 2.0, NAN])
    assert found["parity_ok"] is True and found["max_abs_diff"] == 0.0
    assert found["parity_nonfinite"] == "2 of 4 outputs NaN in both, same places"


def test_all_nan_in_both_passes_with_no_finite_value_to_differ() -> None:
    found = check([NAN] * 3, [NAN] * 3)
    assert found["parity_ok"] is True and found["max_abs_diff"] == 0.0
    assert found["parity_tolerance"] == 0.0
    assert found["parity_nonfinite"] == "3 of 3 outputs NaN in both, same places"


def test_nan_where_the_reference_is_finite_diverges_naming_it() -> None:
    found = check([1.0, NAN, NAN, NAN, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert found["parity_ok"] is False
    assert found["parity_nonfinite"] == "3 NaN where the reference is finite"
    assert found["max_abs_diff"] == 0.0  # the finite values agree


def test_infinities_are_told_apart_by_sign_and_place() -> None:
    found = check([INF, -INF, INF, 1.0], [INF, INF, 2.0, 1.0])
    assert found["parity_ok"] is False
    assert found["parity_nonfinite"] == (
        "1 of 4 outputs +inf in both, same places; 1 +inf where the reference is finite; "
        "1 -inf where the reference is +inf"
    )


def test_finite_outputs_have_no_note() -> None:
    found = check([1.0, 2.0], [1.0, 2.0 + 1e-3])
    assert found["parity_ok"] is False and found["parity_nonfinite"] is None


def nan_model(path: Path) -> Path:
    """A user's model whose output is NaN for about half its inputs: sqrt(x - 0.5)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Sub", ["x", "half"], ["d"]), helper.make_node("Sqrt", ["d"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "nan",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "half")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_model_whose_outputs_are_nan_where_the_references_are_is_ok(tmp_path: Path) -> None:
    path = nan_model(tmp_path / "nan.onnx")
    frameworks = ["--frameworks", "onnxruntime,openvino", "--batch-size", "4"]
    proc = run_cli(["--model", str(path), *frameworks, *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    for name in ("onnxruntime", "openvino"):
        row = rows[name]
        assert row["status"] == "ok" and row["parity_ok"] is True, (name, row)
        assert row["parity_nonfinite"].endswith("of 64 outputs NaN in both, same places"), row
        assert f"{name}: parity ok; " in proc.stdout
    assert "DIVERGED" not in proc.stdout
