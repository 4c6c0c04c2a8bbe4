"""--executor slurm against a real Slurm: a one-node cluster (scripts/start_slurm.sh) whose
node carries the features fleet-a and fleet-b, two "machine types" it stands in for. Jobs are
submitted through submitit; their ends -- done, failed, cancelled, timed out -- are Slurm's own.

Without a cluster: as root, the fixture starts one; in CI (CI set) a cluster that cannot be
started fails these tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import PROJECT_ROOT, QUICK

START = PROJECT_ROOT / "scripts" / "start_slurm.sh"
FEATURES = {"fleet-a", "fleet-b"}


def _slurm_problem() -> str | None:
    """None when a cluster with both features takes jobs; else what is missing."""
    if shutil.which("scontrol") is None or shutil.which("sbatch") is None:
        return "Slurm is not installed"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "is UP" not in ping.stdout:
        return f"slurmctld does not answer ({(ping.stdout + ping.stderr).strip() or 'no reply'})"
    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%T %f"], capture_output=True, text=True, timeout=30)
    usable = [line for line in nodes.stdout.splitlines() if line.split()[0] in ("idle", "mixed", "allocated")]
    if not any(set(line.split()[1].split(",")) >= FEATURES for line in usable):
        return f"no usable node with features {sorted(FEATURES)} (sinfo: {nodes.stdout.strip()!r})"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster() -> None:
    problem = _slurm_problem()
    if problem is not None and os.geteuid() == 0:
        started = subprocess.run([str(START)], capture_output=True, text=True, timeout=900)
        said = (started.stderr + started.stdout).strip().splitlines()
        problem = (
            _slurm_problem()
            if started.returncode == 0
            else (said[-1] if said else f"exit {started.returncode}")
        )
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the fleet tests need Slurm and it cannot be started here: {problem}")
    pytest.skip(f"no Slurm cluster to submit to: {problem} (as root, scripts/start_slurm.sh starts one)")


def start_fleet(args: list[str], output: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "orchestrator", "--executor", "slurm", "--output", str(output), *args]
    return subprocess.Popen(
        command, cwd=output.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], timeout: float = 400) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def fleet_dir(output: Path) -> Path:
    (found,) = output.glob("fleet-*")
    return found


def jobs_of(output: Path) -> dict[str, dict[str, Any]]:
    """fleet.json's jobs by machine, once the parent has written it."""
    path = next(iter(output.glob("fleet-*/fleet.json")), None)
    if path is None:
        return {}
    return {job["machine"]: job for job in json.loads(path.read_text())["jobs"]}


def rows_of(run_dir: str) -> dict[str, dict[str, Any]]:
    return {row["framework"]: row for row in pq.read_table(Path(run_dir) / "summary.parquet").to_pylist()}


def wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.5)


def test_each_machine_runs_the_plan_in_a_job_of_its_own_and_the_report_spans_them(tmp_path: Path) -> None:
    output = tmp_path / "results"
    proc = start_fleet(["--slurm-constraint", "fleet-a,fleet-b", "--frameworks", "fake,noop", *QUICK], output)
    status, text = finish(proc)
    assert status == 0, text
    jobs = jobs_of(output)
    assert set(jobs) == {"fleet-a", "fleet-b"} and jobs["fleet-a"]["job_id"] != jobs["fleet-b"]["job_id"]
    for machine, job in jobs.items():
        assert job["phase"] == "done" and job["slurm_state"] == "COMPLETED", job
        assert job["cells_done"] == job["cells_total"] == 2
        (run_dir,) = job["run_dirs"]
        assert Path(run_dir).parent.name == machine
        rows = rows_of(run_dir)
        assert {name: row["status"] for name, row in rows.items()} == {"fake": "ok", "noop": "ok"}
        # Slurm held the job exclusive, the machine to itself (it still knows it: MinJobAge)
        shown = subprocess.run(
            ["scontrol", "show", "job", "-o", job["job_id"]], capture_output=True, text=True
        )
        assert "OverSubscribe=NO" in shown.stdout, shown.stdout
        assert f"Features={machine}" in shown.stdout, shown.stdout
    report = (fleet_dir(output) / "machines.md").read_text()
    assert "**fleet-a** (reference)" in report and "| configuration | fleet-a | fleet-b |" in report
    assert (fleet_dir(output) / "machines.png").stat().st_size > 0
    assert "fleet-a: job" in text and "done" in text  # progress, one line per change (not a terminal)


def test_a_job_that_loses_its_process_is_failed_with_slurms_reason_and_keeps_its_results(
    tmp_path: Path,
) -> None:
    output = tmp_path / "results"
    proc = start_fleet(["--frameworks", "fake,fake-kill-orchestrator", *QUICK], output)
    status, text = finish(proc)
    assert status == 1, text
    (job,) = jobs_of(output).values()
    assert job["phase"] == "failed" and job["slurm_state"] == "FAILED" and job["reason"] == "NonZeroExitCode"
    assert "the orchestrator was killed by signal SIGKILL" in job["error"], job
    (run_dir,) = job["run_dirs"]
    assert rows_of(run_dir)["fake"]["status"] == "ok"  # the cell before it, kept
    assert "FAILED (NonZeroExitCode" in text


