"""The machine's roofs: the theoretical derivation from a CPU's flags (pure), the measured
micro-benchmark (a real subprocess, pinned), its cache, and each cell's point under them --
omitted, with the reason, where a figure is missing; never a zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    ALLOWED_CPUS,
    FIRST_CPU,
    PROJECT_ROOT,
    QUICK,
    TWO_CPUS,
    colour_pixels,
    only_run_dir,
    run_cli,
    summary_row,
    summary_rows,
)
from orchestrator.execute import roofs as execute_roofs
from orchestrator.execute.environments import default_root, ensure, recipe_for
from orchestrator.execute.roofs import (
    Bench,
    bench_python,
    cache_key,
    machine_roofs,
    measured_record,
    roofs_record,
    run_roofs,
    thread_counts,
)
from orchestrator.figures.roofs import (
    ROOFLINE_COLUMNS,
    at_least_fewer_threads,
    peak_rates,
    roof_precision,
    roofline_columns,
    theoretical_gflops,
    with_roofline,
)
from orchestrator.host import CpuInfo, read_cpu_info
from orchestrator.plan.framework_refs import FrameworkRef
from orchestrator.plan.plan import Plan
from orchestrator.report.roofline_chart import roofline_chart

AVX2 = frozenset({"sse2", "avx", "avx2", "fma"})
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512_vnni", "avx512_bf16"}
AMX = AVX512 | {"amx_tile", "amx_bf16", "amx_int8"}


def rates(flags: frozenset[str], vendor: str = "GenuineIntel", family: int | None = 6) -> dict[str, float]:
    return {name: rate.ops_per_cycle for name, rate in peak_rates(flags, vendor, family).items()}


def test_avx2_only_is_32_fp32_flop_a_cycle_with_no_bf16_and_no_vnni() -> None:
    assert rates(AVX2) == {"fp32": 32.0, "bf16": 32.0, "int8": pytest.approx(32.0 * 4 / 3)}
    words = {name: rate.basis for name, rate in peak_rates(AVX2).items()}
    assert "two 256-bit FMA units assumed" in words["fp32"]
    assert "computed in fp32" in words["bf16"] and "no VNNI" in words["int8"]


def test_avx512_with_bf16_and_vnni_doubles_and_quadruples_the_fp32_rate() -> None:
    assert rates(AVX512) == {"fp32": 64.0, "bf16": 128.0, "int8": 256.0}
    assert "two 512-bit FMA units assumed" in peak_rates(AVX512)["fp32"].basis


def test_amx_gives_1024_bf16_and_2048_int8_ops_a_cycle() -> None:
    assert rates(AMX) == {"fp32": 64.0, "bf16": 1024.0, "int8": 2048.0}


def test_zen4_executes_avx512_in_two_halves_and_avx_vnni_alone_is_256_bit() -> None:
    assert rates(AVX512, "AuthenticAMD", 25)["fp32"] == 32.0
    assert rates(AVX512, "AuthenticAMD", 26)["fp32"] == 64.0  # Zen 5: full-width units
    assert rates(AVX2 | {"avx_vnni"})["int8"] == 128.0  # 4 x the AVX2 rate


def test_theoretical_gflops_are_rate_times_cores_times_clock_and_say_so() -> None:
    found = theoretical_gflops(peak_rates(AVX512), 4, 2500.0, "cpufreq cpuinfo_max_freq")
    value, words = found["fp32"]
    assert value == 64 * 4 * 2.5
    assert "4 core(s)" in words and "cpufreq cpuinfo_max_freq" in words
    unknown, why = theoretical_gflops(peak_rates(AVX2), 4, None, "unknown")["fp32"]
    assert unknown is None and "no clock known" in why


def fake_sysfs(tmp_path: Path, max_khz: str | None, siblings: bool) -> tuple[Path, Path]:
    """A /proc/cpuinfo and a sysfs tree for this process's allowed CPUs: every pair of CPUs SMT
    siblings of one core (``siblings``), or each its own core."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel name\t: Test CPU\n"
        "cpu MHz\t\t: 2100.000\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: ignored\n"
    )
    root = tmp_path / "cpu"
    for index, cpu in enumerate(ALLOWED_CPUS):
        topology = root / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text("0\n")
        (topology / "core_id").write_text(f"{index // 2 if siblings else index}\n")
    if max_khz is not None:
        (root / "cpu0" / "cpufreq").mkdir(parents=True)
        (root / "cpu0" / "cpufreq" / "cpuinfo_max_freq").write_text(max_khz)
    return cpuinfo, root


