"""Serving figures on MLPerf LoadGen: per model and framework, the peak server rate that stays
VALID under a latency bound, then the p99 latency at 50 % and 90 % of that peak.

Per model: one orchestrator run with ``--scenario server --find-peak`` over every framework
(each in its own pinned process, every probe kept), then one run per framework at the two
fractions of its own peak. Prints one table; every run directory is kept under --output (the
peak runs' load.png plots every probe). Asserts nothing: the figures go in the README and notes.

    .venv/bin/python scripts/loadgen_figures.py --models mlp,distilbert --latency-bound-ms 5,100

Flags after ``--`` go to every orchestrator run, e.g. ``-- --seq-len 32`` for DistilBERT on short
texts (at 128 tokens its runs at a few QPS last minutes each: 1,024 queries per run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FRACTIONS = (0.5, 0.9)


def run_orchestrator(flags: list[str], output: Path) -> list[dict[str, Any]]:
    """One orchestrator run into a directory of its own under ``output``: its summary rows."""
    before = set(output.iterdir()) if output.exists() else set()
    command = [sys.executable, "-m", "orchestrator", "--quiet", "--output", str(output), *flags]
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: some cell failed or was INVALID -- still figures
        sys.exit(f"{' '.join(command)}: exit {proc.returncode}\n{proc.stderr.strip()}")
    (run_dir,) = set(output.iterdir()) - before
    rows: list[dict[str, Any]] = pq.read_table(run_dir / "summary.parquet").to_pylist()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp,distilbert")
    parser.add_argument(
        "--latency-bound-ms", default="5,100", help="p99 bound per model, in the order of --models"
    )
    parser.add_argument("--frameworks", default="pytorch,tensorflow,jax,onnxruntime,openvino")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--output", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    parser.add_argument("orchestrator_flags", nargs="*", help="after --: further flags for every run")
    args = parser.parse_args()

    models = args.models.split(",")
    bounds = [float(b) for b in args.latency_bound_ms.split(",")]
    if len(bounds) != len(models):
        sys.exit(f"--latency-bound-ms: expected {len(models)} bounds, one per model, got {len(bounds)}")
    output = args.output or Path(tempfile.mkdtemp(prefix="loadgen-figures-"))
    common = ["--threads", args.threads, "--scenario", "server", *args.orchestrator_flags]

    print(f"model        framework     bound ms   peak QPS   p99 ms @50%  p99 ms @90%   (runs in {output})")
    for model, bound in zip(models, bounds):
        flags = [*common, "--model", model, "--latency-bound-ms", f"{bound:g}"]
        peaks = run_orchestrator([*flags, "--frameworks", args.frameworks, "--find-peak"], output)
        for peak_row in peaks:
            framework, peak = peak_row["framework"], peak_row["peak_qps"]
            if peak_row["status"] != "ok" or peak is None:
                print(f"{model:12s} {framework:13s} {bound:8g}   {peak_row['status']}: {peak_row['error']}")
                continue
            rates = ",".join(f"{fraction * peak:.4g}" for fraction in FRACTIONS)
            loaded = run_orchestrator([*flags, "--frameworks", framework, "--target-qps", rates], output)
            by_rate = sorted(loaded, key=lambda row: row["target_qps"] or 0.0)
            p99 = [
                f"{row['latency_ms_p99']:.3g} {json.loads(row['loadgen_json'])['validity'][:1]}"
                if row["status"] == "ok"
                else row["status"]
                for row in by_rate
            ]
            print(f"{model:12s} {framework:13s} {bound:8g} {peak:10.4g}   {p99[0]:>11s}  {p99[1]:>11s}")
    print("V: LoadGen judged the run VALID (p99 under the bound, enough queries); I: INVALID")


if __name__ == "__main__":
    main()
