"""The command line, through a real subprocess: help, usage errors, a full run on the fake runner."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import PROJECT_ROOT, QUICK, only_run_dir, run_cli, summary_rows
from schemas.tables import SUMMARY

FLAGS = [
    "--isolate",
    "--frameworks",
    "--batch-size",
    "--threads",
    "--cpus",
    "--warmup",
    "--min-iterations",
    "--min-time",
    "--seed",
    "--output",
    "--timeout",
]


def test_help_explains_every_flag_and_the_exit_status(tmp_path: Path) -> None:
    proc = run_cli(["--help"], cwd=tmp_path)
    assert proc.returncode == 0
    for flag in FLAGS:
        assert flag in proc.stdout
    assert "exit status:" in proc.stdout
    assert "pytorch,tensorflow,jax,onnxruntime,openvino" in proc.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--frameworks", "pytorch,caffe"], "--frameworks"),
        (["--frameworks", ","], "--frameworks"),
        (["--frameworks", "fake,fake"], "--frameworks"),
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "ten"], "--batch-size"),
        (["--threads", "-1"], "--threads"),
        (["--cpus", "4096"], "--cpus"),
        (["--cpus", "1-0"], "--cpus"),
        (["--cpus", "a"], "--cpus"),
        (["--warmup", "-5"], "--warmup"),
        (["--min-iterations", "0"], "--min-iterations"),
        (["--min-time", "-1"], "--min-time"),
        (["--min-time", "nan"], "--min-time"),
        (["--seed", "x"], "--seed"),
        (["--timeout", "0"], "--timeout"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--batch-size", "1000000000"], "--batch-size"),  # inputs that cannot fit in memory
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag(tmp_path: Path, args: list[str], flag: str) -> None:
    proc = run_cli(["--frameworks", "fake", *args], cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert flag in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()  # nothing was started


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory")
    proc = run_cli(["--frameworks", "fake", "--output", "taken/runs"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "--output" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_fake_run_writes_the_contract_files(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "fake", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")  # the default --output
    for name in (
        "summary.parquet",
        "cells.parquet",
        "samples.parquet",
        "models/mlp/inputs.parquet",
        "models/mlp/inputs/input.npy",
        "models/mlp/model.safetensors",
        "models/mlp/config.json",
        "models/mlp/model.onnx",
        "models/mlp/reference.npy",
        "plan.json",
        "environment.json",
    ):
        assert (run_dir / name).is_file(), name
    summary = pq.read_table(run_dir / "summary.parquet")
    assert set(SUMMARY.names) <= set(summary.column_names)
    row = summary_rows(run_dir)["fake"]
    assert row["status"] == "ok" and row["parity_ok"]
    assert row["mode"] == "isolated" and row["batch_size"] == 1000
    assert f"results/{run_dir.name}" in proc.stdout
    assert "fake" in proc.stdout and "ok" in proc.stdout
    assert "\x1b" not in proc.stdout + proc.stderr  # piped: plain lines, no control codes


def test_exit_status_is_1_when_a_cell_is_not_ok(tmp_path: Path) -> None:
    # A timeout far too short for any runner to finish.
    proc = run_cli(["--frameworks", "fake", "--timeout", "0.001", *QUICK], cwd=tmp_path)
    assert proc.returncode == 1
    assert summary_rows(only_run_dir(tmp_path / "results"))["fake"]["status"] == "timeout"


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        ([], "isolated"),
        (["--isolate"], "isolated"),
        (["--no-isolate"], "in-process"),
        (["--in-process"], "in-process"),
    ],
)
def test_isolation_is_the_default_and_no_isolate_runs_in_process(
    tmp_path: Path, flags: list[str], mode: str
) -> None:
    """--no-isolate means what it says: every framework of a repeat in one shared worker."""
    proc = run_cli(["--frameworks", "fake,noop", *flags, "--quiet", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    cells = pq.read_table(run_dir / "cells.parquet").to_pylist()
    assert {cell["mode"] for cell in cells} == {mode}
    assert len({cell["pid"] for cell in cells}) == (1 if mode == "in-process" else 2)


def test_the_cli_starts_without_pandas(tmp_path: Path) -> None:
    """pandas (which pyarrow.dataset imports) was a third of the CLI's start, paid by every
    command and by every test that runs one: only what reads a history dataset loads it."""
    loaded = (
        "import sys, orchestrator.cli.run, orchestrator.cli.compare; "
        "print(sorted({'pandas', 'pyarrow.dataset'} & set(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", loaded],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


class _Built(Exception):
    """Raised in place of parsing: the parser a subcommand built, for a look at its actions."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


@pytest.mark.parametrize("command", [[], ["compare"], ["setup"], ["merge"], ["machines"]])
def test_every_subcommands_every_argument_has_help(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """--help explains every option and positional of the run and of each subcommand."""
    from orchestrator.cli import main

    def built(parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Built(parser)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", built)  # parse_args calls it too
    with pytest.raises(_Built) as caught:
        main([*command, "--help"])
    actions = [action for action in caught.value.parser._actions if action.dest != "help"]
    assert actions
    unexplained = [
        action.option_strings or action.metavar or action.dest for action in actions if not action.help
    ]
    assert not unexplained, f"{caught.value.parser.prog}: no help for {unexplained}"
