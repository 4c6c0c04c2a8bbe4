"""External comparison: do the vendors' own benchmark tools agree with the orchestrator?

Per scenario (offline = one call of --batch-size rows; single-stream = one row per call) and
round, runs side by side, alternating the order from round to round so drift hits all alike:

1. a two-framework orchestrator run (openvino, onnxruntime); reads latency_ms_p50 per
   framework from its summary.parquet;
2. OpenVINO's ``benchmark_app`` on that run's model.onnx (static shape, sync API, one stream,
   f32, the same threads), pinned with ``taskset`` to the same CPUs; parses its Median;
3. ONNX Runtime's test tool on the same model. ``onnxruntime_test`` cannot set threads (it uses
   ONNX Runtime's default pool, sized to the machine, not the affinity mask) and prints only an
   average over the whole loop, so this script runs a minimal equivalent instead (its own
   ``ort-tool`` subcommand): the tool's own ``generate_feeds``, the tool's session setup plus
   explicit ``SessionOptions(intra_op_num_threads=T, inter_op_num_threads=1)``, one untimed first
   call, then timed sync calls for at least --min-time seconds; it reports median and average.

Prints, per scenario and framework, the median over rounds of the orchestrator p50 and the
tool median, their ratio (orchestrator / tool; 1.00 means they agree), and the exact commands.
Asserts nothing.

    .venv/bin/python scripts/external_compare.py --rounds 3
    .venv/bin/python scripts/external_compare.py --rounds 1 --min-time 1 --scenarios offline
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
FRAMEWORKS = ("openvino", "onnxruntime")
FEATURES = 200
SCENARIO_NOTE = (
    "single-stream: the orchestrator cycles through 1000 different input rows; "
    "benchmark_app and ort-tool call the model on one fixed random input."
)


# --- pinning and parsing helpers ---------------------------------------------------------


def parse_cpus(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5]."""
    cpus: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def pinned(cmd: list[str], cpus: str) -> list[str]:
    """cmd prefixed so that it runs on `cpus`: taskset, or a Python exec wrapper without it."""
    taskset = shutil.which("taskset")
    if taskset:
        return [taskset, "-c", cpus, *cmd]
    wrapper = (
        "import os, sys; "
        "os.sched_setaffinity(0, [int(c) for c in sys.argv[1].split(',')]); "
        "os.execvp(sys.argv[2], sys.argv[2:])"
    )
    cpu_list = ",".join(str(c) for c in parse_cpus(cpus))
    return [sys.executable, "-c", wrapper, cpu_list, *cmd]


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run cmd (an argument list, no shell) from the project root; never raises on failure."""
    return subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def failure(name: str, proc: subprocess.CompletedProcess[str]) -> None:
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    print(f"  {name} exited {proc.returncode}: {' | '.join(tail)}", file=sys.stderr)


def shape_batch(scenario: str, batch_size: int) -> int:
    return batch_size if scenario == "offline" else 1


# --- the three measurements --------------------------------------------------------------


def orchestrator_run(
    scenario: str, output: Path, args: argparse.Namespace
) -> tuple[list[str], Path | None, dict[str, float]]:
    """One orchestrator run of both frameworks: (command, run directory, p50 ms per framework)."""
    cmd = [sys.executable, "-m", "orchestrator", "--quiet", "--frameworks", ",".join(FRAMEWORKS)]
    cmd += ["--scenario", scenario]
    if scenario == "offline":
        cmd += ["--batch-size", str(args.batch_size)]
    cmd += ["--threads", str(args.threads), "--cpus", args.cpus, "--precision", "fp32"]
    cmd += ["--min-time", f"{args.min_time:g}", "--output", str(output)]
    before = set(output.iterdir())
    proc = run(cmd)
    new_dirs = sorted(set(output.iterdir()) - before)
    if proc.returncode != 0:
        failure("orchestrator", proc)
    if not new_dirs or not (new_dirs[0] / "summary.parquet").exists():
        return cmd, None, {}
    run_dir = new_dirs[0]
    rows = pq.read_table(run_dir / "summary.parquet").to_pylist()
    p50 = {
        row["framework"]: float(row["latency_ms_p50"])
        for row in rows
        if row["status"] == "ok" and row.get("scenario", scenario) == scenario
    }
    return cmd, run_dir, p50


_BENCHMARK_APP_RE = re.compile(r"(Median|Average):\s+([\d.]+)\s*(ms|us)")


def benchmark_app_run(
    model: Path, batch: int, args: argparse.Namespace
) -> tuple[list[str], dict[str, float]]:
    """OpenVINO's benchmark_app, pinned: (command, {'median_ms', 'mean_ms'})."""
    tool = shutil.which("benchmark_app", path=str(BIN_DIR)) or "benchmark_app"
    cmd = [tool, "-m", str(model), "-d", "CPU", "-shape", f"[{batch},{FEATURES}]"]
    cmd += ["-hint", "none", "-nthreads", str(args.threads), "-nstreams", "1"]
    cmd += ["-infer_precision", "f32", "-api", "sync"]
    cmd += ["-t", str(math.ceil(args.min_time))]  # whole seconds only
    cmd = pinned(cmd, args.cpus)
    proc = run(cmd)
    figures: dict[str, float] = {}
    for name, value, unit in _BENCHMARK_APP_RE.findall(proc.stdout):
        key = "median_ms" if name == "Median" else "mean_ms"
        figures[key] = float(value) / (1000.0 if unit == "us" else 1.0)
    if proc.returncode != 0 or "median_ms" not in figures:
        failure("benchmark_app", proc)
    return cmd, figures


