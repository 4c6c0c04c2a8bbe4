"""Nothing lost, nothing clobbered: atomic writes, per-cell persistence, concurrent runs."""

import errno
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import orchestrator.execute.run as run_module
from conftest import PROJECT_ROOT, QUICK, summary_rows
from orchestrator.execute.display import QuietDisplay
from orchestrator.execute.launcher import worker_env
from orchestrator.plan.plan import Plan
from schemas import io


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "table.parquet"
    io.write_table(pa.table({"a": [1, 2]}), path)

    def disk_full(table: pa.Table, where: str) -> None:
        Path(where).write_bytes(b"half a fi")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space left"):
        io.write_table(pa.table({"a": [3]}), path)
    monkeypatch.undo()
    assert pq.read_table(path).column("a").to_pylist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_results_are_saved_after_each_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write_summary = run_module.write_summary
    calls = []

    def write_then_fail(rows: list[dict[str, object]], path: Path) -> None:
        calls.append(len(rows))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_summary(rows, path)

    monkeypatch.setattr(run_module, "write_summary", write_then_fail)
    plan = Plan(frameworks=("fake", "fake-raise"), warmup=1, min_iterations=3, min_time_s=0, output=tmp_path)
    with pytest.raises(OSError):
        run_module.execute(plan, QuietDisplay())
    (run_dir,) = tmp_path.iterdir()
    assert summary_rows(run_dir)["fake"]["status"] == "ok"  # the first cell survived the failure


def test_two_runs_at_once_into_one_output_do_not_collide(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "orchestrator",
        "--frameworks",
        "fake",
        "--output",
        "shared",
        "--quiet",
        *QUICK,
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    runs = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    for run in runs:
        run.communicate(timeout=120)
        assert run.returncode == 0
    run_dirs = sorted((tmp_path / "shared").iterdir())
    assert len(run_dirs) == 2
    run_ids = {summary_rows(d)["fake"]["run_id"] for d in run_dirs}
    assert run_ids == {d.name for d in run_dirs}


def test_the_worker_environment_is_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "secret")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    env = worker_env()
    assert "API_TOKEN" not in env and "OMP_NUM_THREADS" not in env and "LD_PRELOAD" not in env
    assert env["PATH"] == os.environ["PATH"]


def test_a_stray_thread_setting_in_the_shell_does_not_reach_the_runner(tmp_path: Path) -> None:
    from conftest import run_cli

    proc = run_cli(
        ["--frameworks", "fake", "--threads", "1", *QUICK], cwd=tmp_path, env={"OMP_NUM_THREADS": "7"}
    )
    assert proc.returncode == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    import json

    settings = json.loads(summary_rows(run_dir)["fake"]["settings_json"])
    assert settings["environment"]["OMP_NUM_THREADS"] == "1"
    assert settings["environment"]["OPENBLAS_NUM_THREADS"] == "1"


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [("022", 0o644, 0o755), ("077", 0o600, 0o700)])
def test_results_get_the_modes_the_umask_gives(
    tmp_path: Path, umask: str, file_mode: int, dir_mode: int
) -> None:
    """Every file and directory a run writes is as readable as the user's umask says, no less."""
    output = tmp_path / "results"
    command = [sys.executable, "-m", "orchestrator", "--frameworks", "fake", "--report", "csv,md,png", *QUICK]
    proc = subprocess.run(
        ["sh", "-c", f"umask {umask} && exec {shlex.join(command)}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    written = list(output.rglob("*"))
    assert any(path.name == "summary.png" for path in written)
    modes = {path.relative_to(output): path.stat().st_mode & 0o777 for path in written}
    expected = {path.relative_to(output): dir_mode if path.is_dir() else file_mode for path in written}
    assert modes == expected
