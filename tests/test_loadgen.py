"""MLPerf LoadGen scenarios, for real, on the fake runner (a second or two each): LoadGen's verdict
and figures are recorded, its logs kept, a peak search keeps every probe, batching under load is
recorded, and a runner that dies under load is failed with LoadGen's partial logs kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import (
    ALLOWED_CPUS,
    FIRST_CPU,
    PROJECT_ROOT,
    cpu_list,
    need_allowed_cpus,
    only_run_dir,
    run_cli,
    survivors,
)

LOAD = ["--min-time", "0.5", "--min-iterations", "50", "--warmup", "5"]
# A server's latency bound no busy machine makes it miss, where the verdict is not the point: on
# the shared 2-CPU machine (load ~13, plus a busy loop on each CPU) a runner waited for a CPU long
# enough to put the p99 of 500 queries a second at 50-175 ms -- INVALID at 50 ms, and exit 1.
BOUND_MS = "1000"


def rows_of(tmp_path: Path) -> list[dict[str, Any]]:
    return pq.read_table(only_run_dir(tmp_path / "results") / "summary.parquet").to_pylist()


def test_every_loadgen_scenario_runs_and_records_loadgens_verdict(tmp_path: Path) -> None:
    proc = run_cli(
        [
            "--frameworks", "fake", "--scenario", "server,multi-stream,loadgen-single-stream,loadgen-offline",
            "--target-qps", "500", "--latency-bound-ms", BOUND_MS, "--batch-size", "64", *LOAD,
        ],  # 500 a second: LoadGen's 1024 server queries in 2 s (at 200, 5 s)
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    rows = {row["scenario"]: row for row in rows_of(tmp_path)}
    assert set(rows) == {"server", "multi-stream", "loadgen-single-stream", "loadgen-offline"}
    for scenario, row in rows.items():
        assert row["status"] == "ok" and row["parity_ok"], (scenario, row["error"])
        result = json.loads(row["loadgen_json"])
        assert row["loadgen_validity"] == result["validity"] == "VALID", (scenario, result)
        assert row["latency_ms_p50"] == result["latency_ms_p50"] > 0  # LoadGen's figures, not the tool's
        assert row["latency_ms_p999"] >= row["latency_ms_p99"] >= row["latency_ms_p50"]
        assert row["throughput_per_s"] == result["samples_per_s"] > 0
        assert result["timer_slack_ns"] == 1  # read back from the thread LoadGen's threads inherit from
        logs = run_dir / "cells" / row["cell_id"] / "loadgen"
        assert (logs / "mlperf_log_summary.txt").is_file() and (logs / "mlperf_log_detail.txt").is_file()
    server = rows["server"]
    assert server["target_qps"] == 500.0 and server["latency_bound_ms"] == float(BOUND_MS)
    assert 375 < server["throughput_per_s"] < 625  # LoadGen offered 500 a second, Poisson
    assert json.loads(server["loadgen_json"])["queries"] >= 1024  # enough for early stopping to pass
    assert rows["multi-stream"]["batch_size"] == 8 and rows["loadgen-offline"]["batch_size"] == 64
    samples = pq.read_table(run_dir / "samples.parquet").to_pylist()
    assert {sample["config_id"] for sample in samples} == {row["config_id"] for row in rows.values()}


def test_a_peak_search_keeps_every_probe_and_batching_is_recorded(tmp_path: Path) -> None:
    # A 500 ms bound: at 20 ms (and at 5) a neighbour's load pushed even the light-load probe's p99
    # to 99-175 ms (load ~13 and a busy loop on each CPU), so no rate was VALID; past the
    # back-to-back rate the queue still grows far beyond 500 ms in a probe's 2 s.
    proc = run_cli(
        [
            "--frameworks", "fake", "--scenario", "server", "--find-peak", "--latency-bound-ms", "500",
            "--max-batch", "4", "--report", "png", *LOAD,
            "--min-time", "2", "--timeout", "5",  # 3 probes or more of 2 s: the timeout is per probe
        ],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = rows_of(tmp_path)
    assert row["scenario"] == "server-peak" and row["target_qps"] is None and row["batch_size"] == 4
    result = json.loads(row["loadgen_json"])
    probes = result["probes"]
    assert len(probes) >= 3
    valid = [probe["offered_qps"] for probe in probes if probe["validity"] == "VALID"]
    invalid = [probe["offered_qps"] for probe in probes if probe["validity"] != "VALID"]
    assert valid and invalid and row["peak_qps"] == max(valid) < min(q for q in invalid if q > max(valid))
    assert result["max_batch"] == 4 and sum(result["calls_by_batch"].values()) > 0
    run_dir = only_run_dir(tmp_path / "results")
    assert len(list((run_dir / "cells" / row["cell_id"] / "loadgen").glob("probe-*"))) == len(probes)
    assert (run_dir / "load.png").stat().st_size > 0  # p99 against offered rate, every probe


def test_a_peak_search_stops_when_even_a_light_load_misses_the_bound(tmp_path: Path) -> None:
    # No call meets a 1 us bound: the search must say so after the light-load probe, not probe
    # ever lower rates, each lasting 1,024 queries at its rate (minutes, then hours).
    proc = run_cli(
        ["--frameworks", "fake", "--scenario", "server", "--find-peak", "--latency-bound-ms", "0.001",
         *LOAD],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    (row,) = rows_of(tmp_path)
    assert row["status"] == "failed" and row["peak_qps"] is None
    assert "no server rate met the 0.001 ms bound: p99" in row["error"] and "back to back" in row["error"]
    probes = list((only_run_dir(tmp_path / "results") / "cells" / row["cell_id"] / "loadgen").glob("probe-*"))
    assert len(probes) == 2  # half the back-to-back rate, then a quarter of that


def test_a_server_run_may_take_its_schedule_on_top_of_the_timeout(tmp_path: Path) -> None:
    # 1,024 queries at 150 QPS last ~7 s, beyond --timeout 3: a slow model's peak search probes
    # such rates, and its runs must not be killed for lasting as long as LoadGen schedules them.
    proc = run_cli(
        ["--frameworks", "fake", "--scenario", "server", "--target-qps", "150",
         "--latency-bound-ms", BOUND_MS, *LOAD, "--timeout", "3"],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = rows_of(tmp_path)
    assert row["status"] == "ok" and row["loadgen_validity"] == "VALID"
    assert json.loads(row["loadgen_json"])["queries"] >= 1024


def test_a_runner_that_dies_under_load_is_failed_and_loadgens_logs_are_kept(tmp_path: Path) -> None:
    proc = run_cli(
        ["--frameworks", "fake-segfault,fake", "--scenario", "server", "--target-qps", "500",
         "--latency-bound-ms", BOUND_MS, *LOAD, "--warmup", "0"],  # the fault strikes under LoadGen
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    rows = {row["framework"]: row for row in rows_of(tmp_path)}
    assert rows["fake-segfault"]["status"] == "failed" and "SIGSEGV" in rows["fake-segfault"]["error"]
    assert rows["fake"]["status"] == "ok" and rows["fake"]["loadgen_validity"] == "VALID"
    logs = only_run_dir(tmp_path / "results") / "cells" / rows["fake-segfault"]["cell_id"] / "loadgen"
    assert (logs / "mlperf_log_detail.txt").is_file()  # LoadGen's header, up to where it died


def test_instances_beyond_the_cpus_are_refused(tmp_path: Path) -> None:
    """Two instances need two CPUs: on one they are refused before anything runs."""
    proc = run_cli(
        ["--frameworks", "fake", "--instances", "2", "--cpus", str(FIRST_CPU), *LOAD], cwd=tmp_path
    )
    assert proc.returncode == 2 and "--instances" in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists()


def test_instances_run_at_once_each_on_its_own_cpus(tmp_path: Path) -> None:
    """N copies of a runner at once on a split of the CPUs: each pinned to its share, their
    throughput summed, the latency that of one copy; a LoadGen server's rate split among them.
    At once is observed, not inferred: two runners of the run are alive together."""
    need_allowed_cpus(2, "two instances, each on a CPU of its own")
    cpus = cpu_list(ALLOWED_CPUS[:2])
    command = [
        sys.executable, "-m", "orchestrator", "--frameworks", "fake", "--instances", "2", "--cpus", cpus,
        # A bound no busy machine makes it miss: the copies are the point here, not the verdict
        # (an INVALID run exits 1, and at 50 ms a neighbour's load could make one).
        # 1000 a second, 500 each: LoadGen's 1024 queries per copy in 2 s (at 200, 10 s).
        "--scenario", "offline,server", "--target-qps", "1000", "--latency-bound-ms", "1000", *LOAD,
        "--min-time", "1.5", "--output", str(tmp_path / "results"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        most_at_once = 0
        while proc.poll() is None:
            jobs = {
                part
                for process in survivors(tmp_path)
                for part in process.info["cmdline"]
                if part.endswith("job.json")
            }
            most_at_once = max(most_at_once, len(jobs))  # a runner's watchdog shares its command line
            time.sleep(0.05)
        out, err = proc.communicate()
    assert proc.returncode == 0, out.decode() + err.decode()
    assert most_at_once == 2
    run_dir = only_run_dir(tmp_path / "results")
    copies = pq.read_table(run_dir / "cells.parquet").to_pylist()
    summary = {row["scenario"]: row for row in rows_of(tmp_path)}
    for scenario, row in summary.items():
        mine = [copy for copy in copies if copy["config_id"] == row["config_id"]]
        assert sorted(copy["instance"] for copy in mine) == [0, 1]
        assert sorted(copy["affinity_observed"] for copy in mine) == sorted(str(c) for c in ALLOWED_CPUS[:2])
        assert row["instances"] == 2 and row["threads"] == 1
        assert row["throughput_per_s"] == pytest.approx(sum(copy["throughput_per_s"] for copy in mine))
        assert "threads-not-honoured" not in (row["warnings"] or ""), scenario
    server = [copy for copy in copies if copy["scenario"] == "server"]
    assert all(json.loads(copy["loadgen_json"])["offered_qps"] == 500.0 for copy in server)


@pytest.mark.parametrize(
    ("top", "peak_expected", "first_rates"),
    [
        (180.0, True, [50.0, 100.0, 200.0]),  # VALID at first: double until INVALID, then bisect
        (30.0, True, [50.0, 12.5, 25.0]),  # INVALID at first: a quarter of it, then bisect
        (7.3, False, [50.0, 12.5]),  # nothing VALID down to a tenth of the capacity: stop there
    ],
)
def test_the_peak_search_brackets_the_peak_and_never_probes_a_rate_twice(
    top: float, peak_expected: bool, first_rates: list[float]
) -> None:
    from runners.scenarios.loadgen import search_peak

    probed: list[float] = []

    def valid(qps: float) -> bool:  # a server that meets the bound up to ``top`` QPS
        probed.append(qps)
        return qps <= top

    peak = search_peak(valid, capacity=100.0)
    assert probed[: len(first_rates)] == pytest.approx(first_rates)
    assert len(set(probed)) == len(probed)
    if peak_expected:
        assert peak is not None and top / 1.05 <= peak <= top
    else:
        assert peak is None and len(probed) == 2


def test_a_loadgen_run_reads_its_typed_settings_from_the_job() -> None:
    """The job's loadgen record becomes one typed LoadGenRun: a server run's settings come from
    it (rate, bound, the query floor early stopping needs), not from a list of positional values."""
    from types import SimpleNamespace

    import mlperf_loadgen as lg

    from runners.events import EventPipe
    from runners.scenarios.loadgen import LoadGenRun, LoadGenSettings
    from schemas.job import JobSpec, ModelJob

    spec = {"scenario": "server", "target_qps": 250.0, "latency_bound_ms": 20.0, "find_peak": False}
    job = JobSpec(
        cell_id="c", framework="fake", scenario="server", precision="fp32", batch_size=1, threads=1,
        cpus=(0,), warmup=0, min_iterations=10, max_iterations=10, min_time_s=0.5,
        model=ModelJob(name="mlp", ref="mlp", directory="/nowhere", inputs={}, output="output"),
        result_path="/nowhere/result.parquet", loadgen=spec,
    )  # fmt: skip
    settings = LoadGenSettings.from_job(spec)
    assert settings == LoadGenSettings("server", 250.0, 20.0, False)
    run = LoadGenRun(lg, SimpleNamespace(), {}, job, settings, EventPipe(None, "c"))  # type: ignore[arg-type]
    test = run.test_settings(settings.target_qps, per_call_ns=1e6)
    assert test.scenario == lg.TestScenario.Server and test.server_target_qps == 250.0
    assert test.server_target_latency_ns == 20_000_000 and test.min_query_count == 1024
    assert run.scheduled_s(test) == 1024 / 250.0  # the query floor at the offered rate, over 0.5 s


def test_a_run_whose_speed_guess_was_off_is_rerun_from_the_fastest_run_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LoadGen's offline query ran out early ("Increase expected QPS"): the run is sized again
    from the fastest rate seen, until LoadGen takes the guess (a neighbour's burst can slow one
    run so much that its rate misleads the next), each earlier run's logs kept beside."""
    from types import SimpleNamespace

    import mlperf_loadgen as lg

    from runners.events import EventPipe
    from runners.scenarios import loadgen
    from schemas.job import JobSpec, ModelJob

    spec = {"scenario": "offline", "target_qps": None, "latency_bound_ms": None, "find_peak": False}
    job = JobSpec(
        cell_id="c", framework="fake", scenario="loadgen-offline", precision="fp32", batch_size=8,
        threads=1, cpus=(0,), warmup=0, min_iterations=10, max_iterations=10, min_time_s=0.5,
        model=ModelJob(name="mlp", ref="mlp", directory="/nowhere", inputs={}, output="output"),
        result_path="/nowhere/result.parquet", loadgen=spec,
    )  # fmt: skip
    settings = loadgen.LoadGenSettings.from_job(spec)
    run = loadgen.LoadGenRun(lg, SimpleNamespace(), {}, job, settings, EventPipe(None, "c"))  # type: ignore[arg-type]
    # Each run's verdict and rate: the second run was slowed by a burst, the third took the guess.
    verdicts = iter([("Increase expected QPS", 4000.0), ("Increase expected QPS", 1000.0), (None, 5000.0)])
    asked: list[tuple[float, bool]] = []

    def once(
        _: object, qps: float | None, directory: Path, per_call_ns: float, calibrated: bool = False
    ) -> tuple:
        directory.mkdir()
        reason, rate = next(verdicts)
        asked.append((per_call_ns, calibrated))
        return {"invalid_reason": reason, "samples_per_s": rate}, None

    monkeypatch.setattr(loadgen.LoadGenRun, "once", once)
    result, _ = run.calibrated(None, tmp_path / "loadgen", per_call_ns=2e6)
    assert result["invalid_reason"] is None and result["calibration_runs"] == 2
    # Both reruns sized from 4000 samples/s, the fastest so far: half a call of 8 at that rate.
    assert asked == [(2e6, False), (1e6, True), (1e6, True)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loadgen", "loadgen-uncalibrated", "loadgen-uncalibrated-2",
    ]  # fmt: skip
