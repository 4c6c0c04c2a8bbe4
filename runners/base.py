"""The Runner base class: owns every measurement so that all frameworks are timed alike.

A framework subclass says only how to import itself, set its threads (and precision), build
the model from the shared weights and call it on a numpy array. The stages, their order, the
timed loop and every probe live here.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from models.base import Model, ModelFiles, UnsupportedModel
from runners import probes
from runners.events import EventPipe
from runners.precision import UNOBSERVED
from runners.scenarios import Measurement, measure_for
from runners.scenarios.loop import time_calls
from runners.threads import RECORDED_VARIABLES
from schemas.job import JobSpec
from schemas.precisions import PRECISIONS

T = TypeVar("T")

# One call's inputs, by name, as numpy arrays: what every runner's predict() starts from.
Sample = dict[str, np.ndarray]


class UnsupportedPrecision(Exception):
    """The framework has no honest way to run the asked precision on this CPU."""


# Reasons a cell is skipped rather than failed: not this run's fault, nothing to fix in it.
_SKIPPING = (UnsupportedPrecision, UnsupportedModel)


@dataclass(frozen=True)
class Option:
    """An execution option a user may choose (``--option FRAMEWORK.KEY=VALUE``); the first
    choice is the default: the runner's honest best on the machines measured so far."""

    choices: tuple[str, ...]
    help: str
    # The precisions whose cells the option changes (empty: every one). A quantization choice
    # means nothing to an fp32 cell: its cells neither run nor record it.
    precisions: tuple[str, ...] = ()

    @property
    def default(self) -> str:
        return self.choices[0]

    def applies_to(self, precision: str) -> bool:
        """Whether a cell at ``precision`` runs this option."""
        return not self.precisions or precision in self.precisions


class Runner(ABC):
    """One framework's side of a benchmark cell."""

    name: ClassVar[str]
    # False for runners with no model (noop): their outputs are not checked for parity.
    computes_model: ClassVar[bool] = True
    # The execution options this framework offers, by key; each cell runs one value of each.
    options: ClassVar[dict[str, Option]] = {}

    def __init__(self, chosen: dict[str, str] | None = None) -> None:
        # Every framework option that can change a figure, recorded in the result.
        self.settings: dict[str, Any] = {}
        # The precision the framework really computed in, observed after the figures are taken.
        self.precision_effective = UNOBSERVED
        self.chosen = {key: (chosen or {}).get(key, option.default) for key, option in self.options.items()}
        if self.chosen:
            self.settings["options"] = dict(self.chosen)
        # The model a quantizer made beforehand, in a process of its own ({"path", "settings"}),
        # and the calibration set (input name -> .npy): from the job, before configure_precision.
        self.quantized: dict[str, Any] | None = None
        self.calibration: dict[str, str] = {}

    def option(self, key: str) -> str:
        """The value of execution option ``key`` for this cell."""
        return self.chosen[key]

    @abstractmethod
    def import_framework(self) -> str:
        """Import the framework and return its version."""

    @abstractmethod
    def configure_threads(self, threads: int) -> None:
        """Set the framework's thread pools through its API, right after import."""

    def configure_precision(self, precision: str) -> None:
        """Prepare to compute in ``precision``; raise UnsupportedPrecision if there is no way."""
        self.precision_path(precision, {"fp32": None})

    def precision_path(self, precision: str, paths: Mapping[str, T]) -> T:
        """``paths[precision]``: what this framework does for each precision it has a path for;
        UnsupportedPrecision (the cell is skipped, one line) for any other -- never a fallback
        to another precision."""
        if precision not in paths:
            raise UnsupportedPrecision(f"{self.name} has no {precision} path on CPU in this benchmark")
        return paths[precision]

    @abstractmethod
    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        """Build the framework's native model of ``model``; ``sample`` is one call's inputs
        (their names, dtypes and shapes fix a static shape where the framework wants one).
        Raise UnsupportedModel when the framework cannot run this model honestly."""

    @property
    def quantizes_at_load(self) -> bool:
        """Whether this cell's model is quantized in the runner, after :meth:`load` (PyTorch's
        PT2E flow), rather than beforehand in a process of its own or not at all."""
        return False

    def quantize_at_load(self, sample: Sample) -> None:
        """Quantize the loaded model from ``self.calibration`` (``sample``: one call's inputs,
        the shape a static graph takes). Timed as the cell's ``quantize_s``, a phase of its
        own outside load_s and the timed loop; called only when :attr:`quantizes_at_load`."""
        raise NotImplementedError(f"{self.name} quantizes no model at load")

    def prepare(self, sample: Sample) -> Any:
        """One call's inputs in the form :meth:`predict` takes, made once, outside the timed loop
        (e.g. a layout the framework's model wants). By default the numpy arrays themselves."""
        return sample

    @abstractmethod
    def predict(self, feed: Any) -> np.ndarray:
        """One inference: numpy in (as :meth:`prepare` made it), numpy out, complete when it returns."""

    def observed_threads(self) -> int | None:
        """Compute threads as the framework reports them, after the timed loop."""
        return None

    def compiled_precision(self, feed: Any) -> str | None:
        """The precision of the compute ops (matrix products, convolutions) that execute for
        ``feed`` -- fp32, bf16, or "mixed: ..." -- read from what the framework compiled or ran,
        after every other figure is taken. None where it cannot be observed: the cell records
        ``unobserved``, and the runner says why in ``settings["precision_unobserved"]``. Never
        the precision that was asked for."""
        self.settings["precision_unobserved"] = f"{self.name} exposes nothing that executed"
        return None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Context held around every inference (e.g. PyTorch's inference mode)."""
        yield


@dataclass
class CellResult:
    """What a runner found; becomes the single row of result.parquet."""

    cell_id: str
    framework: str
    status: str = "failed"
    error: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def _last_line(exc: BaseException) -> str:
    """``Type: message``, as the last line of a traceback shows it, without the module path."""
    if isinstance(exc, _SKIPPING):
        return str(exc)
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[-1]}" if message else type(exc).__name__


