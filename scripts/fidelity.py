"""Fidelity benchmark: does the orchestrator's cell measure what a bare loop measures -- time and
memory -- and what does one shared environment add?

Per model, framework and round: scripts/bare_loop.py (its own minimal code) in the framework's
own environment, and a one-framework orchestrator run of the same model, inputs, batch,
threads and CPUs in its own environment (and, with --shared, in the shared one), alternating
which goes first so that drift hits both alike. Prints medians over rounds and their ratios
(orchestrator / bare; 1.00 means the harness adds nothing). Asserts nothing.

    .venv/bin/python scripts/fidelity.py --models mlp,resnet50,distilbert --rounds 3 --shared
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

from orchestrator.execute.environments import default_root, resolve  # noqa: E402
from orchestrator.execute.launcher import worker_env  # noqa: E402
from orchestrator.host import allowed_cpus  # noqa: E402
from orchestrator.plan.cells import format_cpus  # noqa: E402
from orchestrator.plan.framework_refs import FrameworkRef  # noqa: E402
from runners.registry import FRAMEWORKS  # noqa: E402


def orchestrator_cell(
    framework: str, model: str, environment: str, output: Path, args: argparse.Namespace
) -> tuple[dict[str, float], Path]:
    """One cell: its figures and its run directory."""
    before = set(output.iterdir()) if output.exists() else set()
    command = [
        sys.executable, "-m", "orchestrator", "--quiet", "--frameworks", framework, "--model", model,
        "--environment", environment, "--output", str(output), "--threads", str(args.threads),
        "--cpus", args.cpus, "--min-time", str(args.min_time), "--warmup", str(args.warmup),
    ]  # fmt: skip
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    (run_dir,) = set(output.iterdir()) - before
    (row,) = pq.read_table(run_dir / "summary.parquet").to_pylist()
    if row["status"] != "ok":
        raise RuntimeError(f"{framework} {model}: {row['status']} {row['error']}")
    figures = {
        "p50_ms": row["latency_ms_p50"],
        "peak_rss_mb": row["peak_rss_mb"],
        "rss_mb_load": row["rss_mb_load"],
    }
    return figures, run_dir


def bare(
    framework: str, model: str, model_dir: Path, python: Path, batch: int, args: argparse.Namespace
) -> dict[str, float]:
    out = subprocess.run(
        [
            str(python),
            str(PROJECT_ROOT / "scripts" / "bare_loop.py"),
            framework,
            str(model_dir),
            "--model-ref",
            model,
            "--batch-size",
            str(batch),
            "--threads",
            str(args.threads),
            "--cpus",
            args.cpus,
            "--min-time",
            str(args.min_time),
            "--warmup",
            str(args.warmup),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=worker_env(),
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return {
        "p50_ms": found["p50_ms"],
        "peak_rss_mb": found["peak_rss_mb"],
        "rss_mb_load": found["rss_mb_after_build"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--models", default="mlp")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: each model's own")
    parser.add_argument("--threads", type=int, default=len(allowed_cpus()))
    parser.add_argument("--cpus", default=format_cpus(allowed_cpus()))
    parser.add_argument("--min-time", type=float, default=2.0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--shared", action="store_true", help="also run each cell in the shared environment")
    args = parser.parse_args()

    frameworks = args.frameworks.split(",")
    pythons = {
        name: env.python
        for name, env in resolve([FrameworkRef(f) for f in frameworks], "own", default_root()).items()
    }
    kinds = ["bare", "own"] + (["shared"] if args.shared else [])
    results: dict[tuple[str, str], dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "runs"
        for model in args.models.split(","):
            for round_index in range(args.rounds):
                for framework in frameworks:
                    measured = results.setdefault((model, framework), {kind: [] for kind in kinds})
                    order = kinds if round_index % 2 == 0 else kinds[::-1]
                    model_dir = None
                    for kind in order:
                        if kind == "bare":
                            if model_dir is None:  # the bare loop reads the files of a run of the model
                                _, run_dir = orchestrator_cell(framework, model, "own", output, args)
                                model_dir = run_dir / "models" / model
                            batch = (
                                args.batch_size
                                or json.loads((run_dir / "plan.json").read_text())["cells"][0]["batch_size"]
                            )
                            python = pythons[framework]
                            assert python is not None
                            figures = bare(framework, model, model_dir, python, batch, args)
                        else:
                            figures, run_dir = orchestrator_cell(framework, model, kind, output, args)
                            model_dir = run_dir / "models" / model
                        measured[kind].append(figures)
                        print(
                            f"round {round_index + 1} {model:<11} {framework:<12} {kind:<7} "
                            f"p50 {figures['p50_ms']:.4f} ms  peak {figures['peak_rss_mb']:.0f} MB",
                            flush=True,
                        )

    print(f"\nthreads {args.threads}, cpus {args.cpus}, {args.rounds} rounds of {args.min_time:g} s; medians")
    columns = ["model", "framework", "bare p50", "orch p50", "ratio", "best", "bare MB", "own MB", "ratio"]
    columns += ["shared MB", "ratio"] if args.shared else []
    print(" | ".join(columns))
    for (model, framework), measured in results.items():
        line = [model, framework, *_figures(measured, args.shared)]
        print(" | ".join(line))


def _median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(figures[key] for figures in runs))


def _figures(measured: dict[str, list[dict[str, float]]], shared: bool) -> list[str]:
    """p50s and their ratio (median and best round), peak MB and its ratio to the bare loop's."""
    bare_p50, own_p50 = _median(measured["bare"], "p50_ms"), _median(measured["own"], "p50_ms")
    best = min(f["p50_ms"] for f in measured["own"]) / min(f["p50_ms"] for f in measured["bare"])
    bare_mb, own_mb = _median(measured["bare"], "peak_rss_mb"), _median(measured["own"], "peak_rss_mb")
    cells = [f"{bare_p50:.4f}", f"{own_p50:.4f}", f"{own_p50 / bare_p50:.3f}", f"{best:.3f}"]
    cells += [f"{bare_mb:.0f}", f"{own_mb:.0f}", f"{own_mb / bare_mb:.3f}"]
    if shared:
        shared_mb = _median(measured["shared"], "peak_rss_mb")
        cells += [f"{shared_mb:.0f}", f"{shared_mb / bare_mb:.3f}"]
    return cells


if __name__ == "__main__":
    main()
