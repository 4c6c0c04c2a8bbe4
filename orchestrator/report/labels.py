"""How a summary row reads in every output (console table, summary.md, summary.png, compare):
its label, the tail percentiles its calls support, its latency relative to a baseline, the
settings the rows share. Pure: rows in, strings and numbers out."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.figures.trust import TAIL_PERCENTILES, tail_percentile
from orchestrator.plan.options import non_default
from runners.registry import TOOLS
from schemas.configuration import (
    CONFIG_COLUMNS,
    CONTENDER_COLUMNS,
    config_key,
    display_value,
    framework_label,
    label,
    varying,
)
from schemas.configuration import header as column_header

Row = dict[str, Any]


# The configuration's columns besides the framework that get a column (and a place in labels)
# when they differ between rows. The input shapes follow from the model and the batch (or the
# dims flags), so they are left to the summary file.
_SHOWN = tuple(column for column in CONFIG_COLUMNS if column not in (*CONTENDER_COLUMNS, "input_shapes"))


_TIMES = "\N{MULTIPLICATION SIGN}"


def _fmt(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def format_ms(value: float | None) -> str:
    """Milliseconds to three decimals, or to four significant digits below 0.1 ms (noop)."""
    if value is not None and not math.isnan(value) and abs(value) < 0.1:
        return f"{value:.4g}"
    return _fmt(value, 3)


def warning_codes(row: Row) -> str:
    """The kinds of the row's warnings ("noisy, busy-machine"), for a narrow column."""
    warnings = row.get("warnings") or ""
    return ", ".join(part.split(":", 1)[0].strip() for part in warnings.split(";") if part.strip())


# --- which percentiles a cell's calls support ----------------------------------------------------
#
# One rule for every output (console table, summary.md, summary.csv, summary.png, compare): a tail
# percentile q is shown only when the cell made enough timed calls for 10 of them to lie beyond it
# (trust.tail_percentile: p90 needs 100, p95 200, p99 1000). summary.parquet keeps every
# percentile as computed, with ``iterations`` beside it to apply the same rule (its schema says so).


def supported_tail(row: Row) -> int:
    """The highest tail percentile (99, 95, 90) the row's timed calls support; 50 when none does."""
    return tail_percentile(int(row.get("iterations") or 0))


