"""Every mistake caught before anything runs: one line naming the flag (or the config file and
key), exit status 2, nothing written. And a closed stdout costs no result."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import PROJECT_ROOT, QUICK, only_run_dir, run_cli


def refused(proc: subprocess.CompletedProcess[str], tmp_path: Path, *expected: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--threads", "2,2"], ["--threads", "2 is given twice"]),
        (["--batch-size", "1000,1000"], ["--batch-size", "1000 is given twice"]),
        (["--frameworks", "fake,noop,fake"], ["--frameworks", "fake is given twice"]),
        (["--frameworks", "nop"], ["--frameworks", "'nop'", "noop"]),
        (["--compare-isolation", "--in-process"], ["--compare-isolation", "--in-process"]),
        (["--scenario", "single-stream", "--batch-size", "100,500"], ["--batch-size", "single-stream"]),
        (["--scenario", "single-stream", "--batch-size", "4"], ["--batch-size", "single-stream"]),
        (["--scenario", "multi-stream", "--batch-size", "4"], ["--batch-size", "no scenario"]),
        (["--compare-isolation", "--no-isolate"], ["--compare-isolation", "--no-isolate"]),
        (["--in-process", "--isolate"], ["--in-process", "--isolate"]),
        (["--option", "fake.x=1"], ["--option"]),
        (
            ["--executor", "slurm", "--slurm-nodelist", "a", "--slurm-constraint", "b"],
            ["--slurm-nodelist", "not both"],
        ),
        (["--executor", "slurm", "--slurm-constraint", "x,x"], ["--slurm-constraint", "distinct"]),
        (["--slurm-time", "0"], ["--slurm-time", "at least one minute"]),
        (["--executor", "kubernetes"], ["--executor", "'slurm'"]),
    ],
)
def test_a_mistake_on_the_command_line_is_one_line(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    frameworks = [] if "--frameworks" in args else ["--frameworks", "fake"]
    refused(run_cli([*frameworks, *args, *QUICK], cwd=tmp_path), tmp_path, *expected)


def test_a_history_that_is_a_file_is_refused_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "history").write_text("not a directory")
    proc = run_cli(["--frameworks", "fake", "--history", "history", *QUICK], cwd=tmp_path)
    refused(proc, tmp_path, "--history", "is not a directory")


def test_a_history_that_cannot_be_created_is_refused_before_the_run(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "fake", "--history", "/proc/inference-history", *QUICK], cwd=tmp_path)
    refused(proc, tmp_path, "--history")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("in-process = true\nisolate = true\n", ["config.toml", "key 'in-process'"]),
        ("fail-on-regression = 5.0\n", ["config.toml", "key 'fail-on-regression'", "needs --history"]),
        ('executor = "slurm"\n[slurm]\nconstraint = "a,a"\n', ["config.toml", "key 'slurm.constraint'"]),
    ],
)
def test_a_mistake_in_the_config_names_the_file_and_key(
    tmp_path: Path, config: str, expected: list[str]
) -> None:
    (tmp_path / "config.toml").write_text('frameworks = ["fake"]\n' + config)
    refused(run_cli(["--config", "config.toml", *QUICK], cwd=tmp_path), tmp_path, *expected)


def test_a_switch_set_in_the_config_can_be_switched_off(tmp_path: Path) -> None:
    config = 'frameworks = ["fake-import-missing"]\nstrict = true\nquiet = true\n'
    (tmp_path / "config.toml").write_text(config)
    strict = run_cli(["--config", "config.toml", *QUICK], cwd=tmp_path)
    assert strict.returncode == 1  # a skipped cell fails under strict
    relaxed = run_cli(["--config", "config.toml", "--no-strict", "--no-quiet", *QUICK], cwd=tmp_path)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "importing" in relaxed.stdout  # not quiet: the progress lines are there


def test_report_kinds_add_up(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "fake", "--report", "csv", "--report", "md", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    assert (run_dir / "summary.csv").is_file() and (run_dir / "summary.md").is_file()
    markdown = (run_dir / "summary.md").read_text()
    assert "**Settings:**" in markdown and "threads" in markdown and "**Host:**" in markdown
    assert "fastest p50" in markdown  # what the relative column means


def test_a_closed_stdout_costs_no_result(tmp_path: Path) -> None:
    """``... | head -1``: the reader goes away after one line; the run goes on, writes every
    result, and says on stderr what happened."""
    script = (
        f"{shlex.quote(sys.executable)} -m orchestrator --frameworks fake,noop {' '.join(QUICK)} | head -1"
    )
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert len(proc.stdout.splitlines()) == 1
    assert "broken pipe" in proc.stderr and "every result was written" in proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    rows = pq.read_table(run_dir / "summary.parquet").to_pylist()
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert (run_dir / "samples.parquet").is_file()
