"""The roofs micro-benchmark: ``python -m runners.roofs --cpus 0,1 --threads 2 [--seconds S]``.

Run by the parent as a subprocess, in PyTorch's environment where the run has one (a dense
matmul per precision: fp32 and bf16 the best of ``torch.matmul`` and oneDNN's linear; int8 the
best of ``torch._int_mm`` and the x86 quantized engine's ``quantized::linear``; a STREAM
triad ``a = b + s*c`` as one ``torch.add(..., out=)``), else in the orchestrator's own
interpreter with numpy (fp32 matmul through its BLAS, a two-pass triad; no bf16 or int8). Like
a runner it pins itself and fixes its thread pools before importing anything that starts a
thread, and reports what it read back.

Each kernel is called back to back for ``--seconds``; its figure is the best call's rate (a
roof is what the machine can reach, and on a shared machine the best call is the least
disturbed). Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runners.threads import runner_env

# Bytes each triad array takes: twice the last-level cache, at least 64 MB, so that the arrays
# stream from memory and not from cache.
_MIN_ARRAY_BYTES = 64 * 2**20


def main(argv: list[str] | None = None) -> int:
    """Pin, measure, print the record."""
    parser = argparse.ArgumentParser(prog="python -m runners.roofs", description=__doc__)
    parser.add_argument("--cpus", required=True, help="comma list of CPUs to pin to")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=0.15, help="time per kernel and size")
    parser.add_argument("--size", type=int, default=0, help="one matrix side (0: two, by thread count)")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, [int(cpu) for cpu in args.cpus.split(",")])
    os.environ.update(runner_env("roofs", args.threads, "/nonexistent"))
    # Three sizes: the smaller's calls are short enough to fall between a busy machine's other
    # work, the larger's keep many cores busy.
    sizes = (args.size,) if args.size else (256, 512, 1024) if args.threads <= 4 else (512, 1024, 2048)
    record: dict[str, Any] = {"matrix_sizes": list(sizes), "seconds_per_kernel": args.seconds}
    try:
        import torch  # noqa: F401
    except ImportError:
        record.update(_with_numpy(sizes, args.seconds))
    else:
        record.update(_with_torch(args.threads, sizes, args.seconds))
    record["affinity"] = sorted(os.sched_getaffinity(0))
    record["python"] = sys.executable
    print(json.dumps(record))
    return 0


def best_rate(call: Callable[[], object], work: float, seconds: float) -> float:
    """``work`` per second of the fastest of the calls made in ``seconds`` (two warm-up first)."""
    call()
    call()
    best = float("inf")
    ends = time.perf_counter() + seconds
    calls = 0
    while calls < 3 or time.perf_counter() < ends:
        started = time.perf_counter_ns()
        call()
        best = min(best, (time.perf_counter_ns() - started) / 1e9)
        calls += 1
    return work / best


def triad_elements() -> int:
    """Elements of each float32 triad array: twice the last-level cache, at least 64 MB."""
    cache = 0
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        text = (index / "size").read_text().strip() if (index / "size").is_file() else ""
        if text.endswith("K") and text[:-1].isdigit():
            cache = max(cache, int(text[:-1]) * 1024)
    return max(_MIN_ARRAY_BYTES, 2 * cache) // 4


def _with_torch(threads: int, sizes: tuple[int, ...], seconds: float) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    found: dict[str, dict[str, float]] = {"fp32": {}, "bf16": {}, "int8": {}}
    for size in sizes:
        for name, rates in _torch_matmuls(torch, size, seconds).items():
            found[name].update(rates)
        found["fp32"].update(_numpy_matmul(np, size, seconds))
    n = triad_elements()
    x, y, z = torch.zeros(n), torch.rand(n), torch.rand(n)
    triad = {
        f"torch.add(b, c, alpha=3, out=a) over three {4 * n / 2**20:.0f} MB float32 arrays, 3 arrays' "
        "bytes counted (STREAM's count)": best_rate(
            lambda: torch.add(y, z, alpha=3.0, out=x), 12.0 * n, seconds
        ),
        **_numpy_triad(np, n, seconds),
    }
    gflops: dict[str, float | None] = {}
    kernels: dict[str, str] = {}
    for name, rates in found.items():
        gflops[name], kernels[name] = best_of(rates, "GFLOP/s")
    bandwidth, triad_kernel = best_of(triad, "GB/s")
    return {
        "framework": f"torch {torch.__version__}, numpy {np.__version__}",
        "threads_observed": torch.get_num_threads(),
        "gflops": gflops,
        "kernels": kernels,
        "triad_gbs": bandwidth,
        "triad": triad_kernel,
    }


def _torch_matmuls(torch: Any, size: int, seconds: float) -> dict[str, dict[str, float]]:
    """FLOP per second of each PyTorch matmul at ``size``, by precision."""
    flop = 2.0 * size**3
    a = torch.randn(size, size)
    a16 = a.bfloat16()
    return {
        "fp32": {
            f"torch.matmul {size}x{size} float32": best_rate(lambda: a @ a, flop, seconds),
            **_onednn_linear(torch, a, "float32", flop, seconds),
        },
        "bf16": {
            f"torch.matmul {size}x{size} bfloat16": best_rate(lambda: a16 @ a16, flop, seconds),
            **_onednn_linear(torch, a16, "bfloat16", flop, seconds),
        },
        "int8": _torch_int8(torch, size, flop, seconds),
    }


def _onednn_linear(torch: Any, a: Any, dtype: str, flop: float, seconds: float) -> dict[str, float]:
    """The rate of oneDNN's linear (``mkldnn::_linear_pointwise``, the kernel torch.compile and
    the frameworks built on oneDNN call), where the build has it. torch.matmul's float32 goes
    to MKL, which takes its AVX2 path on AMD CPUs: on an AVX-512 EPYC it reached half of what
    oneDNN's AVX-512 kernel did, and runtimes built on oneDNN beat that roof."""
    size = a.shape[0]
    name = f"oneDNN linear (mkldnn::_linear_pointwise) {size}x{size} {dtype}"
    try:
        return {
            name: best_rate(
                lambda: torch.ops.mkldnn._linear_pointwise(a, a, None, "none", [], ""), flop, seconds
            )
        }
    except (RuntimeError, AttributeError):  # a build without oneDNN, or without the op
        return {}


