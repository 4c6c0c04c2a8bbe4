"""Fidelity benchmark: does the orchestrator's isolated cell measure what a bare loop measures?

Per framework and round, runs scripts/bare_loop.py (a fresh process, no orchestrator code)
and a one-framework orchestrator run with the same model, inputs, batch, threads and CPUs,
alternating which goes first so drift hits both alike. Prints the medians over rounds and
their ratio (orchestrator / bare; 1.00 means the harness adds nothing). Asserts nothing.

    .venv/bin/python scripts/fidelity.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from orchestrator.artifacts import write_artifacts  # noqa: E402
from orchestrator.plan import allowed_cpus, format_cpus  # noqa: E402
from runners.registry import FRAMEWORKS  # noqa: E402


def bare_p50(framework: str, run_dir: Path, args: argparse.Namespace) -> float:
    out = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "scripts" / "bare_loop.py"),
            framework,
            str(run_dir),
            "--batch-size",
            str(args.batch_size),
            "--threads",
            str(args.threads),
            "--cpus",
            args.cpus,
            "--min-time",
            str(args.min_time),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["p50_ms"])


def orchestrator_p50(framework: str, output: Path, args: argparse.Namespace) -> float:
    before = set(output.iterdir()) if output.exists() else set()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "--quiet",
            "--frameworks",
            framework,
            "--output",
            str(output),
            "--batch-size",
            str(args.batch_size),
            "--threads",
            str(args.threads),
            "--cpus",
            args.cpus,
            "--min-time",
            str(args.min_time),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (run_dir,) = set(output.iterdir()) - before
    (row,) = pq.read_table(run_dir / "summary.parquet").to_pylist()
    return float(row["latency_ms_p50"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=len(allowed_cpus()))
    parser.add_argument("--cpus", default=format_cpus(allowed_cpus()))
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        artifacts_dir = Path(tmp) / "artifacts"
        artifacts_dir.mkdir()
        write_artifacts(artifacts_dir, seed=0, rows=max(1000, args.batch_size))  # the CLI's defaults
        output = Path(tmp) / "runs"
        results: dict[str, dict[str, list[float]]] = {}
        for round_index in range(args.rounds):
            for framework in args.frameworks.split(","):
                measured = results.setdefault(framework, {"bare": [], "orchestrator": []})
                order = ["bare", "orchestrator"] if round_index % 2 == 0 else ["orchestrator", "bare"]
                for kind in order:
                    if kind == "bare":
                        value = bare_p50(framework, artifacts_dir, args)
                    else:
                        value = orchestrator_p50(framework, output, args)
                    measured[kind].append(value)
                    print(
                        f"round {round_index + 1} {framework:<12} {kind:<12} p50 {value:.4f} ms", flush=True
                    )

    print(
        f"\nbatch {args.batch_size}, threads {args.threads}, cpus {args.cpus}, "
        f"{args.rounds} rounds of {args.min_time:g} s each; medians over rounds"
    )
    # The median over rounds is the headline; the best round is less sensitive to a neighbour
    # on a shared machine slowing one of the two sides down.
    print(f"{'framework':<12} {'bare p50 ms':>12} {'orch p50 ms':>12} {'orch/bare':>10} {'best ratio':>11}")
    for framework, measured in results.items():
        bare, orch = statistics.median(measured["bare"]), statistics.median(measured["orchestrator"])
        best = min(measured["orchestrator"]) / min(measured["bare"])
        print(f"{framework:<12} {bare:>12.4f} {orch:>12.4f} {orch / bare:>10.3f} {best:>11.3f}")


if __name__ == "__main__":
    main()
