"""The trained digits model: deterministic training, a cache that survives corruption, accuracy
on the held-out labels, calibration from the training split only, and the accuracy columns."""

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import QUICK, RUN_ID, only_run_dir, run_cli, summary_row
from models.digits import HELD_OUT, Digits, as_tensors, load_split, tensors_sha256, train, trained
from models.registry import load_model
from orchestrator.figures.accuracy import accuracy_figures, accuracy_shortfall
from orchestrator.report.console_table import columns
from orchestrator.report.markdown import markdown_summary


@pytest.fixture(scope="module")
def trained_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the trained weights, made once for the tests that damage a copy."""
    directory = tmp_path_factory.mktemp("digits-cache")
    trained(directory)
    return directory


def test_training_is_deterministic_byte_for_byte() -> None:
    split = load_split()
    first, second = train(split), train(split)
    assert tensors_sha256(as_tensors(first)) == tensors_sha256(as_tensors(second))


def test_the_trained_network_classifies_the_held_out_digits(trained_cache: Path) -> None:
    found = trained(trained_cache)
    assert found.held_out_accuracy > 0.8  # chance is 0.1
    assert found.train_accuracy >= found.held_out_accuracy - 0.05  # learnt, not memorised noise


def test_the_first_use_trains_and_caches_a_later_one_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = trained(tmp_path)
    assert "digits: training" in capsys.readouterr().err
    (cached,) = tmp_path.glob("digits-*.safetensors")
    assert first.key in cached.name
    again = trained(tmp_path)
    assert capsys.readouterr().err == ""  # loaded: nothing trained, nothing said
    assert tensors_sha256(as_tensors(again.layers)) == tensors_sha256(as_tensors(first.layers))
    assert again.train_s == pytest.approx(first.train_s, abs=1e-3)  # the first training's seconds


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_cache_is_trained_again_with_one_warning(
    tmp_path: Path, trained_cache: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    shutil.copytree(trained_cache, tmp_path, dirs_exist_ok=True)
    first = trained(tmp_path)
    (cached,) = tmp_path.glob("digits-*.safetensors")
    data = bytearray(cached.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:  # a bit flipped in the weights: the file still parses, the checksum does not match
        data[-5] ^= 0x40
    cached.write_bytes(bytes(data))
    capsys.readouterr()
    again = trained(tmp_path)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(cached) in warnings[0] and "training again" in warnings[0]
    assert tensors_sha256(as_tensors(again.layers)) == tensors_sha256(as_tensors(first.layers))
    assert trained(tmp_path).key == first.key  # the file was rewritten whole: loads again


def test_inputs_are_the_held_out_images_and_calibration_comes_from_training() -> None:
    model = load_model("digits")
    split = load_split()
    inputs = model.make_inputs(0, {"input": (HELD_OUT + 10, 64)})["input"]
    assert np.array_equal(inputs[:HELD_OUT], split.held_out_x)
    assert np.array_equal(inputs[HELD_OUT:], split.held_out_x[:10])  # a larger call repeats them
    labels = model.labels()
    assert labels is not None and np.array_equal(labels, split.held_out_y)
    calibration = model.calibration_inputs(5, {"input": (64, 64)})["input"]
    training = {row.tobytes() for row in split.train_x}
    held_out = {row.tobytes() for row in split.held_out_x}
    assert all(row.tobytes() in training and row.tobytes() not in held_out for row in calibration)
    assert len({row.tobytes() for row in calibration}) == 64  # no repeats before all are used
    assert np.array_equal(calibration, model.calibration_inputs(5, {"input": (64, 64)})["input"])


def test_a_model_without_labels_has_none() -> None:
    assert load_model("mlp").labels() is None
    assert isinstance(load_model("digits"), Digits)


def test_accuracy_counts_labelled_samples_once_and_non_finite_outputs_as_wrong() -> None:
    labels = np.array([0, 1, 2, 1])
    outputs = np.array(
        [[5.0, 0, 0], [0, 5, 0], [np.nan, 0, 9], [9.0, 0, 0], [5.0, 0, 0], [0, 5, 0]]
    )  # the last two repeat the first two samples: not counted again
    reference = np.eye(3)[[0, 1, 2, 0]].astype(np.float64)
    figures = accuracy_figures(outputs, labels, reference)
    assert figures == {"accuracy": 0.5, "accuracy_samples": 4, "accuracy_reference": 0.75}
    # A reference that covers fewer samples gives no reference figure.
    assert "accuracy_reference" not in accuracy_figures(outputs, labels, reference[:2])
    assert accuracy_figures(outputs[:, :1], labels, None) == {}  # one output per sample: no classes


def test_digits_end_to_end_on_the_fake_runner_reports_accuracy(tmp_path: Path) -> None:
    """The accuracy columns in summary.parquet and summary.md: at fp32 the fake's accuracy is the
    reference's, on every held-out label (offline: one call of them all; the single stream's
    cycle is the ONNX Runtime test's); its emulated int8 stays within the model's acceptance
    (99 % of the reference's accuracy)."""
    args = ["--frameworks", "fake", "--model", "digits", "--precision", "fp32,int8", "--report", "md"]
    proc = run_cli([*args, *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    table = pq.read_table(run_dir / "summary.parquet").to_pylist()
    assert [row["precision"] for row in table] == ["fp32", "int8"]  # offline, the default
    config = json.loads((run_dir / "models" / "digits" / "config.json").read_text())
    for row in table:
        assert row["status"] == "ok" and row["parity_ok"], (row["error"], row["fidelity_shortfall"])
        assert row["accuracy_samples"] == HELD_OUT
        assert row["accuracy_reference"] == pytest.approx(config["trained"]["held_out_accuracy"])
        if row["precision"] == "fp32":
            assert row["accuracy"] == row["accuracy_reference"] > 0.8
        else:
            assert row["accuracy"] >= 0.99 * row["accuracy_reference"]
    markdown = (run_dir / "summary.md").read_text()
    assert "| accuracy | vs ref |" in markdown and f"{100 * table[0]['accuracy']:.2f}%" in markdown
    assert "accuracy" in proc.stdout  # the console table too


def test_an_accuracy_under_the_acceptance_fails_the_cell_saying_why() -> None:
    acceptance = load_model("digits").spec.acceptance("int8-static")  # int8's, for every flavour
    assert acceptance is not None and acceptance.min_accuracy_ratio == 0.99
    kept = {"accuracy": 0.9667, "accuracy_reference": 0.9759}  # 99.06 % of it
    lost = {"accuracy": 0.9574, "accuracy_reference": 0.9759}  # 98.1 %
    assert accuracy_shortfall(kept, acceptance, "int8") is None
    assert accuracy_shortfall(lost, acceptance, "int8") == (
        "accuracy 95.74% under int8's floor of 99% of the reference's 97.59%"
    )
    assert accuracy_shortfall(lost, load_model("digits").spec.acceptance("fp32"), "fp32") is None
    assert accuracy_shortfall({"accuracy": 0.5}, acceptance, "int8") is None  # nothing to judge against


def test_the_tables_show_accuracy_only_where_a_model_has_labels() -> None:
    plain = [summary_row(0, "fake", status="ok", latency_ms_p50=1.0)]
    labelled = [
        summary_row(0, "fake", status="ok", latency_ms_p50=1.0, accuracy=0.9759, accuracy_reference=0.9778),
        summary_row(1, "other", status="ok", latency_ms_p50=1.0, accuracy=0.9778, accuracy_reference=0.9778),
    ]
    assert "accuracy" not in {column.header for column in columns(plain, None, False)}
    assert "accuracy" not in markdown_summary(plain, RUN_ID)
    shown = {column.header: column.values for column in columns(labelled, None, False)}
    assert shown["accuracy"] == ["97.59%", "97.78%"]
    assert shown["vs ref"] == ["-0.19 pt", "0.00 pt"]
    assert "| 97.59% | -0.19 pt |" in markdown_summary(labelled, RUN_ID)


def test_digits_on_onnx_runtime_fp32_and_static_int8(tmp_path: Path) -> None:
    """A real framework on the trained weights (through the parent's ONNX graph): at fp32 it
    predicts every held-out label as the float64 reference does; its static int8, calibrated on
    training images only, keeps the model's acceptance (99 % of the reference's accuracy)."""
    args = ["--frameworks", "onnxruntime", "--model", "digits", "--scenario", "single-stream", "--quiet"]
    proc = run_cli([*args, "--precision", "fp32,int8-static", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    fp32, int8 = pq.read_table(run_dir / "summary.parquet").to_pylist()
    for row in (fp32, int8):
        assert row["status"] == "ok" and row["parity_ok"], (row["error"], row["fidelity_shortfall"])
        assert row["accuracy_samples"] == HELD_OUT
    assert fp32["accuracy"] == fp32["accuracy_reference"] > 0.8
    assert "int8" in int8["precision_effective"]  # int8, or a mix naming its int8 share
    assert int8["accuracy"] >= 0.99 * int8["accuracy_reference"]
    calibration = np.load(run_dir / "models" / "digits" / "calibration" / "input.npy")
    held_out = {row.tobytes() for row in load_split().held_out_x}
    assert len(calibration) and not any(row.tobytes() in held_out for row in calibration)