def best_of(found: dict[str, float], unit: str) -> tuple[float | None, str]:
    """The best of several kernels' rates (per second), in billions, and which it was."""
    if not found:
        return None, "no kernel ran"
    kernel = max(found, key=lambda name: found[name])
    others = "; ".join(f"{name}: {rate / 1e9:.1f} {unit}" for name, rate in found.items() if name != kernel)
    return found[kernel] / 1e9, kernel + (f" (best of; also {others})" if others else "")


def _numpy_matmul(np: Any, size: int, seconds: float) -> dict[str, float]:
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    return {
        f"numpy matmul {size}x{size} float32 (its BLAS)": best_rate(lambda: a @ a, 2.0 * size**3, seconds)
    }


def _numpy_triad(np: Any, n: int, seconds: float) -> dict[str, float]:
    x, y, z = np.zeros(n, np.float32), np.ones(n, np.float32), np.ones(n, np.float32)

    def triad() -> None:
        np.multiply(z, np.float32(3.0), out=x)
        np.add(x, y, out=x)

    words = (
        f"numpy a = s*c; a += b over {4 * n / 2**20:.0f} MB float32 arrays, one thread, 5 arrays' "
        "bytes counted (two passes)"
    )
    return {words: best_rate(triad, 20.0 * n, seconds)}


def _torch_int8(torch: Any, size: int, flop: float, seconds: float) -> dict[str, float]:
    """int8 ops per second of ``torch._int_mm`` and of the x86 engine's ``quantized::linear``,
    those that run."""
    found: dict[str, float] = {}
    a = torch.randint(-128, 127, (size, size), dtype=torch.int8)
    with contextlib.suppress(RuntimeError):  # not every build has an int8 kernel for it
        found[f"torch._int_mm {size}x{size} int8"] = best_rate(lambda: torch._int_mm(a, a), flop, seconds)
    try:
        with warnings.catch_warnings():  # quantized tensors are deprecated, still the x86 path
            warnings.simplefilter("ignore")
            torch.backends.quantized.engine = "x86"
            weight = torch.quantize_per_tensor(torch.randn(size, size), 0.01, 0, torch.qint8)
            x = torch.quantize_per_tensor(torch.randn(size, size), 0.01, 128, torch.quint8)
            packed = torch.ops.quantized.linear_prepack(weight, None)
            rate = best_rate(lambda: torch.ops.quantized.linear(x, packed, 0.1, 0), flop, seconds)
        found[f"quantized::linear (x86 engine) {size}x{size} u8s8"] = rate
    except (RuntimeError, AttributeError):
        pass
    return found


def _with_numpy(sizes: tuple[int, ...], seconds: float) -> dict[str, Any]:
    """numpy's BLAS took its thread count from the environment, set before its import."""
    import numpy as np

    matmuls: dict[str, float] = {}
    for size in sizes:
        matmuls.update(_numpy_matmul(np, size, seconds))
    fp32, fp32_kernel = best_of(matmuls, "GFLOP/s")
    bandwidth, triad_kernel = best_of(_numpy_triad(np, triad_elements(), seconds), "GB/s")
    missing = "not measured: no framework environment, and numpy has no bf16 or int8 matmul"
    return {
        "framework": f"numpy {np.__version__}",
        "threads_observed": None,
        "gflops": {"fp32": fp32, "bf16": None, "int8": None},
        "kernels": {"fp32": fp32_kernel, "bf16": missing, "int8": missing},
        "triad_gbs": bandwidth,
        "triad": triad_kernel,
    }


if __name__ == "__main__":
    sys.exit(main())
