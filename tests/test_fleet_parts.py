"""The fleet's parts that need no cluster: reading Slurm's output, naming machines and their
directories, time limits, and the cross-machine report's matching of configurations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conftest import summary_row
from orchestrator.cli.run import build_parser
from orchestrator.fleet import executor as fleet
from orchestrator.fleet import slurm
from orchestrator.fleet.machines import MachineRun, machines_markdown, sections

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


# --- a flaky controller: stand-in scontrol / sacct / scancel on PATH ---------------------------------

COMPLETED_LINE = "JobId=42 JobName=inference-bench JobState=COMPLETED Reason=None ExitCode=0:0 NodeList=vm"


def _stand_in(bin_dir: Path, name: str, body: str) -> None:
    """An executable ``name`` in ``bin_dir`` that appends each call to calls.log, then runs ``body``."""
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{bin_dir}/calls.log"\n{body}\n')
    script.chmod(0o755)


@pytest.fixture
def slurm_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory first on PATH for the stand-ins; scancel only records that it was called.
    Polls every 20 ms, calls a job LOST after 0.2 s of Slurm not knowing it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stand_in(bin_dir, "scancel", "exit 0")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(fleet, "POLL_S", 0.02)
    monkeypatch.setattr(fleet, "LOST_AFTER_S", 0.2)
    monkeypatch.setattr(slurm, "COMMAND_TIMEOUT_S", 0.5, raising=False)
    return bin_dir


def _failing_then(bin_dir: Path, failures: int, failing: str, answer: str) -> str:
    """A shell body that runs ``failing`` for the first ``failures`` calls, then ``answer``."""
    count = bin_dir / "count"
    return (
        f'n=$(cat "{count}" 2>/dev/null || echo 0); echo $((n + 1)) > "{count}"\n'
        f'if [ "$n" -lt {failures} ]; then {failing}; fi\n{answer}'
    )


def _follow_one(tmp_path: Path) -> tuple[fleet.FleetJob, str]:
    fleet_dir = tmp_path / "fleet"
    (fleet_dir / "slurm").mkdir(parents=True)
    job = fleet.FleetJob("a", slurm.SlurmSettings(), fleet_dir / "runs" / "a", job_id="42")
    console = Console(record=True, width=300, force_terminal=False)
    fleet._follow([job], fleet_dir, console, quiet=False, patience_s=20.0)
    return job, console.export_text()


@pytest.mark.parametrize(
    ("failing", "failures"),
    [
        (
            'echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1',
            12,
        ),
        # Longer than the command timeout: each failure lasts 0.5 s, so two outlast LOST_AFTER_S
        # (twelve took 6 s).
        ("exec sleep 5", 2),
        ("exec /nonexistent/scontrol", 12),  # the shell cannot run it: exit 127
    ],
    ids=["error-exit", "timeout", "not-runnable"],
)
def test_a_failing_scontrol_is_asked_again_and_never_makes_a_healthy_job_lost(
    slurm_bin: Path, tmp_path: Path, failing: str, failures: int
) -> None:
    # Fails for longer than LOST_AFTER_S; sacct fails alike (the controller is down for both).
    _stand_in(slurm_bin, "scontrol", _failing_then(slurm_bin, failures, failing, f'echo "{COMPLETED_LINE}"'))
    _stand_in(slurm_bin, "sacct", 'echo "sacct: error: Problem talking to the database" >&2; exit 1')
    job, out = _follow_one(tmp_path)
    assert job.state is not None and job.state.state == "COMPLETED" and job.phase == "done"
    calls = (slurm_bin / "calls.log").read_text()
    assert "scancel" not in calls  # today: LOST after 0.2 s, and cancelled
    assert calls.count("scontrol show job -o 42") == failures + 1
    assert "Slurm could not be asked (scontrol: " in out
    log = (tmp_path / "fleet" / "slurm" / "commands.log").read_text().splitlines()
    assert len(log) == failures and all(" a job 42: scontrol: " in line for line in log)


def test_a_failing_command_is_told_from_a_job_slurm_does_not_know(slurm_bin: Path) -> None:
    _stand_in(slurm_bin, "scontrol", 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1')
    _stand_in(slurm_bin, "sacct", 'echo "Slurm accounting storage is disabled" >&2; exit 1')
    assert slurm.job_states(["42"]) == slurm.Survey({}, {})  # known not to be known
    _stand_in(slurm_bin, "sacct", 'echo "sacct: error: Problem talking to the database" >&2; exit 1')
    survey = slurm.job_states(["42"])
    assert survey.states == {} and survey.failures == {
        "42": "sacct: exit 1: sacct: error: Problem talking to the database"
    }
    with pytest.raises(slurm.CommandFailed, match="Problem talking"):
        slurm.job_state("42")


def test_a_job_slurm_stops_knowing_is_still_lost_and_cancelled(slurm_bin: Path, tmp_path: Path) -> None:
    _stand_in(slurm_bin, "scontrol", 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1')
    _stand_in(slurm_bin, "sacct", 'echo "Slurm accounting storage is disabled" >&2; exit 1')
    job, _ = _follow_one(tmp_path)
    assert job.state is not None and job.state.state == "LOST"
    assert "scancel 42" in (slurm_bin / "calls.log").read_text()