def test_the_cpu_is_read_from_cpuinfo_and_sysfs(tmp_path: Path) -> None:
    cpu = read_cpu_info(*fake_sysfs(tmp_path, "3500000\n", siblings=True))
    assert (cpu.model, cpu.vendor, cpu.family) == ("Test CPU", "GenuineIntel", 6)
    assert cpu.flags == {"fpu", "sse2", "avx", "avx2", "fma"}  # the first processor's
    assert (cpu.clock_mhz, cpu.clock_source) == (3500.0, "cpufreq cpuinfo_max_freq")
    assert cpu.physical_cores(ALLOWED_CPUS) == (len(ALLOWED_CPUS) + 1) // 2  # siblings count once


def test_without_cpufreq_the_clock_is_cpuinfos_mhz_and_says_so(tmp_path: Path) -> None:
    cpu = read_cpu_info(*fake_sysfs(tmp_path, None, siblings=False))
    assert cpu.clock_mhz == 2100.0 and "/proc/cpuinfo cpu MHz" in cpu.clock_source
    assert cpu.physical_cores(ALLOWED_CPUS) == len(ALLOWED_CPUS)


def synthetic_cpu(flags: frozenset[str] = AVX512) -> CpuInfo:
    cores = {cpu: (0, cpu) for cpu in ALLOWED_CPUS}
    return CpuInfo("Test CPU", "GenuineIntel", 6, flags, 2000.0, "test", cores)


def fake_record(fp32: float) -> dict[str, Any]:
    return {
        "gflops": {"fp32": fp32, "bf16": None, "int8": None},
        "kernels": {"fp32": "matmul", "bf16": "not measured", "int8": "not measured"},
        "triad_gbs": 10.0,
        "triad": "triad",
    }


def test_a_measured_roof_is_cached_and_a_changed_key_measures_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple[int, ...], int]] = []

    def measure(bench: Bench, cpus: tuple[int, ...], threads: int) -> dict[str, Any]:
        calls.append((cpus, threads))
        return fake_record(float(len(calls)))

    monkeypatch.setattr(execute_roofs, "measure", measure)
    cpu, bench, cpus = synthetic_cpu(), Bench(Path(sys.executable), "v1", "test"), (FIRST_CPU,)
    first = measured_record(cpu, cpus, 1, bench, "cached", tmp_path)
    again = measured_record(cpu, cpus, 1, bench, "cached", tmp_path)
    assert isinstance(first, dict) and isinstance(again, dict)
    assert len(calls) == 1 and again["gflops"] == first["gflops"] and again["cached"]
    other_versions = Bench(Path(sys.executable), "v2", "test")
    for changed in (
        (cpu, cpus, 2, bench),  # another thread count
        (cpu, cpus, 1, other_versions),  # another framework version
        (synthetic_cpu(AVX2), cpus, 1, bench),  # another CPU's flags
    ):
        measured_record(*changed, "cached", tmp_path)
    assert len(calls) == 4
    remeasured = measured_record(cpu, cpus, 1, bench, "measure", tmp_path)
    assert len(calls) == 5 and isinstance(remeasured, dict) and remeasured["gflops"]["fp32"] == 5.0
    assert measured_record(cpu, cpus, 1, bench, "cached", tmp_path)["gflops"]["fp32"] == 5.0  # type: ignore[index]
    assert measured_record(cpu, cpus, 1, bench, "off", tmp_path) == "not measured (roofs off)"
    assert len(calls) == 5


def test_each_busy_thread_count_is_measured_on_as_many_of_the_runs_cpus() -> None:
    cells = Plan(frameworks=("fake",), threads=(1, 2), cpus=TWO_CPUS, batch_sizes=(1, 8)).cells()
    assert thread_counts(cells) == {1: TWO_CPUS[:1], 2: TWO_CPUS}  # one CPU: two threads share it


