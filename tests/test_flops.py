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


def attention_graphs(tmp_path: Path) -> tuple[Path, Path]:
    """One attention (4 heads of 8, 6 queries over 10 keys) twice: ONNX's Attention operator, and
    the same products spelled as MatMuls (Q K^T, softmax, times V)."""
    import onnx
    from onnx import TensorProto, helper

    def value(name: str, dims: list[Any]) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)

    inputs = [value("q", ["b", 4, 6, 8]), value("k", ["b", 4, 10, 8]), value("v", ["b", 4, 10, 8])]
    fused = [helper.make_node("Attention", ["q", "k", "v"], ["y"])]
    spelled = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["weights"], axis=-1),
        helper.make_node("MatMul", ["weights", "v"], ["y"]),
    ]
    paths = []
    for name, nodes in (("fused", fused), ("spelled", spelled)):
        graph = helper.make_graph(nodes, name, inputs, [value("y", None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
        model.ir_version = 10
        onnx.save(model, str(tmp_path / f"{name}.onnx"))
        paths.append(tmp_path / f"{name}.onnx")
    return paths[0], paths[1]


def test_onnx_attention_counts_as_its_two_matrix_products(tmp_path: Path) -> None:
    fused, spelled = attention_graphs(tmp_path)
    shapes = {"q": (2, 4, 6, 8), "k": (2, 4, 10, 8), "v": (2, 4, 10, 8)}
    counted = onnx_flops(fused, shapes)
    assert counted.per_sample == onnx_flops(spelled, shapes).per_sample == 2 * (2.0 * 4 * 6 * 10 * 8)
    assert "Attention" in counted.basis


def test_onnx_runtimes_contrib_attention_is_not_counted_and_says_so(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Attention", ["x", "w", "bias"], ["y"], domain="com.microsoft", num_heads=2)],
        "contrib",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 5, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[
            helper.make_tensor("w", TensorProto.FLOAT, [8, 24], [0.0] * 192),
            helper.make_tensor("bias", TensorProto.FLOAT, [24], [0.0] * 24),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "contrib.onnx"))
    found = onnx_flops(tmp_path / "contrib.onnx", {"x": (1, 5, 8)})
    assert found.per_sample is None
    assert found.basis == "the ONNX graph has com.microsoft.Attention, whose FLOPs are not counted"
