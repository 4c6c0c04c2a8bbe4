"""The machine's roofs -- peak compute per precision and memory bandwidth -- and where a cell
sits under them. Pure: the CPU's description and the measured figures come in as values.

Theoretical peak = operations per cycle per core (from the CPU's features) x physical cores
used x clock. Operations per cycle per core, per precision (2 FLOP per multiply-add):

- fp32: AVX-512 (``avx512f``): 2 FMA units x 16 lanes x 2 = 64, assuming two 512-bit FMA
  units -- the unit count is not in /proc/cpuinfo (Xeon Bronze/Silver and some Gold parts have
  one, AMD's Zen 4 executes a 512-bit FMA as two halves on its two 256-bit pipes: 32, which is
  the one CPU family told apart here, AMD family 25). AVX2 with FMA: 2 x 8 x 2 = 32 (two
  256-bit FMA units assumed). AVX without FMA: one 8-lane add and one multiply, 16. SSE: 8.
- bf16: AMX-BF16 (``amx_bf16``): 1024 (one TMUL tile product a cycle). AVX512-BF16
  (``avx512_bf16``, VDPBF16PS: two bf16 products summed into each fp32 lane): twice the fp32
  rate. No bf16 arithmetic: the frameworks convert to fp32, so the fp32 rate.
- int8: AMX-INT8 (``amx_int8``): 2048. AVX512-VNNI (``avx512_vnni``) or AVX-VNNI
  (``avx_vnni``, 256-bit; VPDPBUSD: four u8 x s8 products summed into each int32 lane): four
  times the fp32 rate of that width. Neither: VPMADDUBSW + VPMADDWD + VPADDD do in three
  instructions what VNNI does in one, 4/3 of the fp32 rate.

Memory bandwidth has no theoretical figure: the channels and speed of the memory are in the
DMI tables, which only root may read (and a virtual machine's are synthetic); it stays null,
saying so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runners.registry import TOOLS

# The precisions a roof is given for; a cell's executed precision maps onto one of them.
PRECISIONS = ("fp32", "bf16", "int8")

# Bytes of one weight at each executed precision (int8: the weights quantized; their scales,
# a handful per channel, are left out).
WEIGHT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1, "uint8": 1}

_BANDWIDTH_UNKNOWN = (
    "not derived: the memory's channels and speed are in the DMI tables, which only root may "
    "read (a virtual machine's are synthetic)"
)


@dataclass(frozen=True)
class PeakRate:
    """Operations per cycle per core at one precision, and how that number was derived."""

    ops_per_cycle: float
    basis: str


def _fp32_rate(flags: frozenset[str], vendor: str, family: int | None) -> PeakRate:
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and family == 25:
            return PeakRate(
                32.0,
                "AVX-512 on AMD family 25 (Zen 4): two 256-bit FMA pipes, a 512-bit FMA in two halves: "
                "2 x 8 x 2",
            )
        return PeakRate(
            64.0, "AVX-512 FMA: 2 x 16 lanes x 2, two 512-bit FMA units assumed (not in /proc/cpuinfo)"
        )
    if "avx2" in flags and "fma" in flags:
        return PeakRate(
            32.0, "AVX2 FMA: 2 x 8 lanes x 2, two 256-bit FMA units assumed (not in /proc/cpuinfo)"
        )
    if "avx" in flags:
        return PeakRate(16.0, "AVX without FMA: one 8-lane add and one 8-lane multiply a cycle")
    return PeakRate(8.0, "SSE: one 4-lane add and one 4-lane multiply a cycle")


def peak_rates(flags: frozenset[str], vendor: str = "", family: int | None = None) -> dict[str, PeakRate]:
    """Operations per cycle per core for fp32, bf16 and int8, from the CPU's feature flags."""
    fp32 = _fp32_rate(flags, vendor, family)
    if "amx_bf16" in flags:
        bf16 = PeakRate(1024.0, "AMX-BF16: 1024 bf16 ops a cycle (one tile multiply)")
    elif "avx512_bf16" in flags:
        bf16 = PeakRate(
            2 * fp32.ops_per_cycle, f"AVX512-BF16 (VDPBF16PS): twice the fp32 rate [{fp32.basis}]"
        )
    else:
        bf16 = PeakRate(fp32.ops_per_cycle, f"no bf16 arithmetic: computed in fp32 [{fp32.basis}]")
    if "amx_int8" in flags:
        int8 = PeakRate(2048.0, "AMX-INT8: 2048 int8 ops a cycle (one tile multiply)")
    elif "avx512_vnni" in flags and "avx512f" in flags:
        int8 = PeakRate(4 * fp32.ops_per_cycle, f"AVX512-VNNI (VPDPBUSD): 4x the fp32 rate [{fp32.basis}]")
    elif "avx_vnni" in flags:
        avx2 = _fp32_rate(flags - {"avx512f"}, vendor, family)
        int8 = PeakRate(
            4 * avx2.ops_per_cycle, f"AVX-VNNI (256-bit VPDPBUSD): 4x the AVX2 fp32 rate [{avx2.basis}]"
        )
    else:
        int8 = PeakRate(
            4 / 3 * fp32.ops_per_cycle,
            f"no VNNI: VPMADDUBSW+VPMADDWD+VPADDD, a third of VNNI's 4x the fp32 rate [{fp32.basis}]",
        )
    return {"fp32": fp32, "bf16": bf16, "int8": int8}


