"""A framework that cannot be imported is skipped with its import error; the others still run."""

from pathlib import Path

from conftest import QUICK, only_run_dir, run_cli, summary_rows


def hide_module(tmp_path: Path, name: str) -> Path:
    """A directory that, first on PYTHONPATH, makes ``import name`` fail as if not installed."""
    shadow = tmp_path / "shadow"
    (shadow / name).mkdir(parents=True)
    (shadow / name / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\")\n")
    return shadow


def test_a_missing_framework_is_skipped_and_the_rest_runs(tmp_path: Path) -> None:
    shadow = hide_module(tmp_path, "onnxruntime")
    proc = run_cli(
        ["--frameworks", "onnxruntime,fake", *QUICK], cwd=tmp_path, env={"PYTHONPATH": str(shadow)}
    )
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    skipped = rows["onnxruntime"]
    assert skipped["status"] == "skipped"
    assert skipped["error"] == "ModuleNotFoundError: No module named 'onnxruntime'"
    assert skipped["latency_ms_p50"] is None and skipped["max_abs_diff"] is None
    assert rows["fake"]["status"] == "ok" and rows["fake"]["parity_ok"]
    assert "skipped" in proc.stdout and "No module named 'onnxruntime'" in proc.stdout
    # Skipped is not a failure unless asked for (--strict, for CI that needs every framework).
    assert proc.returncode == 0, proc.stderr
    log = (only_run_dir(tmp_path / "results") / "cells" / skipped["cell_id"] / "stderr.log").read_text()
    assert "ModuleNotFoundError" in log


def test_strict_turns_a_skip_into_a_failure(tmp_path: Path) -> None:
    shadow = hide_module(tmp_path, "onnxruntime")
    proc = run_cli(
        ["--strict", "--frameworks", "onnxruntime,fake", *QUICK],
        cwd=tmp_path,
        env={"PYTHONPATH": str(shadow)},
    )
    assert proc.returncode == 1
    assert summary_rows(only_run_dir(tmp_path / "results"))["fake"]["status"] == "ok"
