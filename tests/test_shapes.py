"""--shape takes the dim names a user sees in their own file, beside the flags' symbols
(--seq-len, --image-size, --shape seq=N) that keep working; the batch stays --batch-size's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from orchestrator.execute.environments import default_root
from orchestrator.execute.user_models import resolve_user_model
from orchestrator.plan.errors import PlanError
from orchestrator.plan.plan import Plan


def named_dims_model(path: Path) -> Path:
    """An ONNX file whose open dims have names of its own: features x ['batch', 'tokens', 8]
    summed over the tokens, and an image "pixels" ['N', 3, 'height', 'width'] averaged to one value."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((8, 2), np.float32), "w")
    axes = numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes")
    nodes = [
        helper.make_node("ReduceSum", ["features", "one"], ["summed"], keepdims=0),
        helper.make_node("MatMul", ["summed", "w"], ["y"]),
        helper.make_node("ReduceMean", ["pixels", "axes"], ["brightness"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "named",
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", "tokens", 8]),
            helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, "height", "width"]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info("brightness", TensorProto.FLOAT, ["N"]),
        ],
        [weight, axes, numpy_helper.from_array(np.array([1], np.int64), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def plan_for(tmp_path: Path, **settings: object) -> tuple[Plan, str]:
    workload = resolve_user_model(named_dims_model(tmp_path / "named.onnx"), set(), "own", default_root())
    spec = workload.model.spec
    plan = Plan(frameworks=("noop",), models=(workload.name,), specs={workload.name: spec}, **settings)  # type: ignore[arg-type]
    return plan, workload.name


def test_a_files_own_dim_names_are_taken_by_shape(tmp_path: Path) -> None:
    plan, name = plan_for(tmp_path, shapes={"tokens": (16,), "height": (32,), "width": (48,)})
    assert plan.call_shapes(name, 4) == {"features": (4, 16, 8), "pixels": (4, 3, 32, 48)}


def test_the_flags_and_their_symbols_still_fill_the_files_dims(tmp_path: Path) -> None:
    plan, name = plan_for(tmp_path, seq_len=12, image_size=20)
    assert plan.call_shapes(name, 1) == {"features": (1, 12, 8), "pixels": (1, 3, 20, 20)}
    plan, name = plan_for(tmp_path, shapes={"seq": (5,), "image": (7,), "width": (9,)})
    assert plan.call_shapes(name, 1) == {"features": (1, 5, 8), "pixels": (1, 3, 7, 9)}  # own name wins


@pytest.mark.parametrize("key", ["batch", "N"])
def test_the_batch_axis_is_refused_by_shape_naming_batch_size(tmp_path: Path, key: str) -> None:
    with pytest.raises(PlanError, match="--batch-size"):
        plan_for(tmp_path, seq_len=4, image_size=4, shapes={key: (4,)})


def test_a_shape_that_contradicts_a_fixed_dim_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="fixes dim 2 of 'features' at 8"):
        plan_for(tmp_path, image_size=4, shapes={"features": (16, 9)})


def test_an_open_dim_left_unfilled_names_its_own_name(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"dynamic dim 'tokens'.*--seq-len, --shape tokens=N"):
        plan_for(tmp_path, image_size=4)


def test_shape_by_the_files_dim_name_runs_end_to_end(tmp_path: Path) -> None:
    path = named_dims_model(tmp_path / "named.onnx")
    args = ["--model", str(path), "--frameworks", "onnxruntime", "--shape", "tokens=16"]
    proc = run_cli([*args, "--shape", "height=6", "--shape", "width=10", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = summary_rows(only_run_dir(tmp_path / "results"))["onnxruntime"]
    assert row["status"] == "ok", row["error"]
    assert json.loads(row["input_shapes"]) == {"features": [1, 16, 8], "pixels": [1, 3, 6, 10]}


@pytest.mark.parametrize(
    ("settings", "flag"),
    [({"seq_len": 65}, "--seq-len"), ({"shapes": {"input_ids": (65,), "attention_mask": (65,)}}, "--shape")],
)
def test_a_sequence_beyond_distilberts_positions_is_refused(settings: dict[str, object], flag: str) -> None:
    # tiny-distilbert has 64 position embeddings: 65 tokens fail in every framework (and the export).
    with pytest.raises(PlanError, match=r"takes at most 64 for 'seq' of 'input_ids', got 65") as caught:
        Plan(frameworks=("noop",), models=("tiny-distilbert",), **settings)  # type: ignore[arg-type]
    assert caught.value.flag == flag
    assert Plan(frameworks=("noop",), models=("tiny-distilbert",), seq_len=64).call_shapes(
        "tiny-distilbert", 1
    )
