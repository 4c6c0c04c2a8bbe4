"""Does the live display cost the benchmark anything? The parent redraws its Rich table twice a
second; it moves itself off the runners' CPUs where the machine has others, but on a machine
whose CPUs the runners fill it shares theirs.

Alternates one-framework runs with the live display (under a pseudo-terminal, as a user sees it)
and with --quiet, and prints the median p50 of each and their ratio. Asserts nothing.

    .venv/bin/python scripts/display_cost.py --framework onnxruntime --scenario single-stream --rounds 5
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def one_run(args: argparse.Namespace, output: Path, live: bool) -> float:
    before = set(output.iterdir()) if output.exists() else set()
    command = [
        sys.executable, "-m", "orchestrator", "--frameworks", args.framework, "--scenario", args.scenario,
        "--min-time", str(args.min_time), "--output", str(output),
    ]  # fmt: skip
    if live:  # `script` gives the run a terminal, so the parent draws its live table
        subprocess.run(
            ["script", "-qec", shlex.join(command), "/dev/null"],
            cwd=PROJECT_ROOT, check=True, capture_output=True,
        )  # fmt: skip
    else:
        subprocess.run([*command, "--quiet"], cwd=PROJECT_ROOT, check=True, capture_output=True)
    (run_dir,) = set(output.iterdir()) - before
    (row,) = pq.read_table(run_dir / "summary.parquet").to_pylist()
    return float(row["latency_ms_p50"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--framework", default="onnxruntime")
    parser.add_argument("--scenario", default="single-stream")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()
    figures: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(args.rounds):
            for live in (True, False) if round_index % 2 == 0 else (False, True):
                figures[live].append(one_run(args, Path(tmp), live))
                print(
                    f"round {round_index + 1} {'live ' if live else 'quiet'} p50 {figures[live][-1]:.4f} ms",
                    flush=True,
                )
    live, quiet = statistics.median(figures[True]), statistics.median(figures[False])
    ratio = live / quiet
    print(
        f"{args.framework} {args.scenario}: live {live:.4f} ms, quiet {quiet:.4f} ms, live/quiet {ratio:.3f}"
    )


if __name__ == "__main__":
    main()
