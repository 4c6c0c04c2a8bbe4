"""Quantize one model offline, in a process of its own: ``python -m runners.quantize REQUEST.json``.

Run by the parent in the framework's environment before the cells that load the quantized model,
pinned to the cell's CPUs with its thread count, as the runner is. The quantizer (the registry
record's ``quantizer``) is imported only here, so the measured runner's memory never holds it.

Writes ``quantize.json`` (schemas.quantize.QuantizeOutcome) into the request's output directory;
exit 0 when quantized, 3 when the model cannot be quantized (the cell is skipped), 1 on a
failure (NaN ranges, a crash: the traceback goes to stderr, the parent's quantize.log).

Stdlib only up to the quantizer's import: the affinity and the thread variables come first.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from runners.registry import load_quantizer, other_frameworks_modules
from runners.threads import runner_env
from schemas.quantize import CannotQuantize, QuantizeOutcome, QuantizeRequest, QuantizeResult

SKIPPED_EXIT = 3


def main(argv: list[str] | None = None) -> int:
    """Run the request named by the one argument; the exit code says ok, skipped or failed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m runners.quantize REQUEST.json", file=sys.stderr)
        return 2
    request = QuantizeRequest.from_file(Path(args[0]))
    output = Path(request.output_dir)
    if request.cpus:
        os.sched_setaffinity(0, request.cpus)
    os.environ.update(runner_env(request.framework, request.threads, str(output / "keras")))
    # One framework per process, as in the runner: the others' modules are made unimportable.
    for name in other_frameworks_modules(request.framework):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    start = time.perf_counter()
    try:
        quantize = load_quantizer(request.framework)
        start = time.perf_counter()
        result = quantize(request)
        if not isinstance(result, QuantizeResult):
            raise TypeError(f"the quantizer returned {type(result).__name__}, not a QuantizeResult")
    except CannotQuantize as exc:
        print(f"cannot quantize: {exc}", file=sys.stderr)
        QuantizeOutcome("skipped", str(exc), call_s=time.perf_counter() - start).write(output)
        return SKIPPED_EXIT
    except Exception as exc:
        traceback.print_exc()
        QuantizeOutcome("failed", last_line(exc), call_s=time.perf_counter() - start).write(output)
        return 1
    QuantizeOutcome("ok", None, result, time.perf_counter() - start).write(output)
    print(f"quantized {request.model} for {request.framework} at {request.precision}: {result.model_path}")
    return 0


def last_line(exc: BaseException) -> str:
    """``Type: message``, as a traceback's last line shows it."""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[-1]}" if message else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