def ort_tool_run(model: Path, batch: int, args: argparse.Namespace) -> tuple[list[str], dict[str, float]]:
    """This script's ort-tool subcommand in a fresh pinned process: (command, figures)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "ort-tool", str(model)]
    cmd += ["--batch", str(batch), "--threads", str(args.threads), "--min-time", f"{args.min_time:g}"]
    cmd = pinned(cmd, args.cpus)
    proc = run(cmd)
    if proc.returncode != 0:
        failure("ort-tool", proc)
        return cmd, {}
    return cmd, json.loads(proc.stdout.strip().splitlines()[-1])


# --- the ort-tool subcommand (runs in its own process) -----------------------------------


def ort_tool(argv: list[str]) -> int:
    """Minimal onnxruntime_test with explicit threads and per-call timing; prints JSON."""
    parser = argparse.ArgumentParser(prog="external_compare.py ort-tool")
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--min-time", type=float, required=True)
    args = parser.parse_args(argv)

    import onnxruntime as ort
    from onnxruntime.tools.onnxruntime_test import generate_feeds

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, sess_options=options, providers=ort.get_available_providers())
    symbolic = {dim: args.batch for i in session.get_inputs() for dim in i.shape if isinstance(dim, str)}
    feeds = generate_feeds(session, symbolic)
    session.run([], feeds)  # first call, untimed (as benchmark_app does)

    latencies_ns: list[int] = []
    deadline = time.perf_counter_ns() + int(args.min_time * 1e9)
    while time.perf_counter_ns() < deadline:
        start = time.perf_counter_ns()
        session.run([], feeds)
        latencies_ns.append(time.perf_counter_ns() - start)

    median_ms = statistics.median(latencies_ns) / 1e6
    mean_ms = statistics.fmean(latencies_ns) / 1e6
    print(f"iterations: {len(latencies_ns)}")
    print(f"avg latency: {mean_ms} ms")
    print(f"median latency: {median_ms} ms")
    print(json.dumps({"median_ms": median_ms, "mean_ms": mean_ms, "iterations": len(latencies_ns)}))
    return 0


# --- rounds and the report ---------------------------------------------------------------


def one_round(
    scenario: str, round_index: int, model: Path | None, output: Path, args: argparse.Namespace
) -> dict:
    """Orchestrator first in even rounds, the tools first in odd rounds.

    The tools need the orchestrator's model.onnx, so in odd rounds they measure the model of
    the previous round's run (the file is identical: same seed and weights).
    """
    batch = shape_batch(scenario, args.batch_size)
    result: dict = {"commands": {}, "model": model}

    def orchestrator_step() -> None:
        cmd, run_dir, p50 = orchestrator_run(scenario, output, args)
        result["commands"]["orchestrator"] = cmd
        result["orchestrator"] = p50
        if run_dir is not None:
            result["model"] = run_dir / "model.onnx"

    def tools_step() -> None:
        if result["model"] is None:
            return
        cmd, result["openvino"] = benchmark_app_run(result["model"], batch, args)
        result["commands"]["openvino"] = cmd
        cmd, result["onnxruntime"] = ort_tool_run(result["model"], batch, args)
        result["commands"]["onnxruntime"] = cmd

    steps = [orchestrator_step, tools_step]
    if round_index % 2 == 1 and model is not None:
        steps.reverse()
    for step in steps:
        step()
    return result


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(scenario: str, rounds: list[dict], args: argparse.Namespace) -> None:
    batch = shape_batch(scenario, args.batch_size)
    print(
        f"\n== {scenario} (batch {batch}, threads {args.threads}, cpus {args.cpus}, "
        f"min-time {args.min_time:g}s, {len(rounds)} round(s)) =="
    )
    print(
        f"{'framework':<12} {'orch p50 ms':>12} {'tool median ms':>15} {'tool mean ms':>13} "
        f"{'orch/tool':>10}  per-round orch | tool median"
    )
    for framework in FRAMEWORKS:
        orch = [r["orchestrator"][framework] for r in rounds if framework in r.get("orchestrator", {})]
        tool = [r[framework]["median_ms"] for r in rounds if "median_ms" in r.get(framework, {})]
        mean = [r[framework]["mean_ms"] for r in rounds if "mean_ms" in r.get(framework, {})]
        orch_m, tool_m = median_or_none(orch), median_or_none(tool)
        ratio = orch_m / tool_m if orch_m is not None and tool_m else None
        per_round = f"{' '.join(fmt(v) for v in orch)} | {' '.join(fmt(v) for v in tool)}"
        print(
            f"{framework:<12} {fmt(orch_m):>12} {fmt(tool_m):>15} {fmt(median_or_none(mean)):>13} "
            f"{fmt(ratio, 2):>10}  {per_round}"
        )
    if scenario == "single-stream":
        print(f"note: {SCENARIO_NOTE}")
    print("commands (last round; the temporary output directory is deleted afterwards):")
    for name, cmd in rounds[-1]["commands"].items():
        print(f"  {name}: {shlex.join(cmd)}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    allowed = sorted(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000, help="offline rows per call")
    parser.add_argument("--threads", type=int, default=None, help="default: one per CPU in --cpus")
    parser.add_argument("--cpus", default=",".join(str(c) for c in allowed))
    parser.add_argument("--min-time", type=float, default=3.0)
    parser.add_argument("--scenarios", default="offline,single-stream")
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = len(parse_cpus(args.cpus))
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - {"offline", "single-stream"}
    if unknown:
        parser.error(f"--scenarios: unknown {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str]) -> int:
    if argv[:1] == ["ort-tool"]:
        return ort_tool(argv[1:])
    args = parse_args(argv)
    print(
        "ort-tool: minimal equivalent of onnxruntime_test (which sets no threads and prints "
        "only an average) with intra_op_num_threads=T, inter_op_num_threads=1, per-call timing"
    )
    with tempfile.TemporaryDirectory(prefix="external_compare_") as tmp:
        for scenario in args.scenarios:
            rounds: list[dict] = []
            model = None
            for i in range(args.rounds):
                rounds.append(one_round(scenario, i, model, Path(tmp), args))
                model = rounds[-1]["model"]
            report(scenario, rounds, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
