"""Bad input before work starts: one line naming the file, field or flag; exit 2; nothing written."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from models.mlp import forward_float64, make_layers

FLOAT32 = pa.float32()


def features_table(x: np.ndarray, dtype: pa.DataType = FLOAT32) -> pa.Table:
    return pa.table({f"x{i}": pa.array(x[:, i], type=dtype) for i in range(x.shape[1])})


def write(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def good_inputs(rows: int = 16) -> np.ndarray:
    return np.random.default_rng(5).random((rows, 200), dtype=np.float32)


def with_value(value: float) -> np.ndarray:
    x = good_inputs()
    x[3, 7] = value
    return x


BAD_FILES = {
    "missing": (lambda d: d / "nope.parquet", "no such file"),
    "directory": (lambda d: d, "is not a file"),
    "not parquet": (lambda d: write_text(d / "x.parquet", "a,b\n1,2\n"), "is not a Parquet file"),
    "float64": (
        lambda d: write(d / "x.parquet", features_table(good_inputs(), pa.float64())),
        "column 'x0' is double",
    ),
    "199 features": (
        lambda d: write(d / "x.parquet", features_table(good_inputs()[:, :199])),
        "has 199 columns, expected 200",
    ),
    "nan": (lambda d: write(d / "x.parquet", features_table(with_value(np.nan))), "column 'x7' row 3 is nan"),
    "inf": (lambda d: write(d / "x.parquet", features_table(with_value(np.inf))), "column 'x7' row 3 is inf"),
    "empty": (lambda d: write(d / "x.parquet", features_table(good_inputs(0))), "has no rows"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_inputs_file_is_refused_before_anything_runs(tmp_path: Path, case: str) -> None:
    make, expected = BAD_FILES[case]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = make(data_dir)
    proc = run_cli(["--frameworks", "fake", "--inputs", str(path), *QUICK], cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "--inputs" in lines[0] and str(path) in lines[0] and expected in lines[0]
    assert not (tmp_path / "results").exists()


def test_a_batch_larger_than_the_inputs_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.parquet", features_table(good_inputs(16)))
    proc = run_cli(["--frameworks", "fake", "--inputs", str(path), "--batch-size", "17"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "--batch-size" in proc.stderr and "16 rows" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_the_users_inputs_are_benchmarked_and_checked(tmp_path: Path) -> None:
    x = good_inputs(16)
    path = write(tmp_path / "x.parquet", features_table(x))
    proc = run_cli(
        ["--frameworks", "fake", "--inputs", str(path), "--batch-size", "16", *QUICK], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    stored = pq.read_table(run_dir / "models" / "mlp" / "inputs.parquet")
    assert np.array_equal(np.array(stored.column("input").to_pylist(), np.float32), x)
    row = summary_rows(run_dir)["fake"]
    assert row["status"] == "ok" and row["parity_ok"] and row["batch_size"] == 16
    assert forward_float64(make_layers(0), x).shape == (16, 1)


def test_an_output_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    # /proc refuses new directories even to root, for whom permission bits mean nothing.
    proc = run_cli(["--frameworks", "fake", "--output", "/proc/inference-bench", *QUICK], cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--output" in lines[0] and "/proc/inference-bench" in lines[0], proc.stderr
