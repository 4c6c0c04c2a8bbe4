"""FLOPs per sample are those of each cell's own input shapes: the built-in models' formulas
and the count from a user's ONNX graph follow --seq-len, --image-size and --shape."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.base import ModelFiles
from models.flops import onnx_flops
from models.mlp import LAYER_SIZES, Mlp
from models.registry import load_model
from orchestrator.execute.aggregate import cell_row
from orchestrator.execute.artifacts import PreparedModel
from orchestrator.plan.plan import Plan


def recorded(model_name: str, tmp_path: Path, **plan: Any) -> dict[str, Any]:
    """The cells.parquet row of the first cell of ``model_name`` under these plan settings."""
    model = load_model(model_name)
    cell = Plan(frameworks=("noop",), models=(model_name,), output=tmp_path, **plan).cells()[0]
    prepared = PreparedModel(
        model_name, model_name, model, model.spec, ModelFiles(tmp_path), {}, None, None, None, None
    )
    return cell_row("run", cell, prepared)


def distilbert_flops(seq: int, dim: int, hidden: int, layers: int) -> float:
    """Per layer: Q, K, V and output projections, the two attention products, the feed-forward."""
    return 2.0 * layers * (4 * seq * dim * dim + 2 * seq * seq * dim + 2 * seq * dim * hidden)


@pytest.mark.parametrize(
    ("model", "dims", "lengths"),
    [("tiny-distilbert", (32, 64, 2), (16, 48)), ("distilbert", (768, 3072, 6), (32, 128))],
)
def test_distilbert_flops_follow_the_sequence_length(
    tmp_path: Path, model: str, dims: tuple[int, int, int], lengths: tuple[int, int]
) -> None:
    for seq in lengths:
        row = recorded(model, tmp_path, seq_len=seq)
        assert row["model_flops_per_sample"] == distilbert_flops(seq, *dims)
        assert f"{seq} tokens" in row["model_flops_basis"]


def test_resnet50_at_224_is_its_published_4_1_gmacs(tmp_path: Path) -> None:
    flops = recorded("resnet50", tmp_path)["model_flops_per_sample"]
    assert flops / 2 == pytest.approx(4.09e9, rel=0.01)


def test_an_image_models_flops_scale_with_the_image(tmp_path: Path) -> None:
    head = 2.0 * 512 * 10  # the tiny ResNet's fc layer, the one part that does not scale
    small = recorded("tiny-resnet", tmp_path, image_size=32)["model_flops_per_sample"]
    large = recorded("tiny-resnet", tmp_path, image_size=64)["model_flops_per_sample"]
    wide = recorded("tiny-resnet", tmp_path, shapes={"pixel_values": (3, 32, 64)})
    assert large - head == pytest.approx(4 * (small - head))  # every stage's area quadruples
    assert wide["model_flops_per_sample"] - head == pytest.approx(2 * (small - head))
    assert "32x64" in wide["model_flops_basis"]


def test_the_mlp_formula_agrees_with_its_onnx_graph(tmp_path: Path) -> None:
    model = Mlp()
    model.write_weights(0, tmp_path)
    files = ModelFiles(tmp_path)
    model.write_onnx(files)
    formula = model.flops({"input": (7, LAYER_SIZES[0])}, files)
    counted = onnx_flops(files.onnx, {"input": (7, LAYER_SIZES[0])})
    assert (
        counted.per_sample
        == formula.per_sample
        == 2.0 * sum(a * b for a, b in itertools.pairwise(LAYER_SIZES))
    )
    assert "ONNX graph" in counted.basis


def conv_graph(path: Path) -> Path:
    """A user's image model: a 3x3 convolution (8 -> 16 channels, pad 1), its dims named."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((16, 8, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, "height", "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_users_onnx_graph_is_counted_at_the_cells_shapes(tmp_path: Path) -> None:
    path = conv_graph(tmp_path / "conv.onnx")
    small = onnx_flops(path, {"x": (4, 8, 10, 10)})
    large = onnx_flops(path, {"x": (4, 8, 20, 10)})
    assert small.per_sample == 2.0 * 16 * 10 * 10 * 8 * 9
    assert large.per_sample == 2 * small.per_sample


def test_a_graph_whose_shapes_cannot_be_known_has_no_figure_and_says_why(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    # MatMul of the input with a second input whose inner dim nothing fixes.
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        "open",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, "k"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "open.onnx"))
    found = onnx_flops(tmp_path / "open.onnx", {"a": (2, 4)})
    assert found.per_sample is None and "MatMul" in found.basis