def test_a_job_cancelled_while_it_runs_keeps_what_it_wrote_and_the_next_machine_still_runs(
    tmp_path: Path,
) -> None:
    # Two cells of 8 s each: the fake runner at two batch sizes (1000 first). Not noop as the
    # second: 8 s of its 70 ns calls are 40 million samples to write and summarise, ~40 s more
    # per machine, which this test is not about.
    output = tmp_path / "results"
    proc = start_fleet(
        ["--slurm-constraint", "fleet-a,fleet-b", "--frameworks", "fake", "--batch-size", "1000,500",
         "--min-time", "8", "--max-iterations", "1000000000"],
        output,
    )  # fmt: skip
    wait_for(lambda: jobs_of(output).get("fleet-a", {}).get("cells_done", 0) >= 1, "fleet-a's first cell")
    subprocess.run(["scancel", jobs_of(output)["fleet-a"]["job_id"]], check=True)
    status, text = finish(proc)
    assert status == 1, text
    jobs = jobs_of(output)
    assert jobs["fleet-a"]["slurm_state"] == "CANCELLED" and jobs["fleet-a"]["phase"] == "failed"
    (cancelled_run,) = jobs["fleet-a"]["run_dirs"]
    rows = _rows_by_batch(cancelled_run)
    assert rows[1000]["status"] == "ok" and rows[500]["status"] == "interrupted"
    assert jobs["fleet-b"]["phase"] == "done"  # queued behind it (exclusive), then ran whole
    (run_dir,) = jobs["fleet-b"]["run_dirs"]
    assert {batch: row["status"] for batch, row in _rows_by_batch(run_dir).items()} == {1000: "ok", 500: "ok"}


def _rows_by_batch(run_dir: str) -> dict[int, dict[str, Any]]:
    return {row["batch_size"]: row for row in pq.read_table(Path(run_dir) / "summary.parquet").to_pylist()}


def test_a_job_past_its_time_limit_is_timed_out_by_slurm_and_keeps_what_it_wrote(tmp_path: Path) -> None:
    """A one-minute limit (Slurm's least) on a plan of ten minutes: Slurm ends it, TIMEOUT."""
    output = tmp_path / "results"
    proc = start_fleet(
        ["--frameworks", "fake", "--min-time", "600", "--timeout", "900", "--slurm-time", "1"], output
    )
    status, text = finish(proc, timeout=300)
    assert status == 1, text
    (job,) = jobs_of(output).values()
    assert (job["slurm_state"], job["reason"]) == ("TIMEOUT", "TimeLimit"), job
    assert "DUE TO TIME LIMIT" in job["error"]
    (run_dir,) = job["run_dirs"]
    assert rows_of(run_dir)["fake"]["status"] == "interrupted"  # its run saved on SIGTERM


def test_a_constraint_no_node_has_is_refused_by_slurm_in_one_line(tmp_path: Path) -> None:
    output = tmp_path / "results"
    proc = start_fleet(
        ["--slurm-constraint", "fleet-a,no-such-feature", "--frameworks", "fake", *QUICK], output
    )
    status, text = finish(proc)
    assert status == 1, text
    jobs = jobs_of(output)
    assert jobs["fleet-a"]["phase"] == "done"
    refused = jobs["no-such-feature"]
    assert refused["job_id"] is None and refused["error"].startswith("not submitted: ")
    assert "Invalid feature specification" in refused["error"], refused


def test_a_plan_a_machine_cannot_run_fails_its_job_with_the_orchestrators_own_line(tmp_path: Path) -> None:
    """The CPUs are the machine's: checked by the job there, its refusal is the job's reason."""
    output = tmp_path / "results"
    status, text = finish(start_fleet(["--frameworks", "fake", "--cpus", "4095", *QUICK], output))
    assert status == 1, text
    (job,) = jobs_of(output).values()
    assert job["slurm_state"] == "FAILED" and job["run_dirs"] == []
    assert "refused the plan on this machine" in job["error"] and "--cpus: CPU 4095 is not in" in job["error"]


def test_the_nightly_fleet_script_runs_the_config_on_each_machine_into_one_history(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text(  # the script runs from the project: absolute paths
        'frameworks = ["fake"]\nwarmup = 3\nmin-iterations = 10\nmin-time = 0\n'
        f'output = "{tmp_path / "runs"}"\nhistory = "{tmp_path / "history"}"\n'
        '[slurm]\nconstraint = "fleet-a,fleet-b"\ntime = 5\n'
    )
    proc = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "nightly_fleet.sh"), str(tmp_path / "fleet.toml")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = jobs_of(tmp_path / "runs")
    assert {machine: job["phase"] for machine, job in jobs.items()} == {"fleet-a": "done", "fleet-b": "done"}
    stored = sorted(path.stem for path in (tmp_path / "history" / "summary").rglob("*.parquet"))
    assert stored == sorted(Path(job["run_dirs"][0]).name for job in jobs.values())
    assert (fleet_dir(tmp_path / "runs") / "machines.md").is_file()
    # Then the script publishes the history site beside the history (NIGHTLY_SITE unset).
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "feed.xml").is_file()


def test_ctrl_c_cancels_the_jobs_not_yet_ended_and_says_so(tmp_path: Path) -> None:
    output = tmp_path / "results"
    proc = start_fleet(["--frameworks", "fake", "--min-time", "600", "--timeout", "900"], output)
    wait_for(lambda: jobs_of(output).get("any", {}).get("phase") == "running", "the job to run")
    proc.send_signal(signal.SIGINT)
    status, text = finish(proc, timeout=120)
    assert status == 130, text
    assert "the jobs not yet ended were cancelled" in text
    (job,) = jobs_of(output).values()
    assert job["slurm_state"] == "CANCELLED", job
