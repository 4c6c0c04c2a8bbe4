"""The fidelity figures (cosine, SQNR, top-1 agreement), each model's acceptance per precision,
and each cell's speed-up over its fp32 twin: pure functions on synthetic arrays and rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.registry import load_model
from models.spec import Tolerance, TopOne
from orchestrator.execute.aggregate import Reference, parity
from orchestrator.figures.fidelity import (
    Fidelity,
    cosine_per_sample,
    fidelity,
    head_weights,
    shortfall,
    sqnr_db,
    top1_agreement,
    top1_labels,
)
from orchestrator.figures.speedup import speedups_vs_fp32
from schemas.precisions import INT8_PRECISIONS, PRECISIONS

Row = dict[str, object]


def test_cosine_is_per_sample_and_blind_to_scale() -> None:
    want = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 4.0]])
    got = np.array([[5.0, 0.0], [1.0, -1.0], [0.0, 0.0], [0.0, 0.0]])
    assert cosine_per_sample(got, want).tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0])


def test_cosine_compares_only_what_is_finite_in_both() -> None:
    want = np.array([[1.0, 2.0, np.nan], [np.inf, np.nan, 1.0]])
    got = np.array([[2.0, 4.0, 7.0], [1.0, 1.0, np.nan]])
    found = cosine_per_sample(got, want)
    assert found[0] == pytest.approx(1.0) and np.isnan(found[1])


def test_sqnr_is_the_signal_over_the_error_in_decibels() -> None:
    want = np.ones((4, 25))
    assert sqnr_db(want + 0.1, want) == pytest.approx(20.0)  # an error of a tenth of the signal's RMS
    assert sqnr_db(want + 0.01, want) == pytest.approx(40.0)
    assert sqnr_db(want, want) == math.inf
    assert sqnr_db(np.ones(3), np.zeros(3)) == -math.inf
    assert sqnr_db(np.full(3, np.nan), np.ones(3)) is None


def test_top1_labels_under_each_rule() -> None:
    probabilities = np.array([[0.2], [0.7], [0.5]])
    assert top1_labels(probabilities, TopOne("threshold")).tolist() == [False, True, False]
    logits = np.array([[0.1, 3.0, -1.0], [2.0, 1.0, 0.0]])
    assert top1_labels(logits, TopOne("argmax")).tolist() == [1, 0]
    head = TopOne("head", width=4, classes=3, seed=1)
    hidden = np.random.default_rng(0).standard_normal((5, 12))  # 3 tokens of 4: only the first is read
    expected = np.argmax(hidden[:, :4] @ head_weights(head), axis=1)
    assert top1_labels(hidden, head).tolist() == expected.tolist()
    changed_later_tokens = hidden.copy()
    changed_later_tokens[:, 4:] = 0.0
    assert top1_labels(changed_later_tokens, head).tolist() == expected.tolist()
    assert np.array_equal(head_weights(head), head_weights(TopOne("head", width=4, classes=3, seed=1)))


def test_top1_agreement_is_the_share_of_samples_whose_class_holds() -> None:
    want = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    got = want.copy()
    got[0] = [1.0, 0.0]
    assert top1_agreement(got, want, TopOne("argmax")) == 0.75
    assert top1_agreement(got[:, :1], want[:, :1], TopOne("head", width=2, classes=2)) is None  # too short


def test_fidelity_gathers_every_figure() -> None:
    rng = np.random.default_rng(3)
    want = rng.standard_normal((8, 100))
    got = want + 0.01 * rng.standard_normal((8, 100))
    found = fidelity(got, want, TopOne("argmax"))
    assert found.sqnr_db == pytest.approx(40.0, abs=1.0)
    assert 0.9999 < found.cosine_min <= found.cosine_mean < 1.0  # type: ignore[operator]
    assert found.top1_agreement == 1.0
    assert fidelity(got, want, None).top1_agreement is None


def test_shortfall_names_each_floor_that_fails() -> None:
    acceptance = Tolerance(absolute=math.inf, min_sqnr_db=25.0, min_top1_agreement=0.99)
    good = Fidelity(0.999, 0.9995, 31.0, 1.0)
    assert shortfall(good, acceptance, "int8") is None
    bad = Fidelity(0.9, 0.95, 12.34, 0.75)
    assert shortfall(bad, acceptance, "int8") == (
        "SQNR 12.3 dB under int8's floor of 25 dB; top-1 agreement 75.0% under int8's floor of 99%"
    )
    unjudged = Fidelity(None, None, None, None)
    assert shortfall(unjudged, acceptance, "int8") is None


def test_a_cell_under_the_int8_floor_diverges_and_says_why() -> None:
    want = np.random.default_rng(4).standard_normal((4, 10))
    acceptance = Tolerance(absolute=math.inf, min_sqnr_db=25.0)
    reference = Reference(want, "the float64 reference", acceptance, TopOne("argmax"), "int8-static")
    close = parity((want + 1e-3).astype(np.float32), reference)
    assert close["parity_ok"] is True and close["parity_tolerance"] is None  # no bound on the difference
    assert close["sqnr_db"] > 25 and close["fidelity_shortfall"] is None
    far = parity((want + 0.3).astype(np.float32), reference)
    assert far["parity_ok"] is False
    why = far["fidelity_shortfall"]
    assert why.startswith("SQNR ") and "int8-static's floor of 25 dB" in why
    assert far["top1_agreement"] == 1.0  # a constant shift keeps every argmax


def test_without_an_acceptance_the_figures_are_shown_and_not_judged() -> None:
    want = np.ones((2, 3))
    found = parity(np.zeros(6, np.float32), Reference(want, "first framework", None))
    assert found["parity_ok"] is None and found["sqnr_db"] == 0.0 and found["cosine_min"] == 0.0


@pytest.mark.parametrize("name", ["mlp", "resnet50", "distilbert", "tiny-resnet", "tiny-distilbert"])
def test_every_built_in_model_declares_its_acceptance_at_every_precision(name: str) -> None:
    spec = load_model(name).spec
    for precision in PRECISIONS:
        acceptance = spec.acceptance(precision)
        assert acceptance is not None, (name, precision)
        if precision in INT8_PRECISIONS:  # judged by fidelity floors, as quantization is
            assert acceptance is spec.tolerance["int8"]
            assert acceptance.min_sqnr_db is not None, name
    assert spec.top1 is not None, name  # each names its classes (DistilBERT through a seeded head)


def _row(cell: str, precision: str, p50: float | None, status: str = "ok", **settings: object) -> Row:
    base = {"model": "mlp", "framework": "fake", "scenario": "offline", "batch_size": 1, "threads": 1,
            "cpus": "0", "options_json": "{}", "mode": "isolated", "input_shapes": "{}"}  # fmt: skip
    found = {"cell_id": cell, "precision": precision, "latency_ms_p50": p50, "status": status}
    return {**base, **settings, **found}


def test_speedup_is_the_fp32_twins_p50_over_the_cells() -> None:
    rows = [
        _row("a32", "fp32", 10.0),
        _row("a16", "bf16", 4.0),
        _row("a8", "int8", 2.5),
        _row("b16", "bf16", 5.0, framework="other"),  # no fp32 twin
        _row("a8t2", "int8", 2.0, threads=2),  # another configuration: no fp32 twin
        _row("a8s", "int8-static", None, status="skipped"),
    ]
    assert speedups_vs_fp32(rows) == {
        "a32": 1.0, "a16": 2.5, "a8": 4.0, "b16": None, "a8t2": None, "a8s": None,
    }  # fmt: skip
    int8_options = '{"activation_type": "uint8", "spinning": "on"}'  # an option fp32 cells do not run
    with_options = [
        _row("o32", "fp32", 9.0, options_json='{"spinning": "on"}'),
        _row("o32off", "fp32", 7.0, options_json='{"spinning": "off"}'),
        _row("o8", "int8", 3.0, options_json=int8_options),
    ]
    assert speedups_vs_fp32(with_options) == {"o32": 1.0, "o32off": 1.0, "o8": 3.0}
    # An option only fp32 cells run (PyTorch's compile: int8 always compiles): over fp32 at its best.
    compiled = [
        _row("e32", "fp32", 8.0, options_json='{"compile": "false"}'),
        _row("c32", "fp32", 6.0, options_json='{"compile": "true"}'),
        _row("q8", "int8", 2.0),
    ]
    assert speedups_vs_fp32(compiled) == {"e32": 1.0, "c32": 1.0, "q8": 3.0}
    failed_baseline = [_row("a32", "fp32", None, status="failed"), _row("a16", "bf16", 4.0)]
    assert speedups_vs_fp32(failed_baseline) == {"a32": None, "a16": None}
