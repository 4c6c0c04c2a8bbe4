"""Each framework's own environment: built by uv from pinned requirements, keyed by them, reused,
never used half-built; a failed build costs only its framework's cells; two versions of one
framework run side by side."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import QUICK, only_run_dir, run_cli, summary_rows
from orchestrator.environments import (
    FrameworkRef,
    default_root,
    ensure,
    read_constraints,
    recipe_for,
    uv_reason,
)


def test_a_recipe_holds_its_framework_alone_at_the_constrained_versions() -> None:
    constraints = read_constraints()
    recipe = recipe_for([FrameworkRef("pytorch")], "pytorch", constraints)
    assert "torch==2.13.0+cpu" in recipe.requirements  # the CPU build, never PyPI's CUDA one
    assert {"transformers", "numpy", "pyarrow", "psutil", "safetensors"} <= set(recipe.requirements)
    assert not any(
        r.startswith(("tensorflow", "jax", "onnxruntime", "openvino")) for r in recipe.requirements
    )
    assert "tensorflow-text" in recipe.excludes  # keras-hub's, which pulls a second TensorFlow
    assert recipe.key == recipe_for([FrameworkRef("pytorch")], "pytorch", constraints).key


def test_a_changed_pin_makes_a_new_environment_and_a_version_releases_its_own() -> None:
    constraints = read_constraints()
    base = recipe_for([FrameworkRef("onnxruntime")], "onnxruntime", constraints)
    bumped = recipe_for(
        [FrameworkRef("onnxruntime")], "onnxruntime", {**constraints, "numpy": "numpy==2.3.0"}
    )
    assert bumped.key != base.key
    older = recipe_for([FrameworkRef("onnxruntime", "1.31.1")], "onnxruntime@1.31.1", constraints)
    assert "onnxruntime==1.31.1" in older.requirements
    assert not any(line.startswith("onnxruntime==") for line in older.constraints)  # released
    assert "numpy==" + constraints["numpy"].split("==")[1] in older.constraints  # the rest pinned
    assert older.directory_name.startswith("onnxruntime-1.31.1-")


def test_an_environment_is_built_once_and_reused(tmp_path: Path) -> None:
    recipe = recipe_for([FrameworkRef("onnxruntime")], "onnxruntime")
    said: list[str] = []
    first = ensure(recipe, "own", tmp_path, lambda name, text: said.append(text))
    assert first.error is None and first.python is not None and first.python.exists(), first.error
    assert not first.reused and said[0].startswith("building")
    again = ensure(recipe, "own", tmp_path)
    assert again.reused and again.python == first.python
    lock = (first.path or tmp_path) / "lock.txt"
    assert any(line.startswith("onnxruntime==") for line in lock.read_text().splitlines())
    assert oct(first.python.parent.parent.stat().st_mode & 0o777) == oct(0o755)  # as the umask says


def test_a_half_built_environment_is_never_used(tmp_path: Path) -> None:
    recipe = recipe_for([FrameworkRef("onnxruntime")], "onnxruntime")
    leftover = tmp_path / recipe.directory_name
    (leftover / "bin").mkdir(parents=True)  # what a build killed half-way leaves: no marker
    (leftover / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    env = ensure(recipe, "own", tmp_path)
    assert env.error is None and not env.reused
    assert (leftover / ".complete").is_file()  # built again, from scratch


def test_a_build_that_fails_skips_only_its_framework(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "onnxruntime@0.0.1,fake", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # skipped is not failed (unless --strict)
    rows = summary_rows(only_run_dir(tmp_path / "results"))
    skipped = rows["onnxruntime"]
    assert skipped["status"] == "skipped" and skipped["framework_pin"] == "0.0.1"
    assert skipped["error"].startswith("its environment could not be built: uv: ")
    assert "onnxruntime==0.0.1" in skipped["error"]
    assert rows["fake"]["status"] == "ok"
    assert not list(default_root().glob("onnxruntime-0.0.1-*/.complete"))


def test_two_versions_of_a_framework_run_side_by_side(tmp_path: Path) -> None:
    proc = run_cli(
        ["--frameworks", "onnxruntime@1.31.1,onnxruntime", "--batch-size", "16", *QUICK], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path / "results")
    rows = {row["framework_pin"]: row for row in _rows(run_dir)}
    assert rows["1.31.1"]["framework_version"] == "1.31.1"
    assert rows[None]["framework_version"] != "1.31.1"
    assert rows["1.31.1"]["config_id"] != rows[None]["config_id"]  # two configurations
    assert rows["1.31.1"]["environment_key"] != rows[None]["environment_key"]
    for row in rows.values():
        assert row["status"] == "ok" and row["parity_ok"], row["error"]
    assert "onnxruntime@1.31.1" in proc.stdout
    environments = json.loads((run_dir / "environment.json").read_text())["environments"]
    assert set(environments) == {"onnxruntime@1.31.1", "onnxruntime"}
    assert "onnxruntime==1.31.1" in environments["onnxruntime@1.31.1"]["lock"]


def test_uv_reason_is_the_line_that_says_why() -> None:
    stderr = (
        "  x No solution found when resolving dependencies:\n"
        "error: No solution found when resolving dependencies\n"
        "cause: Because there is no version of onnxruntime==0.0.1 and you require onnxruntime==0.0.1, "
        "we can conclude that your requirements are unsatisfiable.\n"
    )
    assert uv_reason(stderr).startswith(
        "uv: No solution found when resolving dependencies: Because there is no"
    )
    assert uv_reason("error: Request failed after 3 retries\n") == "uv: Request failed after 3 retries"


def _rows(run_dir: Path) -> list[dict[str, object]]:
    import pyarrow.parquet as pq

    return pq.read_table(run_dir / "summary.parquet").to_pylist()