def run_cell(
    runner: Runner,
    job: JobSpec,
    samples: list[Sample],
    model: Model,
    files: ModelFiles,
    events: EventPipe,
    pool: Sample | None = None,
) -> CellResult:
    """Run every stage of one cell in order and return what was measured.

    A framework that is not installed (ModuleNotFoundError) or an unsupported precision makes
    the cell ``skipped``; an import that fails any other way (the framework is there, and
    broken) and any later exception make it ``failed``; either way the figures measured so far
    are kept.
    """
    result = CellResult(job.cell_id, job.framework)
    figures = result.figures
    _take_precision_inputs(runner, job)
    figures["rss_mb_baseline"] = probes.rss_mb()
    events.phase("importing")
    start = time.perf_counter()
    try:
        figures["framework_version"] = runner.import_framework()
        runner.configure_threads(job.threads)
        if job.precision not in PRECISIONS:  # a job written by hand, or by a newer parent
            raise UnsupportedPrecision(f"unknown precision {job.precision!r}; known: {', '.join(PRECISIONS)}")
        runner.configure_precision(job.precision)
    except Exception as exc:
        traceback.print_exc()
        # Skipped: the framework is not installed, or has no honest path to the precision.
        # Failed: it is installed and broken (a library missing, a crash on import), or it
        # refused its settings (a thread pool that can no longer be resized).
        missing = isinstance(exc, ModuleNotFoundError) and "framework_version" not in figures
        result.status = "skipped" if missing or isinstance(exc, _SKIPPING) else "failed"
        result.error = _last_line(exc)
        return result
    figures["import_s"] = time.perf_counter() - start
    figures["rss_mb_import"] = probes.rss_mb()
    runner.settings["environment"] = {k: os.environ[k] for k in RECORDED_VARIABLES if k in os.environ}
    # And what it inherited besides (PYTHONPATH, LD_LIBRARY_PATH, HOME ...): it can change a figure.
    runner.settings["inherited_environment"] = {
        k: v for k, v in sorted(os.environ.items()) if k not in RECORDED_VARIABLES
    }

    try:
        _load_and_measure(runner, job, samples, model, files, events, figures, pool)
    except _SKIPPING as exc:  # found out only when the model was built or compiled
        traceback.print_exc()
        result.status, result.error = "skipped", _last_line(exc)
        return result
    except Exception as exc:
        traceback.print_exc()
        result.error = _last_line(exc)
        return result
    finally:
        figures["precision_effective"] = runner.precision_effective
        figures["settings"] = runner.settings
    result.status = "ok"
    return result


