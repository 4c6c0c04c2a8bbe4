"""--tune names a winner only beyond the noise between processes, by compare's own test."""

from __future__ import annotations

from typing import Any

import numpy as np

from conftest import summary_row
from orchestrator.cli.run import _parse, build_parser
from orchestrator.plan.options import as_json, defaults, tuning_summary

DEFAULT = defaults("onnxruntime")
DISABLED = {**DEFAULT, "graph_optimization": "disabled"}
CALLS = 3000


def tried(
    process_p50s_ms: dict[str, list[float]],
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Summary rows of the default and the graph_optimization=disabled set, whose processes
    centre on the given medians (ms); with their calls and per-process medians by config_id."""
    rows, latencies, p50s = [], {}, {}
    rng = np.random.default_rng(0)
    for index, (name, options) in enumerate((("default", DEFAULT), ("disabled", DISABLED))):
        per_process = [
            rng.lognormal(np.log(ms * 1e6), 0.02, CALLS).astype(np.int64) for ms in process_p50s_ms[name]
        ]
        config_id = f"onnxruntime-{name}"
        median = float(np.median([np.median(calls) for calls in per_process])) / 1e6
        rows.append(
            summary_row(
                index,
                "onnxruntime",
                config_id=config_id,
                options_json=as_json(options),
                status="ok",
                parity_ok=True,
                latency_ms_p50=median,
                repeats=len(per_process),
            )
        )
        latencies[config_id] = np.concatenate(per_process)
        p50s[config_id] = [float(np.median(calls)) / 1e6 for calls in per_process]
    return rows, latencies, p50s


def test_a_difference_of_one_process_each_names_no_winner() -> None:
    # The case: 0.2972 against 0.2995 ms, one process each. The calls alone call it
    # significant (thousands of them); one process a side cannot tell it from noise.
    rows, latencies, p50s = tried({"default": [0.2995], "disabled": [0.2972]})
    (entry,) = tuning_summary(rows, latencies, p50s)
    assert entry["winner"] is None and entry["fastest"] == DISABLED
    assert entry["verdict"].startswith("onnxruntime (mlp): no option beats the default beyond noise")
    assert "run --tune with --repeats 3" in entry["verdict"]


def test_a_difference_inside_the_spread_between_processes_names_no_winner() -> None:
    # 10 % faster by the medians, but the processes of both sets overlap (a 9-17 % spread).
    rows, latencies, p50s = tried({"default": [0.30, 0.33, 0.35], "disabled": [0.27, 0.28, 0.31]})
    (entry,) = tuning_summary(rows, latencies, p50s)
    disabled = next(t for t in entry["tried"] if not t["is_default"])
    assert disabled["change_pct"] < -5.0 and disabled["p_value"] < 0.01  # the calls alone: "faster"
    assert entry["winner"] is None
    assert (
        "no option beats the default beyond noise" in entry["verdict"]
        and "3+ processes each" in entry["verdict"]
    )


def test_a_difference_beyond_every_process_names_the_winner_with_its_evidence() -> None:
    rows, latencies, p50s = tried({"default": [0.30, 0.31, 0.32], "disabled": [0.24, 0.245, 0.25]})
    (entry,) = tuning_summary(rows, latencies, p50s)
    assert entry["winner"] == DISABLED and entry["default"] == DEFAULT
    assert entry["verdict"].startswith("onnxruntime (mlp): graph_optimization=disabled beats the default by ")
    assert "p<0.001, 3 vs 3 processes" in entry["verdict"]


def test_tune_runs_each_try_in_three_processes_unless_repeats_is_given() -> None:
    parser = build_parser()
    assert _parse(parser, ["--tune"]).repeats == 3
    assert _parse(build_parser(), ["--tune", "--repeats", "2"]).repeats == 2
    assert _parse(build_parser(), []).repeats == 1