def micro_benchmark(python: Path, cpus: tuple[int, ...], threads: int) -> dict[str, Any]:
    env = {"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}
    command = [str(python), "-m", "runners.roofs", "--cpus", ",".join(map(str, cpus))]
    command += ["--threads", str(threads), "--seconds", "0.02", "--size", "128"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_micro_benchmark_runs_pinned_to_the_cpus_it_is_given() -> None:
    record = micro_benchmark(Path(sys.executable), (ALLOWED_CPUS[-1],), 1)
    assert record["affinity"] == [ALLOWED_CPUS[-1]]
    assert record["gflops"]["fp32"] > 0 and record["triad_gbs"] > 0
    assert record["gflops"]["bf16"] is None and "numpy has no bf16" in record["kernels"]["bf16"]


def test_in_pytorchs_environment_it_measures_every_precision_on_its_threads() -> None:
    env = ensure(recipe_for([FrameworkRef("pytorch")], "pytorch"), "own", default_root())
    if env.python is None:
        pytest.skip(f"PyTorch's environment could not be built: {env.error}")
    record = micro_benchmark(env.python, TWO_CPUS, len(TWO_CPUS))
    assert record["affinity"] == list(TWO_CPUS) and record["threads_observed"] == len(TWO_CPUS)
    assert all(record["gflops"][name] > 0 for name in ("fp32", "bf16", "int8")), record
    # fp32's roof is the best of MKL's and oneDNN's kernels: MKL takes its AVX2 path on AMD.
    assert "oneDNN linear" in record["kernels"]["fp32"] and "torch.matmul" in record["kernels"]["fp32"]


def summary(**values: Any) -> dict[str, Any]:
    row = {
        "status": "ok",
        "threads": 1,
        "instances": 1,
        "batch_size": 10,
        "model_parameters": 1000,
        "model_io_bytes_per_sample": 100.0,
        "model_flops_per_sample": 2e6,
        "model_flops_basis": "formula",
        "throughput_per_s": 1000.0,
        "precision_effective": "fp32",
    }
    return row | values


ROOFS = {1: machine_roofs(synthetic_cpu(), (FIRST_CPU,), 1, fake_record(4.0))}


def test_a_cells_point_is_its_flops_rate_over_the_executed_precisions_roof() -> None:
    point = roofline_columns(summary(), ROOFS)
    assert point["gflops_per_s"] == 2.0  # 2e6 FLOP x 1000 samples/s
    assert point["roof_pct_measured"] == 50.0  # of the measured 4 GFLOP/s
    assert point["roof_pct_theoretical"] == pytest.approx(100 * 2.0 / (64 * 1 * 2.0))
    assert point["arithmetic_intensity"] == 2e6 * 10 / (1000 * 4 + 10 * 100)
    assert point["roof_precision"] == "fp32" and point["roof_omitted"] is None
    int8 = roofline_columns(summary(precision_effective="int8"), ROOFS)
    assert int8["arithmetic_intensity"] == 2e6 * 10 / (1000 * 1 + 10 * 100)  # one byte a weight
    assert int8["roof_pct_measured"] is None and int8["roof_pct_theoretical"] is not None


def test_a_cell_without_flops_has_no_point_and_says_why_never_a_zero() -> None:
    point = roofline_columns(summary(model_flops_per_sample=None, model_flops_basis="no ONNX graph"), ROOFS)
    assert point["roof_omitted"] == "no FLOPs: no ONNX graph"
    assert all(point[name] is None for name in ROOFLINE_COLUMNS if name != "roof_omitted")
    failed = roofline_columns(summary(status="failed"), ROOFS)
    assert failed["gflops_per_s"] is None and "did not run" in failed["roof_omitted"]


def test_an_unobserved_precision_keeps_the_rate_and_omits_the_roof() -> None:
    point = roofline_columns(summary(precision_effective="unobserved"), ROOFS)
    assert point["gflops_per_s"] == 2.0 and point["roof_pct_measured"] is None
    assert "not observed" in point["roof_omitted"]
    assert roof_precision("mixed: 12 bf16, 3 fp32") == ("bf16", None)
    assert roof_precision("fp16")[0] is None
    unmeasured = roofline_columns(summary(threads=2), ROOFS)
    assert "no roofs measured for 2 thread(s)" in unmeasured["roof_omitted"]


def test_environment_json_holds_the_contracts_shape() -> None:
    record = roofs_record(ROOFS)
    assert record["fp32"]["measured_gflops"] == 4.0 and record["fp32"]["theoretical_gflops"] == 128.0
    assert record["bandwidth"]["theoretical_gbs"] is None and "root" in record["bandwidth"]["basis"]
    assert set(record["by_threads"]) == {"1"}


def test_a_run_uses_the_cached_roofs_and_records_every_cells_point(tmp_path: Path) -> None:
    """The run finds the cached measurement of its CPU, CPUs, threads and micro-benchmark
    environment (seeded here, so nothing is measured) and judges its cell against it."""
    cache = tmp_path / "roofs"
    bench = bench_python({}, Path(sys.executable), default_root())  # as the run will choose
    seeded = cache / f"{cache_key(read_cpu_info(), (FIRST_CPU,), 1, bench)}.json"
    cache.mkdir()
    seeded.write_text(json.dumps(fake_record(1000.0) | {"affinity": [FIRST_CPU]}))
    args = ["--frameworks", "fake", "--cpus", str(FIRST_CPU), "--threads", "1", "--quiet", *QUICK]
    env = {"INFERENCE_BENCH_ROOFS": str(cache), "INFERENCE_BENCH_ROOFS_MODE": "cached"}
    proc = run_cli([*args, "--report", "md"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    run = only_run_dir(tmp_path / "results")
    roofs = json.loads((run / "environment.json").read_text())["roofs"]
    assert roofs["measured_by"]["cached"] == str(seeded) and roofs["fp32"]["measured_gflops"] == 1000.0
    assert roofs["fp32"]["theoretical_gflops"] > 0 and "ops/cycle/core" in roofs["fp32"]["basis"]
    row = summary_rows(run)["fake"]
    assert row["gflops_per_s"] == pytest.approx(row["model_flops_per_sample"] * row["throughput_per_s"] / 1e9)
    assert row["roof_pct_measured"] == pytest.approx(row["gflops_per_s"] / 10.0)  # of 1000 GFLOP/s
    assert row["roof_precision"] == "fp32" and row["arithmetic_intensity"] > 0 and row["roof_omitted"] is None
    assert (
        "% roof" in (run / "summary.md").read_text()
        and "**Roofs:** fp32 1,000 measured" in (run / "summary.md").read_text()
    )


def test_a_cell_above_the_measured_roof_is_warned_about() -> None:
    above = with_roofline(summary(throughput_per_s=5000.0, warnings="noisy: x"), ROOFS)
    assert above["roof_pct_measured"] == 250.0
    assert above["warnings"].startswith("noisy: x; roof: 250 % of the measured fp32 roof")
    assert with_roofline(summary(), ROOFS).get("warnings") is None


def chart_rows() -> list[dict[str, Any]]:
    """Two frameworks' summary rows with points under ROOFS, and one without FLOPs."""
    rows = [
        summary_row(0, "fake", threads=1, status="ok", **roofline_columns(summary(), ROOFS)),
        summary_row(
            1, "other", threads=1, status="ok", **roofline_columns(summary(throughput_per_s=500.0), ROOFS)
        ),
        summary_row(
            2, "third", threads=1, status="ok", roof_omitted="no FLOPs: no ONNX graph of this keras model"
        ),
    ]
    return rows


def test_the_roofline_chart_draws_both_roofs_and_a_point_per_cell(tmp_path: Path) -> None:
    import matplotlib.image

    (tmp_path / "environment.json").write_text(json.dumps({"roofs": roofs_record(ROOFS)}))
    path = roofline_chart(chart_rows(), tmp_path)
    assert path == tmp_path / "roofline.png"
    image = matplotlib.image.imread(path)
    assert colour_pixels(image, "#222222").sum() > 200  # the fp32 roofs, solid and dashed
    assert colour_pixels(image, "C0").sum() > 20 and colour_pixels(image, "C1").sum() > 20  # two frameworks


def test_no_roofline_chart_without_a_point(tmp_path: Path) -> None:
    assert roofline_chart(chart_rows()[2:], tmp_path) is None
    assert not (tmp_path / "roofline.png").exists()


def test_a_run_without_measured_roofs_still_places_its_cells_under_the_theoretical_ones(
    tmp_path: Path,
) -> None:
    args = ["--frameworks", "fake", "--cpus", str(FIRST_CPU), "--threads", "1", "--quiet", *QUICK]
    proc = run_cli(args, cwd=tmp_path, env={"INFERENCE_BENCH_ROOFS_MODE": "off"})
    assert proc.returncode == 0, proc.stderr
    run = only_run_dir(tmp_path / "results")
    roofs = json.loads((run / "environment.json").read_text())["roofs"]
    assert (
        roofs["fp32"]["measured_gflops"] is None
        and roofs["measured_by"]["why_not"] == "not measured (roofs off)"
    )
    row = summary_rows(run)["fake"]
    assert row["roof_pct_measured"] is None and row["roof_pct_theoretical"] > 0 and row["gflops_per_s"] > 0


def test_a_bad_roofs_mode_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run_cli(
        ["--frameworks", "fake", *QUICK], cwd=tmp_path, env={"INFERENCE_BENCH_ROOFS_MODE": "sometimes"}
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith("$INFERENCE_BENCH_ROOFS_MODE is 'sometimes'; expected one of cached, measure, off")
    )
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_a_roof_measured_with_more_threads_is_never_below_one_with_fewer() -> None:
    cpu = synthetic_cpu()
    low = fake_record(4.0) | {"triad_gbs": 30.0}
    roofs = at_least_fewer_threads(
        {1: machine_roofs(cpu, (FIRST_CPU,), 1, fake_record(10.0)), 2: machine_roofs(cpu, TWO_CPUS, 2, low)}
    )
    two = roofs[2]
    assert two.compute["fp32"].measured == 10.0 and "2-thread measurement (4.0) came out lower" in (
        two.compute["fp32"].measured_basis
    )
    assert two.bandwidth.measured == 30.0  # higher than the 1-thread figure: kept
    assert roofs[1].compute["fp32"].measured == 10.0 and two.compute["bf16"].measured is None


def test_a_run_of_wide_cells_measures_one_thread_too_as_their_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[int] = []

    def measure(bench: Bench, cpus: tuple[int, ...], threads: int) -> dict[str, Any]:
        measured.append(threads)
        return fake_record(100.0 if threads == 1 else 10.0)  # the wide one disturbed

    monkeypatch.setattr(execute_roofs, "measure", measure)
    cells = Plan(frameworks=("fake",), threads=(2,), cpus=TWO_CPUS).cells()
    roofs = run_roofs(synthetic_cpu(), cells, Bench(Path(sys.executable), "v", "test"), "cached", tmp_path)
    assert sorted(measured) == [1, 2] and list(roofs) == [2]
    assert roofs[2].compute["fp32"].measured == 100.0


def test_the_runs_roofs_line_says_where_the_roofs_came_from() -> None:
    """Read from the records after the roofs are had, not guessed from the mode before."""
    from types import SimpleNamespace

    from orchestrator.execute.roofs import roofs_source

    def record(**measured_by: object) -> Any:
        return SimpleNamespace(measured_by=measured_by)

    assert roofs_source({1: record(cached="/c/1.json"), 2: record(cached="/c/2.json")}) == "from the cache"
    assert roofs_source({2: record(cached=None)}) == "measured now"
    assert roofs_source({1: record(cached="/c/1.json"), 2: record(cached=None)}) == (
        "from the cache and measured now"
    )
    assert roofs_source({2: record(why_not="no PyTorch environment")}).startswith("not measured")


def test_history_reports_help_prints_its_percent_sign_once() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "history", "report", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "95 % band" in " ".join(proc.stdout.split()) and "%%" not in proc.stdout
