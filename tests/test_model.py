"""The shared model and inputs: deterministic, round-trip through Parquet and ONNX intact."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from orchestrator.artifacts import write_artifacts
from schemas.io import SchemaError, read_table
from schemas.model import (
    INPUT_ALIGNMENT,
    LAYER_SIZES,
    forward_numpy,
    make_inputs,
    make_weights,
    read_inputs,
    read_weights,
)
from schemas.tables import WEIGHTS


def test_weights_and_inputs_are_seeded() -> None:
    a, b, c = make_weights(7), make_weights(7), make_weights(8)
    assert all(np.array_equal(x.weight, y.weight) for x, y in zip(a, b))
    assert not np.array_equal(a[0].weight, c[0].weight)
    assert np.array_equal(make_inputs(7, 10), make_inputs(7, 10))
    assert not np.array_equal(make_inputs(7, 10), make_inputs(8, 10))


def test_network_shape_and_output_range() -> None:
    layers = make_weights(0)
    assert [lay.weight.shape for lay in layers] == list(itertools.pairwise(LAYER_SIZES))
    assert [lay.activation for lay in layers] == ["relu"] * 5 + ["sigmoid"]
    out = forward_numpy(layers, make_inputs(0, 1000))
    assert out.shape == (1000, 1)
    assert np.all((out > 0) & (out < 1))
    assert out.std() > 0  # the inputs do reach the output


def test_artifacts_round_trip(tmp_path: Path) -> None:
    artifacts = write_artifacts(tmp_path, seed=3, rows=1000)
    assert np.array_equal(read_inputs(artifacts.inputs_path), artifacts.inputs)
    assert read_inputs(artifacts.inputs_path, rows=5).shape == (5, 200)
    for stored, original in zip(read_weights(artifacts.weights_path), artifacts.layers):
        assert np.array_equal(stored.weight, original.weight)
        assert np.array_equal(stored.bias, original.bias)
    assert artifacts.onnx_path.stat().st_size > 4 * sum(a * b for a, b in itertools.pairwise(LAYER_SIZES))


def test_onnx_file_computes_the_reference(tmp_path: Path) -> None:
    # The reference implementation of the ONNX operators, shipped with the onnx package.
    import onnx
    from onnx.reference import ReferenceEvaluator

    artifacts = write_artifacts(tmp_path, seed=0, rows=1000)
    evaluator = ReferenceEvaluator(onnx.load(str(artifacts.onnx_path)))
    x = artifacts.inputs[:17]
    (out,) = evaluator.run(None, {"input": x})
    assert np.max(np.abs(out - forward_numpy(artifacts.layers, x))) < 1e-5


def test_a_table_from_another_schema_is_refused(tmp_path: Path) -> None:
    artifacts = write_artifacts(tmp_path, seed=0, rows=1000)
    with pytest.raises(SchemaError, match="missing columns"):
        read_table(artifacts.inputs_path, WEIGHTS)
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError, match=r"junk\.parquet"):
        read_table(tmp_path / "junk.parquet", WEIGHTS)


def test_inputs_are_read_aligned_for_every_framework(tmp_path: Path) -> None:
    artifacts = write_artifacts(tmp_path, seed=0, rows=1000)
    for rows in (1, 7, 1000):
        x = read_inputs(artifacts.inputs_path, rows=rows)
        assert x.ctypes.data % INPUT_ALIGNMENT == 0
        assert x.flags.c_contiguous and x.dtype == np.float32
        assert np.array_equal(x, artifacts.inputs[:rows])
