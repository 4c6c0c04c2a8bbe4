"""Precision figures: for each model, every framework at every precision, side by side -- p50,
speed-up over the framework's own fp32, peak memory, quantization time, fidelity against the
float64 reference (cosine min, SQNR, top-1), the accuracy on held-out labels of a trained model
(digits), the precision that really ran, and the CPU's features that bf16 and int8 kernels can
use (from the run's environment.json).

One orchestrator run per model (every framework and precision in it, each cell in its own
pinned process), so the ratios of a model are measured side by side. Prints one table; every
run directory is kept under --output. Asserts nothing: the figures go in the README and notes.

    .venv/bin/python scripts/precision_figures.py --models mlp,digits,resnet50,distilbert

Flags after ``--`` go to every orchestrator run (e.g. ``-- --min-time 1``). A model's own
budget (--model-flags) replaces the default one for that model.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from orchestrator.figures.speedup import speedups_vs_fp32

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What a model's cells run by default: the MLP at its batch of 1000 for the article's figure;
# the zoo models at batch 1, fewer calls (each is 10-100 ms), the reference checks 4-8 rows.
BUDGETS = {
    "mlp": ["--warmup", "20", "--min-iterations", "100", "--min-time", "1"],
    "digits": ["--warmup", "20", "--min-iterations", "100", "--min-time", "1"],  # 540 in a call
    "resnet50": ["--warmup", "3", "--min-iterations", "20", "--min-time", "1"],
    "distilbert": ["--warmup", "3", "--min-iterations", "20", "--min-time", "1"],
}
DEFAULT_BUDGET = ["--warmup", "5", "--min-iterations", "30", "--min-time", "1"]

_COLUMNS = (
    ("model", 10), ("framework", 11), ("precision", 12), ("ran", 24), ("p50 ms", 9), ("speed-up", 8),
    ("peak MB", 7), ("quant s", 7), ("cos min", 8), ("SQNR dB", 7), ("top-1", 6), ("accuracy", 8),
    ("CPU %", 5), ("load", 5), ("status", 30),
)  # fmt: skip


def run_orchestrator(flags: list[str], output: Path) -> tuple[list[dict[str, Any]], Path, float]:
    """One orchestrator run into a directory of its own under ``output``: its summary rows,
    its directory and how long it took."""
    before = set(output.iterdir()) if output.exists() else set()
    command = [sys.executable, "-m", "orchestrator", "--quiet", "--output", str(output), *flags]
    print(f"# {shlex.join(command[1:])}", file=sys.stderr, flush=True)
    start = time.monotonic()
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    took = time.monotonic() - start
    if proc.returncode not in (0, 1):  # 1: some cell failed, was skipped strictly or diverged
        sys.exit(f"{shlex.join(command)}: exit {proc.returncode}\n{proc.stderr.strip()}")
    (run_dir,) = set(output.iterdir()) - before
    rows: list[dict[str, Any]] = pq.read_table(run_dir / "summary.parquet").to_pylist()
    return rows, run_dir, took


def cpu_features_line(host: dict[str, Any]) -> str:
    """The CPU and what its vector units offer a lower precision, from the host record."""
    features = set(host.get("cpu_features") or [])
    if host.get("cpu_features") is None:
        offer = "not recorded (a run from before the host record listed them)"
    elif features & {"amx_bf16", "amx_int8"}:
        offer = "AMX tiles (bf16, int8 matrix multiplies)"
        offer += ", AVX-512 VNNI" if "avx512_vnni" in features else ""
        offer += ", avx512_bf16" if "avx512_bf16" in features else ""
    elif features & {"avx512_vnni", "avx512_bf16"}:
        have = [name for name in ("avx512_vnni", "avx512_bf16", "avx_vnni") if name in features]
        offer = "AVX-512 with " + ", ".join(have) + "; no AMX"
    elif "avx_vnni" in features:
        offer = "AVX2 with AVX-VNNI (int8 dot products); no AVX-512, no AMX"
    elif "avx2" in features:
        offer = "AVX2 only: no VNNI, no bf16 arithmetic, no AMX"
    else:
        offer = "no AVX2"
    cpus = len(host.get("allowed_cpus") or [])
    return f"CPU: {host.get('cpu_model', '?')}, {cpus} CPUs allowed; features for bf16/int8: {offer}"


def _number(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _accuracy(row: dict[str, Any]) -> str:
    """Held-out accuracy of a trained model, ``97.59%``; ``-`` for a model without labels."""
    value = row.get("accuracy")
    return "-" if value is None else f"{100 * value:.2f}%"


def _load(row: dict[str, Any]) -> str:
    """The machine's 1-minute load average as the cell ended, where the busy-machine warning
    recorded it (a shared machine: what the speed-ups were measured under); ``-`` otherwise."""
    found = re.search(r"busy-machine: load average ([0-9.]+)", row.get("warnings") or "")
    return "-" if found is None else f"{float(found.group(1)):.1f}"


def table_line(row: dict[str, Any]) -> str:
    """One cell as a line of the table."""
    top1 = row.get("top1_agreement")
    status = str(row["status"])
    if row["status"] != "ok":
        status += f": {row.get('error') or ''}"
    elif row.get("parity_ok") is False:
        status = "DIVERGED: " + (row.get("fidelity_shortfall") or f"max |diff| {row.get('max_abs_diff'):.2g}")
    values = [
        str(row["model"]), str(row["framework"]), str(row["precision"]),
        str(row.get("precision_effective") or "-"),
        _number(row.get("latency_ms_p50"), 3), _ratio(row.get("speedup_vs_fp32")),
        _number(row.get("peak_rss_mb"), 0), _number(row.get("quantize_s"), 1),
        _number(row.get("cosine_min"), 5), _number(row.get("sqnr_db"), 1),
        "-" if top1 is None else f"{100 * top1:.0f}%", _accuracy(row),
        _number(row.get("cpu_percent"), 0), _load(row), status[:200],
    ]  # fmt: skip
    return " ".join(f"{value:<{width}s}" for value, (_, width) in zip(values, _COLUMNS)).rstrip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,digits,resnet50,distilbert")
    parser.add_argument("--frameworks", default="pytorch,tensorflow,jax,onnxruntime,openvino")
    parser.add_argument("--precisions", default="fp32,bf16,int8")
    parser.add_argument("--threads", default="2")
    parser.add_argument(
        "--model-flags", action="append", default=[], metavar="MODEL=FLAGS",
        help="a model's own budget instead of the default, e.g. resnet50='--min-iterations 10'",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    parser.add_argument(
        "--runs", type=Path, nargs="+", default=None, metavar="RUN_DIR",
        help="print the table of these finished runs instead of running anything",
    )  # fmt: skip
    parser.add_argument("orchestrator_flags", nargs="*", help="after --: further flags for every run")
    args = parser.parse_args()

    budgets = dict(BUDGETS)
    for entry in args.model_flags:
        model, _, flags = entry.partition("=")
        budgets[model] = shlex.split(flags)
    output = args.output or Path(tempfile.mkdtemp(prefix="precision-figures-"))
    common = ["--frameworks", args.frameworks, "--precision", args.precisions, "--threads", args.threads]
    header = " ".join(f"{name:<{width}s}" for name, width in _COLUMNS).rstrip()
    lines: list[str] = []
    hosts: list[str] = []
    host: dict[str, Any] = {}
    for model in args.models.split(",") if args.runs is None else [None] * len(args.runs):
        if model is None:
            run_dir, took = args.runs[len(hosts)], math.nan
            rows = pq.read_table(run_dir / "summary.parquet").to_pylist()
        else:
            flags = [*common, "--model", model, *budgets.get(model, DEFAULT_BUDGET), *args.orchestrator_flags]
            rows, run_dir, took = run_orchestrator(flags, output)
        host = json.loads((run_dir / "environment.json").read_text()).get("host") or {}
        load = host.get("load_average")
        hosts.append(f"{rows[0]['model']}: {run_dir} ({took:.0f} s; load average at its start {load})")
        # As the tool pairs cells today: a run from before a fix to the pairing prints right too.
        speedups = speedups_vs_fp32(rows)
        lines += [table_line(dict(row, speedup_vs_fp32=speedups[row["cell_id"]])) for row in rows]
    print(cpu_features_line(host))
    print(header)
    print("\n".join(lines))
    print("speed-up: the framework's own fp32 p50 over this p50 (same model, batch, threads, options);")
    print("quant s: offline quantization (its own process) or at load (PyTorch); fidelity against the")
    print("float64 reference; accuracy: of a trained model's held-out labels (the float64 reference's")
    print("beside it in the summary); ran: the precision observed (precision_effective).")
    print("CPU %: the cell's CPU time over wall time in its timed loop (200 % = both CPUs); load: the")
    print("machine's load average as the cell ended, where it was busy: a shared machine's speed-ups")
    print("are those of cells that got different shares of the CPUs.")
    print("runs:\n  " + "\n  ".join(hosts))


if __name__ == "__main__":
    main()