def _take_precision_inputs(runner: Runner, job: JobSpec) -> None:
    """What the job gives the runner for its precision: a quantized model, the calibration set,
    and the options that apply to the cell's precision (a quantization choice: int8 only)."""
    runner.quantized, runner.calibration = job.quantized, dict(job.model.calibration)
    if runner.chosen:
        applies = {key for key, option in runner.options.items() if option.applies_to(job.precision)}
        runner.settings["options"] = {key: value for key, value in runner.chosen.items() if key in applies}
    if job.quantized is not None:  # as the quantizer read them back from what it wrote
        runner.settings["quantization"] = job.quantized.get("settings", {})
        runner.settings["quantized_model"] = job.quantized["path"]


def _load_and_measure(
    runner: Runner,
    job: JobSpec,
    raw_samples: list[Sample],
    model: Model,
    files: ModelFiles,
    events: EventPipe,
    figures: dict[str, Any],
    pool: Sample | None = None,
) -> None:
    samples = _load(runner, model, files, raw_samples, events, figures)

    with runner.session():
        start_ns = time.perf_counter_ns()
        runner.predict(samples[0])
        first_ns = time.perf_counter_ns() - start_ns
        figures["first_inference_ms"] = first_ns / 1e6
        # Load plus the first call: every framework has compiled by then (ONNX Runtime and
        # OpenVINO in load, JAX and TensorFlow at the first call), so this puts them alike.
        figures["ready_s"] = figures["load_s"] + first_ns / 1e9

        events.phase("warming_up", iterations=job.warmup)
        warm = time_calls(runner.predict, samples, job.warmup)
        per_call_ns = float(np.median(warm)) if warm else float(first_ns)

        probes.reset_peak_rss()
        events.phase("measuring", target=job.min_iterations, min_time_s=job.min_time_s)
        scenario = measure_for(job)
        latencies = scenario.measure(Measurement(runner, job, samples, pool, per_call_ns, figures, events))
        figures["peak_rss_mb"] = probes.peak_rss_mb()
        figures["modules_json"] = json.dumps(probes.loaded_top_level_modules())

        # Outputs for the parity check, from calls outside the timed loop, copied (some
        # runtimes hand back a view of a buffer they reuse): one per distinct sample.
        if runner.computes_model:
            figures["outputs"] = np.concatenate(
                [np.array(runner.predict(x), dtype=np.float32, copy=True).ravel() for x in samples]
            )

    figures["uss_mb"], figures["pss_mb"] = probes.unique_and_proportional_mb()
    figures["latencies_ns"] = np.frombuffer(latencies, np.int64)
    figures["iterations"] = len(latencies)
    runner.settings["threads_reported"] = runner.observed_threads()  # what the framework's API says
    figures["os_threads"] = probes.os_thread_count()
    # Last: an observation may build a second session or start a profiler (threads, memory).
    with runner.session():
        runner.precision_effective = _observed_precision(runner, samples[0])


def _load(
    runner: Runner,
    model: Model,
    files: ModelFiles,
    raw_samples: list[Sample],
    events: EventPipe,
    figures: dict[str, Any],
) -> list[Any]:
    """Load the model and prepare the inputs (load_s); a runner that quantizes at load does
    that as a phase of its own in between (quantize_s, outside load_s)."""
    events.phase("loading")
    start = time.perf_counter()
    runner.load(model, files, raw_samples[0])
    load_s = time.perf_counter() - start
    if runner.quantizes_at_load:
        events.phase("quantizing")
        start = time.perf_counter()
        runner.quantize_at_load(raw_samples[0])
        figures["quantize_s"] = time.perf_counter() - start
    start = time.perf_counter()
    samples = [runner.prepare(sample) for sample in raw_samples]
    del raw_samples[:]  # one copy of the inputs: the prepared one
    figures["load_s"] = load_s + time.perf_counter() - start
    figures["rss_mb_load"] = probes.rss_mb()
    return samples


def _observed_precision(runner: Runner, feed: Any) -> str:
    """What the runner saw its compute ops run in, or ``unobserved`` (and why, in its settings):
    an observation that fails costs the cell nothing it measured."""
    try:
        observed = runner.compiled_precision(feed)
    except Exception as exc:
        traceback.print_exc()
        runner.settings["precision_unobserved"] = _last_line(exc)
        return UNOBSERVED
    if observed is None:
        runner.settings.setdefault("precision_unobserved", "no matrix product or convolution ran")
        return UNOBSERVED
    return observed
