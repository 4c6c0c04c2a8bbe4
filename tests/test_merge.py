"""Runs from many machines into one history (merge), and the cross-machine report over them
(machines): merging is idempotent, a run of another schema version is refused in one line,
and machines are told apart by host, never compared as one configuration."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import QUICK, run_cli
from orchestrator.history import store as history
from schemas import SCHEMA_VERSION


def run_as(tmp_path: Path, hostname: str) -> Path:
    """A real local run, then dressed as the run of machine ``hostname`` (another host name and
    hardware fingerprint in its environment.json: what a run from that machine carries)."""
    output = tmp_path / hostname
    proc = run_cli(["--frameworks", "fake,noop", "--output", str(output), "--quiet", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = output.iterdir()
    path = run_dir / "environment.json"
    environment = json.loads(path.read_text())
    environment["host"]["hostname"] = hostname
    environment["fingerprint"] = f"fp-{hostname}"
    path.write_text(json.dumps(environment))
    return run_dir


@pytest.fixture(scope="module")
def two_machines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    run_as(root, "icelake")
    run_as(root, "graviton")
    return root


def test_merge_adds_each_run_once_however_often_it_is_merged(two_machines: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = run_cli(["merge", str(two_machines), "--history", str(store)], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 run(s) merged, 0 already in" in first.stdout
    rows = history.read_history(store).to_pylist()
    assert sorted({row["host"] for row in rows}) == ["graviton", "icelake"] and len(rows) == 4
    again = run_cli(
        ["merge", str(two_machines), str(two_machines / "icelake"), "--history", str(store)], cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert "0 run(s) merged, 2 already in" in again.stdout
    assert history.read_history(store).num_rows == 4


def test_merge_refuses_a_run_of_another_schema_version_in_one_line_and_keeps_the_rest(
    two_machines: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(two_machines, runs)
    (old,) = (runs / "graviton").iterdir()
    summary = old / "summary.parquet"
    table = pq.read_table(summary)
    pq.write_table(table.replace_schema_metadata({b"schema_version": b"99"}), summary)  # a newer tool's
    store = tmp_path / "store"
    proc = run_cli(["merge", str(runs), "--history", str(store)], cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert (
        str(summary) in line
        and f"schema_version 99; this version of the tool reads 3 to {SCHEMA_VERSION}" in line
    )
    assert "1 run(s) merged, 0 already in" in proc.stdout and "1 refused" in proc.stdout
    assert {row["host"] for row in history.read_history(store).to_pylist()} == {"icelake"}


def test_merge_of_a_directory_without_runs_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_cli(["merge", str(tmp_path), "--history", str(tmp_path / "store")], cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "no run directory" in proc.stderr and str(tmp_path) in proc.stderr


def test_the_machines_report_puts_frameworks_against_machines_relative_to_one(
    two_machines: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run_cli(["merge", str(two_machines), "--history", str(store)], cwd=tmp_path).returncode == 0
    proc = run_cli(
        ["machines", "--history", str(store), "--reference-machine", "icelake", "--output", str(tmp_path)],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "mlp · offline: p50 (its ratio to icelake's)" in proc.stdout
    report = (tmp_path / "machines.md").read_text()
    assert "| configuration | graviton | icelake |" in report and "**icelake** (reference)" in report
    fake = next(line for line in report.splitlines() if line.startswith("| fake |"))
    assert fake.count("ms (") == 2 and "(1.00x)" in fake  # each machine's p50; icelake's against itself
    assert (tmp_path / "machines.png").stat().st_size > 0
    from_dirs = run_cli(["machines", str(two_machines)], cwd=tmp_path)
    assert from_dirs.returncode == 0 and "graviton" in from_dirs.stdout


def test_the_machines_report_names_the_machines_when_the_reference_is_unknown(two_machines: Path) -> None:
    proc = run_cli(["machines", str(two_machines), "--reference-machine", "epyc"], cwd=two_machines)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "no machine 'epyc'; the machines are " in line
    assert sorted(line.rsplit("are ", 1)[1].split(", ")) == ["graviton", "icelake"]


def test_a_run_of_the_previous_schema_merges_and_matches_todays_configuration(
    two_machines: Path, tmp_path: Path
) -> None:
    """A history outlives releases: a version-3 run (before --instances) still merges, reads
    its copies as 1, and is the same configuration as today's run of the same plan."""
    runs = tmp_path / "runs"
    shutil.copytree(two_machines / "icelake", runs)
    (old,) = runs.iterdir()
    for name in ("summary.parquet", "cells.parquet"):
        table = pq.read_table(old / name)
        table = table.drop_columns([c for c in ("instances", "instance") if c in table.column_names])
        pq.write_table(table.replace_schema_metadata({b"schema_version": b"3"}), old / name)
    store = tmp_path / "store"
    assert run_cli(["merge", str(runs), "--history", str(store)], cwd=tmp_path).returncode == 0
    (new,) = (two_machines / "icelake").iterdir()
    proc = run_cli(["compare", str(old), str(new)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    verdicts = [line.split("│")[-2].strip() for line in proc.stdout.splitlines() if line.startswith("│")]
    # fake and noop, each matched across versions (one process a side: latency not judged)
    assert verdicts == ["latency not judged", "latency not judged"], proc.stdout
    from orchestrator.history.store import load_run_dir
    from schemas.configuration import config_id, config_key

    old_rows, _, _ = load_run_dir(old)
    new_rows, _, _ = load_run_dir(new)
    assert [row["instances"] for row in old_rows] == [1, 1]
    assert [config_key(row) for row in old_rows] == [config_key(row) for row in new_rows]
    assert [config_id(row) for row in old_rows] == [row["config_id"] for row in new_rows]


def test_runs_of_two_machines_are_never_compared_as_one_configuration(
    two_machines: Path, tmp_path: Path
) -> None:
    (icelake,) = (two_machines / "icelake").iterdir()
    (graviton,) = (two_machines / "graviton").iterdir()
    proc = run_cli(["compare", str(icelake), str(graviton)], cwd=tmp_path)
    assert "host fingerprint differs (fp-icelake vs fp-graviton)" in proc.stdout + proc.stderr