@dataclass(frozen=True)
class Roof:
    """One roof, theoretical and measured (GFLOP/s, or GB/s for bandwidth), each None where it
    is unknown, with how each was found."""

    theoretical: float | None
    measured: float | None
    basis: str
    measured_basis: str


@dataclass(frozen=True)
class MachineRoofs:
    """The roofs of ``threads`` threads on ``cpus``: compute per precision and bandwidth."""

    cpus: tuple[int, ...]
    threads: int
    compute: dict[str, Roof]
    bandwidth: Roof
    measured_by: dict[str, Any] = field(default_factory=dict)  # the micro-benchmark's record

    def to_json(self) -> dict[str, Any]:
        """As environment.json's ``roofs`` holds it (CONTRACT.md)."""
        found: dict[str, Any] = {
            name: {
                "theoretical_gflops": roof.theoretical,
                "measured_gflops": roof.measured,
                "basis": roof.basis,
                "measured_basis": roof.measured_basis,
            }
            for name, roof in self.compute.items()
        }
        found["bandwidth"] = {
            "theoretical_gbs": self.bandwidth.theoretical,
            "measured_gbs": self.bandwidth.measured,
            "basis": self.bandwidth.basis,
            "measured_basis": self.bandwidth.measured_basis,
        }
        return {**found, "cpus": list(self.cpus), "threads": self.threads, "measured_by": self.measured_by}


def theoretical_gflops(
    rates: Mapping[str, PeakRate], cores: int, clock_mhz: float | None, clock_source: str
) -> dict[str, tuple[float | None, str]]:
    """Each precision's theoretical GFLOP/s on ``cores`` physical cores at ``clock_mhz``, and
    its derivation in words; None where the clock is unknown."""
    found: dict[str, tuple[float | None, str]] = {}
    for name, rate in rates.items():
        if not clock_mhz:
            found[name] = (
                None,
                f"no clock known ({clock_source}); {rate.ops_per_cycle:g} ops/cycle/core: {rate.basis}",
            )
            continue
        value = rate.ops_per_cycle * cores * clock_mhz / 1000.0
        words = (
            f"{rate.ops_per_cycle:g} ops/cycle/core x {cores} core(s) x {clock_mhz / 1000:.3g} GHz "
            f"({clock_source}); {rate.basis}"
        )
        found[name] = (value, words)
    return found


def bandwidth_unknown() -> str:
    """Why the theoretical bandwidth is null."""
    return _BANDWIDTH_UNKNOWN


def roof_precision(precision_effective: str | None) -> tuple[str | None, str | None]:
    """The roof a cell's executed precision is judged against, or None and why not.

    ``mixed: 12 bf16, 3 fp32`` takes its most common type's roof (the frameworks' own count of
    the compute ops, most common first); unsigned int8 (u8 x s8) the int8 roof.
    """
    if precision_effective is None or precision_effective == "unobserved":
        return None, "the precision that executed was not observed: no roof to judge it against"
    name = precision_effective
    if name.startswith("mixed:"):
        name = name.split(":", 1)[1].strip().split(",")[0].split()[-1]
    name = {"uint8": "int8"}.get(name, name)
    if name not in PRECISIONS:
        return None, f"no roof for the precision that executed ({precision_effective})"
    return name, None


# The summary columns a cell's roofline point fills (schema version 7).
ROOFLINE_COLUMNS = (
    "gflops_per_s",
    "arithmetic_intensity",
    "roof_precision",
    "roof_measured_gflops",
    "roof_theoretical_gflops",
    "roof_measured_gbs",
    "roof_pct_measured",
    "roof_pct_theoretical",
    "roof_omitted",
)


def busy_threads(row: Mapping[str, Any]) -> int:
    """Threads a cell kept busy at once: its threads in each of its instances."""
    return int(row["threads"]) * int(row.get("instances") or 1)


def call_bytes(row: Mapping[str, Any], precision: str | None) -> float | None:
    """Bytes one call must move at the least: every weight once (at the executed precision's
    width, fp32 where that is unknown) plus the inputs and output of its batch
    (``model_io_bytes_per_sample``). Intermediate activations are left out: they may stay in
    cache. None where the parameter count is unknown."""
    parameters = row.get("model_parameters")
    if parameters is None:
        return None
    io_bytes = float(row.get("model_io_bytes_per_sample") or 0.0) * int(row["batch_size"])
    return float(parameters) * WEIGHT_BYTES.get(precision or "fp32", 4) + io_bytes