def shown_percentile(row: Row, q: int) -> float | None:
    """The row's ``latency_ms_p{q}`` when its calls support it (the p50 always), else None."""
    value = row.get(f"latency_ms_p{q}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value) if q == 50 or q <= supported_tail(row) else None


def supported_only(row: Row) -> Row:
    """The row with each tail percentile its calls do not support set to None."""
    return row | {f"latency_ms_p{q}": None for q in TAIL_PERCENTILES if shown_percentile(row, q) is None}


def tail_column(rows: list[Row]) -> tuple[str, Callable[[Row], str]]:
    """(header, value) of a table's tail column: ``p99 ms`` when every ok cell made enough calls
    for a p99, else ``tail ms`` with each cell's highest supported percentile named in it
    (``p95 51.248``), or ``-`` when it supports none."""
    if {supported_tail(row) for row in rows if row["status"] == "ok"} <= {99}:
        return "p99 ms", lambda row: format_ms(shown_percentile(row, 99))

    def value(row: Row) -> str:
        q = supported_tail(row)
        figure = shown_percentile(row, q) if q != 50 else None
        return "-" if figure is None else f"p{q} {format_ms(figure)}"

    return "tail ms", value


# --- relative latency ---------------------------------------------------------------------------


def _p50_ms(row: Row) -> float | None:
    """The cell's median latency, or None when it has none worth comparing."""
    p50 = row.get("latency_ms_p50")
    if row.get("status") != "ok" or p50 is None or math.isnan(p50):
        return None
    return float(p50)


def _baseline_p50_ms(group: list[Row], baseline: str | None) -> float | None:
    """The reference median of one batch-size/threads group, or None when it has none."""
    if baseline is None:
        # A diverged cell computes something else, so it must not become everyone's yardstick.
        # Nor is the harness floor (noop), which computes nothing at all.
        candidates = [
            _p50_ms(row)
            for row in group
            if row.get("parity_ok") is not False and row["framework"] not in TOOLS
        ]
    else:
        candidates = [_p50_ms(row) for row in group if row["framework"] == baseline]
    measured = [p50 for p50 in candidates if p50 is not None]
    return min(measured) if measured else None


def relative_to(rows: list[Row], baseline: str | None = None) -> dict[str, float | None]:
    """Each cell's p50 latency over the baseline's, keyed by ``cell_id`` (1.0 = as fast).

    The baseline is the cell of framework ``baseline`` at the same batch size, thread count
    (and scenario, precision, mode), or with ``baseline=None`` the fastest ok cell there that
    agrees with the reference.
    A cell gets None when it is not ok or has no p50, or when its group has no ok baseline.
    """
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(config_key(row, without=CONTENDER_COLUMNS), []).append(row)
    ratios: dict[str, float | None] = {}
    for group in groups.values():
        reference = _baseline_p50_ms(group, baseline)
        for row in group:
            p50 = _p50_ms(row)
            ratios[row["cell_id"]] = None if p50 is None or not reference else p50 / reference
    return ratios


def relative_header(baseline: str | None) -> str:
    """Heading of the relative-latency column: "x fastest" or "x <baseline>" (with a times sign)."""
    return f"{_TIMES} {baseline or 'fastest'}"


def format_ratio(ratio: float | None) -> str:
    """A latency ratio as ``2.31x``; ``-`` when there is none."""
    return "-" if ratio is None else f"{ratio:.2f}x"


def has_accuracy(rows: list[Row]) -> bool:
    """Whether any row was measured on labels (a trained model): then the tables show accuracy."""
    return any(row.get("accuracy") is not None for row in rows)


def format_accuracy(row: Row) -> str:
    """A cell's accuracy on held-out labels as ``97.59%``; ``-`` for a model without labels."""
    value = row.get("accuracy")
    return "-" if value is None else f"{100.0 * value:.2f}%"


def format_accuracy_drop(row: Row) -> str:
    """Its accuracy against the float64 reference's on the same samples, in percentage points:
    ``-0.37 pt``, ``+0.19 pt`` or ``0.00 pt``; ``-`` without both figures."""
    value, reference = row.get("accuracy"), row.get("accuracy_reference")
    if value is None or reference is None:
        return "-"
    points = 100.0 * (value - reference)
    return f"{points:+.2f} pt" if round(points, 2) else "0.00 pt"


def _options_vary(rows: list[Row]) -> bool:
    """Whether any framework runs more than one option set here, so the options need a column."""
    seen: dict[str, set[str | None]] = {}
    for row in rows:
        seen.setdefault(framework_label(row), set()).add(row.get("options_json"))
    return any(len(options) > 1 for options in seen.values())


def varying_keys(rows: list[Row]) -> list[str]:
    """Which configuration columns (model, batch_size, threads, ...) differ between the rows."""
    return varying(rows, among=_SHOWN)


def contender_label(row: Row) -> str:
    """What tells a row's implementation apart: the framework and its pinned version, its
    non-default options, and how many copies ran at once -- ``onnxruntime@1.31.1``,
    ``onnxruntime [graph_optimization=disabled]``, ``onnxruntime x2``."""
    text = framework_label(row)
    options = non_default(str(row["framework"]), row.get("options_json"))
    if options != "default":
        text += f" [{options}]"
    instances = row.get("instances") or 1
    return f"{text} x{instances}" if instances > 1 else text


def row_label(row: Row, vary: list[str]) -> str:
    """:func:`contender_label`, plus the columns that vary: ``resnet50 onnxruntime x2 b16``."""
    rest = label(row, [c for c in vary if c not in ("model", "instances")])[len(framework_label(row)) :]
    model = f"{row.get('model')} " if "model" in vary else ""
    return f"{model}{contender_label(row)}{rest}"


def cell_label(row: Row, vary: list[str]) -> str:
    """The framework, plus the columns that vary: ``resnet50 pytorch b16 t2``."""
    return label(row, vary)


def _header(key: str) -> str:
    return column_header(key)


def run_id_of(rows: list[Row], run_dir: Path) -> str:
    """The run id the rows carry, or the run directory's name when there are no rows."""
    return str(rows[0]["run_id"]) if rows else run_dir.name


def md_escape(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def settings_parts(rows: list[Row], vary: list[str]) -> list[str]:
    """What every cell shares, stated once, each part ``name value``: the model and its input
    shapes, scenario, batch, threads, CPUs, precision, instances, repeats, environment, mode and
    how it was timed. A setting that varies is left out: it is in each row's label or column.
    The one formatter of summary.md's settings line and the console's, above the table."""
    if not rows:
        return []
    first = rows[0]
    parts = [] if "model" in vary else [f"model {first.get('model')}{_shapes(rows)}"]
    if "scenario" not in vary:
        scenario = f"scenario {first.get('scenario')}"
        if first.get("target_qps") is not None and "target_qps" not in vary:
            scenario += f" at {first['target_qps']:g} QPS"
        if first.get("latency_bound_ms") is not None and "latency_bound_ms" not in vary:
            scenario += f", bound {first['latency_bound_ms']:g} ms"
        parts.append(scenario)
    shared = [
        ("batch", "batch_size"), ("threads", "threads"), ("CPUs", "cpus"), ("precision", "precision"),
        ("instances", "instances"), ("repeats", "repeats"), ("environment", "environment"), ("mode", "mode"),
    ]  # fmt: skip
    parts += [
        f"{name} {display_value(first.get(column) or (1 if column in ('instances', 'repeats') else None))}"
        for name, column in shared
        if column not in vary
    ]
    timing = json.loads(first.get("measurement_json") or "{}")
    if timing:
        min_time_s = float(timing.get("min_time_s") or 0)
        parts.append(
            f"timed loop at least {timing.get('min_iterations')} calls and {min_time_s:g} s "
            f"after {timing.get('warmup')} warm-up calls"
        )
        parts.append(f"seed {timing.get('seed')}")
    return parts


def _shapes(rows: list[Row]) -> str:
    """`` (input 1000x200)``: each input's shape in a call, when every row has the same; with a
    batch sweep, the batch as ``B``; nothing when the models' inputs differ or are unrecorded."""
    found = {row.get("input_shapes") or "{}" for row in rows}
    shapes = [json.loads(text) for text in found]
    if not shapes[0] or any(set(shape) != set(shapes[0]) for shape in shapes):
        return ""
    names = sorted(shapes[0])
    if len(shapes) == 1:
        return " (" + ", ".join(f"{n} {'x'.join(map(str, shapes[0][n]))}" for n in names) + ")"
    tails = {n: {tuple(shape[n][1:]) for shape in shapes} for n in names}
    if any(len(tail) != 1 for tail in tails.values()):
        return ""
    return " (" + ", ".join(f"{n} {'x'.join(['B', *map(str, next(iter(tails[n])))])}" for n in names) + ")"


def format_roof_pct(row: Row) -> str:
    """A cell's share of the measured roof of the precision that executed, ``12.3`` (``-`` where
    it has none: roof_omitted says why)."""
    pct = row.get("roof_pct_measured")
    if pct is None or math.isnan(pct):
        return "-"
    return f"{pct:.1f}" if pct < 10 else f"{pct:.0f}"


def describe_roofs(roofs: dict[str, Any] | None) -> str | None:
    """environment.json's ``roofs`` in one line: each precision's measured and theoretical
    GFLOP/s, then the measured bandwidth, at the run's widest thread count; None without them."""
    if not roofs:
        return None

    def figure(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    parts = [
        f"{name} {figure(roofs[name].get('measured_gflops'))} measured / "
        f"{figure(roofs[name].get('theoretical_gflops'))} theoretical GFLOP/s"
        for name in ("fp32", "bf16", "int8")
        if name in roofs
    ]
    bandwidth = (roofs.get("bandwidth") or {}).get("measured_gbs")
    parts.append(f"memory {figure(bandwidth)} GB/s measured")
    cpus = ",".join(map(str, roofs.get("cpus") or []))
    return f"{'; '.join(parts)} ({roofs.get('threads')} thread(s) on CPUs {cpus})"
