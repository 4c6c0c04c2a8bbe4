"""The MLP plug-in and a model's files: deterministic, and intact through safetensors, Parquet,
.npy and ONNX."""

import itertools
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from models.base import ModelFiles
from models.mlp import LAYER_SIZES, Mlp, forward_float64, make_layers, read_layers
from orchestrator.execute.artifacts import prepare_model
from schemas import tables
from schemas.io import SchemaError, read_table
from schemas.tensors import INPUT_ALIGNMENT, read_npy


def prepared(tmp_path: Path, seed: int = 0, rows: int = 1000):  # type: ignore[no-untyped-def]
    return prepare_model("mlp", "mlp", Mlp(), tmp_path / "mlp", seed, {"input": (rows, 200)}, export=None)


def test_weights_and_inputs_are_seeded() -> None:
    a, b, c = make_layers(7), make_layers(7), make_layers(8)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    model = Mlp()
    first, again = model.make_inputs(7, {"input": (10, 200)}), model.make_inputs(7, {"input": (10, 200)})
    assert np.array_equal(first["input"], again["input"])
    assert not np.array_equal(first["input"], model.make_inputs(8, {"input": (10, 200)})["input"])


def test_network_shape_and_output_range() -> None:
    layers = make_layers(0)
    assert [kernel.shape for kernel, _, _ in layers] == list(itertools.pairwise(LAYER_SIZES))
    assert [activation for *_, activation in layers] == ["relu"] * 5 + ["sigmoid"]
    out = forward_float64(layers, Mlp().make_inputs(0, {"input": (1000, 200)})["input"])
    assert out.shape == (1000, 1)
    assert np.all((out > 0) & (out < 1))
    assert out.std() > 0  # the inputs do reach the output


def test_a_models_files_round_trip(tmp_path: Path) -> None:
    model = prepared(tmp_path, seed=3)
    inputs = Mlp().make_inputs(3, {"input": (1000, 200)})["input"]
    assert np.array_equal(read_npy(model.input_paths["input"]), inputs)
    stored = pq.read_table(tmp_path / "mlp" / "inputs.parquet")
    assert stored.column_names == ["input"]  # one column per named input, a fixed-size list each
    assert np.array_equal(np.array(stored.column("input").to_pylist(), np.float32), inputs)
    for (kernel, bias, _), (k, b, _) in zip(read_layers(model.files), make_layers(3)):
        assert np.array_equal(kernel, k) and np.array_equal(bias, b)
    assert model.files.onnx.stat().st_size > 4 * sum(a * b for a, b in itertools.pairwise(LAYER_SIZES))
    assert model.reference is not None and model.reference.shape == (1000, 1)
    assert model.reference_kind == "the network in float64 numpy"


def test_onnx_file_computes_the_reference(tmp_path: Path) -> None:
    # The reference implementation of the ONNX operators, shipped with the onnx package.
    import onnx
    from onnx.reference import ReferenceEvaluator

    model = prepared(tmp_path)
    evaluator = ReferenceEvaluator(onnx.load(str(model.files.onnx)))
    x = read_npy(model.input_paths["input"], rows=17)
    (out,) = evaluator.run(None, {"input": x})
    assert model.reference is not None
    assert np.max(np.abs(out - model.reference[:17])) < 1e-5


def test_a_table_from_another_schema_is_refused(tmp_path: Path) -> None:
    model = prepared(tmp_path)
    with pytest.raises(SchemaError, match="missing columns"):
        read_table(model.files.directory / "inputs.parquet", tables.SAMPLES)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match=r"junk\.parquet"):
        read_table(tmp_path / "junk.parquet", tables.SAMPLES)


def test_inputs_are_read_aligned_for_every_framework(tmp_path: Path) -> None:
    model = prepared(tmp_path)
    everything = read_npy(model.input_paths["input"])
    for rows in (1, 7, 1000):
        x = read_npy(model.input_paths["input"], rows=rows)
        assert x.ctypes.data % INPUT_ALIGNMENT == 0
        assert x.flags.c_contiguous and x.dtype == np.float32
        assert np.array_equal(x, everything[:rows])


def test_model_files_name_their_parts(tmp_path: Path) -> None:
    files = ModelFiles(tmp_path)
    assert (files.weights.name, files.config.name, files.onnx.name) == (
        "model.safetensors",
        "config.json",
        "model.onnx",
    )