def roofline_columns(row: Mapping[str, Any], roofs: Mapping[int, MachineRoofs] | None) -> dict[str, Any]:
    """A summary row's point under the roofs: achieved GFLOP/s (FLOPs of its own shapes x
    samples per second), its arithmetic intensity, and its share of the measured and theoretical
    roof of the precision that executed, at its busy thread count (``roofs`` by thread count).
    A missing figure is None and ``roof_omitted`` says why; never a zero."""
    found: dict[str, Any] = dict.fromkeys(ROOFLINE_COLUMNS)
    why = _no_point(row)
    if why is not None:
        found["roof_omitted"] = why
        return found
    flops, rate = float(row["model_flops_per_sample"]), float(row["throughput_per_s"])
    found["gflops_per_s"] = flops * rate / 1e9
    precision, unknown = roof_precision(row.get("precision_effective"))
    moved = call_bytes(row, precision)
    if moved:
        found["arithmetic_intensity"] = flops * int(row["batch_size"]) / moved
    reasons = [] if moved else ["arithmetic intensity unknown: the model's parameter count is unknown"]
    machine = None if roofs is None else roofs.get(busy_threads(row))
    if unknown is not None:
        reasons.append(unknown)
    elif machine is None:
        reasons.append(f"no roofs measured for {busy_threads(row)} thread(s) (roofs off, or not measured)")
    else:
        roof = machine.compute[precision or "fp32"]
        found.update(
            roof_precision=precision,
            roof_measured_gflops=roof.measured,
            roof_theoretical_gflops=roof.theoretical,
            roof_measured_gbs=machine.bandwidth.measured,
            roof_pct_measured=_pct(found["gflops_per_s"], roof.measured),
            roof_pct_theoretical=_pct(found["gflops_per_s"], roof.theoretical),
        )
    found["roof_omitted"] = "; ".join(reasons) or None
    return found


def _no_point(row: Mapping[str, Any]) -> str | None:
    """Why a row has no point at all: it did not run, or its FLOPs or rate are unknown."""
    if row.get("status") != "ok":
        return f"the cell did not run ({row.get('status')})"
    if row.get("framework") in TOOLS:
        return f"{row.get('framework')} computes no model: its calls do none of the model's FLOPs"
    if row.get("model_flops_per_sample") is None:
        return f"no FLOPs: {row.get('model_flops_basis') or 'not counted'}"
    if not row.get("throughput_per_s"):
        return "no throughput measured"
    return None


def _pct(achieved: float, roof: float | None) -> float | None:
    return None if not roof or not math.isfinite(roof) else 100.0 * achieved / roof


def with_roofline(row: Mapping[str, Any], roofs: Mapping[int, MachineRoofs] | None) -> dict[str, Any]:
    """A copy of a summary row with its roofline columns, and a ``roof`` warning where it is
    above the measured roof: that roof was measured low (on a busy machine, most often), so
    its share means little until it is measured again (``python -m orchestrator roofs --measure``)."""
    found = dict(row) | roofline_columns(row, roofs)
    pct = found["roof_pct_measured"]
    if pct is not None and pct > 100.0:
        warning = (
            f"roof: {pct:.0f} % of the measured {found['roof_precision']} roof: the roof was measured "
            "low, on a busy machine most often (python -m orchestrator roofs --measure measures it again)"
        )
        found["warnings"] = "; ".join(filter(None, [row.get("warnings"), warning]))
    return found


def at_least_fewer_threads(roofs: Mapping[int, MachineRoofs]) -> dict[int, MachineRoofs]:
    """Measured roofs that never fall as threads are added: more threads can always leave some
    idle, so a measurement below a smaller thread count's (a busy machine disturbed it) takes
    that count's figure, saying so in its basis."""
    fixed: dict[int, MachineRoofs] = {}
    best: dict[str, tuple[float, int]] = {}  # kind -> (figure, at threads)
    for threads in sorted(roofs):
        machine = roofs[threads]
        compute = {name: _raised(roof, name, threads, best) for name, roof in machine.compute.items()}
        bandwidth = _raised(machine.bandwidth, "bandwidth", threads, best)
        fixed[threads] = replace(machine, compute=compute, bandwidth=bandwidth)
    return fixed


def _raised(roof: Roof, kind: str, threads: int, best: dict[str, tuple[float, int]]) -> Roof:
    if roof.measured is None:
        return roof
    if kind in best and best[kind][0] > roof.measured:
        figure, fewer = best[kind]
        note = (
            f"{figure:,.1f} as measured at {fewer} thread(s): the {threads}-thread measurement "
            f"({roof.measured:,.1f}) came out lower, disturbed; {roof.measured_basis}"
        )
        return replace(roof, measured=figure, measured_basis=note)
    best[kind] = (roof.measured, threads)
    return roof
