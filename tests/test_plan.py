"""How a plan expands: scenarios, sweeps, repeats (interleaved), modes and worker groups."""

from conftest import FIRST_CPU
from orchestrator.plan.cells import launch_groups
from orchestrator.plan.plan import Plan


def test_sweeps_are_the_matrix_of_cells() -> None:
    plan = Plan(frameworks=("fake", "noop"), batch_sizes=(1, 8, 64), threads=(1, 2), cpus=(FIRST_CPU,))
    cells = plan.cells()
    assert len(cells) == 2 * 3 * 2
    assert {(c.batch_size, c.threads) for c in cells} == {(b, t) for b in (1, 8, 64) for t in (1, 2)}
    assert len({c.cell_id for c in cells}) == len(cells)
    assert all(c.scenario == "offline" and c.cpus == (FIRST_CPU,) for c in cells)


def test_single_stream_calls_one_sample_whatever_the_batch_sizes() -> None:
    plan = Plan(frameworks=("fake",), batch_sizes=(8, 64), scenarios=("offline", "single-stream"))
    cells = plan.cells()
    assert [(c.scenario, c.batch_size) for c in cells] == [
        ("offline", 8),
        ("offline", 64),
        ("single-stream", 1),
    ]


def test_repeats_interleave_frameworks() -> None:
    plan = Plan(frameworks=("fake", "noop", "fake-raise"), repeats=2)
    order = [(c.framework, c.repeat) for c in plan.cells()]
    assert order == [
        ("fake", 0), ("noop", 0), ("fake-raise", 0),
        ("fake", 1), ("noop", 1), ("fake-raise", 1),
    ]  # fmt: skip
    configs = {c.config_id for c in plan.cells()}
    assert len(configs) == 3  # a configuration is the same across its repeats


def test_isolated_cells_get_a_process_each_and_in_process_cells_share_one_per_repeat() -> None:
    plan = Plan(frameworks=("fake", "noop"), modes=("isolated", "in-process"), repeats=2)
    groups = launch_groups(plan.cells())
    shapes = [[(c.framework, c.mode, c.repeat) for c in group] for group in groups]
    assert shapes == [
        [("fake", "isolated", 0)], [("noop", "isolated", 0)],
        [("fake", "isolated", 1)], [("noop", "isolated", 1)],
        [("fake", "in-process", 0), ("noop", "in-process", 0)],
        [("fake", "in-process", 1), ("noop", "in-process", 1)],
    ]  # fmt: skip


def test_parity_tolerance_follows_the_precision() -> None:
    tolerance = Plan(precisions=("fp32",)).spec("mlp").tolerance
    assert tolerance["fp32"].absolute == 1e-4
    assert tolerance["bf16"].absolute > 1e-3
