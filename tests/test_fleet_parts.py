"""The fleet's parts that need no cluster: reading Slurm's output, naming machines and their
directories, time limits, and the cross-machine report's matching of configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import summary_row
from orchestrator import fleet, slurm
from orchestrator.cli import build_parser
from orchestrator.machines import MachineRun, machines_markdown, sections

SCONTROL = (
    "JobId=14 JobName=inference-bench UserId=root(0) JobState=TIMEOUT Reason=TimeLimit "
    "Dependency=(null) ExitCode=0:15 RunTime=00:01:28 TimeLimit=00:01:00 NodeList=vm "
    "Features=fleet-a OverSubscribe=NO Command=/tmp/x/submission file.sh"
)


def test_a_line_of_scontrol_gives_the_state_reason_exit_code_and_node() -> None:
    job_id, state = slurm.parse_scontrol_line(SCONTROL)
    assert job_id == "14" and state == slurm.JobState("TIMEOUT", "TimeLimit", "0:15", "vm", "00:01:28")
    assert state.final
    _, pending = slurm.parse_scontrol_line("JobId=15 JobState=PENDING Reason=Resources NodeList=(null)")
    assert pending.node is None and not pending.final


def test_sacct_and_its_job_completion_log_give_the_state_of_a_job_slurmctld_forgot() -> None:
    lines = ["14|CANCELLED by 0|0:0|vm|00:00:03", "140|COMPLETED|0:0|vm|00:00:01"]
    assert slurm.parse_sacct_lines("14", lines) == slurm.JobState(
        "CANCELLED", "by 0", "0:0", "vm", "00:00:03"
    )
    assert slurm.parse_sacct_lines("15", lines) is None


def test_a_job_held_between_queued_and_running_shows_slurms_own_state(tmp_path: Path) -> None:
    job = fleet.FleetJob("a", slurm.SlurmSettings(), tmp_path, job_id="1")
    job.state = slurm.JobState("SUSPENDED")
    assert job.phase == "suspended" and not job.ended
    job.state = slurm.JobState("COMPLETED")
    assert job.phase == "done" and job.ended


def test_each_constraint_is_a_machine_with_a_directory_of_its_own() -> None:
    settings = slurm.SlurmSettings(constraint="a&b, a|b,genoa")
    assert [machine for machine, _ in fleet.split_machines(settings)] == ["a&b", "a|b", "genoa"]
    assert [job.constraint for _, job in fleet.split_machines(settings)] == ["a&b", "a|b", "genoa"]
    assert fleet._directory_names(settings) == ["a_b", "a_b-2", "genoa"]
    with pytest.raises(ValueError, match="not both"):
        fleet.split_machines(slurm.SlurmSettings(constraint="a", nodelist="n1"))


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90", 90), ("1:30", 2), ("1:30:00", 90), ("2-12", 3600), ("2-12:30", 3630), ("0-0:0:1", 1)],
)
def test_slurm_time_limits_read_as_sbatch_reads_them(text: str, minutes: int) -> None:
    assert build_parser().parse_args(["--slurm-time", text]).slurm_time == minutes


def _run(label: str, threads: list[int], p50: float) -> MachineRun:
    rows: list[dict[str, Any]] = [
        summary_row(i, "onnxruntime", threads=t, status="ok", latency_ms_p50=p50 * t)
        for i, t in enumerate(threads)
    ]
    return MachineRun(label, {"hostname": label, "cpu_model": "x"}, rows)


def test_machines_match_across_their_own_thread_counts_but_a_thread_sweep_keeps_its_rows() -> None:
    one_each = [_run("small", [2], 1.0), _run("big", [64], 0.5)]
    ((_, configurations),) = sections(one_each).items()
    assert [sorted(by_machine) for by_machine in configurations.values()] == [["big", "small"]]
    swept = [_run("small", [1, 2], 1.0), _run("big", [1, 2], 0.5)]
    ((_, configurations),) = sections(swept).items()
    assert len(configurations) == 2  # t1 and t2, each on both machines


def test_a_machine_named_with_slurms_or_stays_inside_its_markdown_cell() -> None:
    text = machines_markdown([_run("a|b", [2], 1.0), _run("c", [2], 2.0)])
    assert "| configuration | a\\|b | c |" in text and "(2.00x)" in text
