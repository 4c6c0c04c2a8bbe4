"""--precision takes a list and sweeps it: a configuration per precision, fp32 first; an unknown
name is a usage error; a framework with no path for a known precision skips it, in one line."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import QUICK, only_run_dir, run_cli
from orchestrator.cli.run import _parse, _plan_from
from orchestrator.cli.run_flags import build_parser
from orchestrator.execute.display import _label
from orchestrator.plan.plan import Plan
from orchestrator.plan.workloads import builtin
from schemas.precisions import PRECISIONS


def test_each_precision_is_a_configuration_of_its_own_and_fp32_runs_first() -> None:
    plan = Plan(frameworks=("fake", "noop"), precisions=("bf16", "fp32"), threads=(1,), cpus=None)
    assert plan.precisions == ("fp32", "bf16")
    cells = plan.cells()
    assert [(c.precision, c.framework) for c in cells] == [
        ("fp32", "fake"), ("fp32", "noop"), ("bf16", "fake"), ("bf16", "noop"),
    ]  # fmt: skip
    assert len({cell.config_id for cell in cells}) == 4  # the precision is part of the key
    live = [_label(cell, cells) for cell in cells[:3]]  # the live display names the precision too
    assert live == ["fake fp32", "noop fp32", "fake bf16"]


def test_int4_is_one_line_naming_the_flag_and_the_known_precisions(tmp_path: Path) -> None:
    proc = run_cli(["--frameworks", "fake", "--precision", "int4", *QUICK], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--precision" in lines[0] and "'int4'" in lines[0], proc.stderr
    assert all(name in lines[0] for name in PRECISIONS), lines[0]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("text", ["fp32,int4", "fp23", "fp32,fp32", "fp32,"])
def test_a_typo_in_the_list_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["--precision", text])
    assert exit.value.code == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "--precision" in line and all(name in line for name in PRECISIONS), line


def test_the_config_file_takes_a_list_of_precisions(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('precision = ["bf16", "fp32"]\nframeworks = "fake"\n')
    args = _parse(build_parser(), ["--config", str(config)])
    plan = _plan_from(args, {"mlp": builtin("mlp")}, None)
    assert plan.precisions == ("fp32", "bf16")


def test_a_framework_without_a_path_for_a_precision_skips_it_in_one_line(tmp_path: Path) -> None:
    """int8-static asked of the fake (which emulates bf16 and dynamic int8 only): its cell is
    skipped, saying why, never run at another precision; its fp32 cell runs."""
    proc = run_cli(["--frameworks", "fake", "--precision", "int8-static,fp32", *QUICK], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = pq.read_table(only_run_dir(tmp_path / "results") / "summary.parquet").to_pylist()
    assert [(row["precision"], row["status"]) for row in rows] == [("fp32", "ok"), ("int8-static", "skipped")]
    assert rows[1]["error"] == "fake has no int8-static path on CPU in this benchmark"
    assert rows[1]["precision_effective"] is None
