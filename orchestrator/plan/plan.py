"""The benchmark plan: validated settings, expanded into cells, frozen before anything runs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.registry import MODELS, load_model
from models.spec import InputSpec, ModelSpec
from orchestrator.host import allowed_cpus, memory_budget
from orchestrator.plan.framework_refs import ENVIRONMENTS, FrameworkRef
from orchestrator.plan.measurement import Measurement
from orchestrator.plan.options import OptionError, as_json, option_sets
from runners.registry import FRAMEWORKS, all_runners
from schemas.configuration import CONTENDER_COLUMNS, config_id

# The tool's own loops -- offline: the whole batch in one call (throughput); single-stream: one
# sample per call, cycling through the input rows (per-request latency) -- and MLPerf LoadGen's
# scenarios, LoadGen issuing the queries (runners/loadgen.py): server at a target rate, server-peak
# (the highest rate that stays valid: --find-peak), multi-stream, and LoadGen's own single-stream
# and offline, to set beside the tool's. The value is LoadGen's name for the scenario.
OWN_SCENARIOS = ("offline", "single-stream")
LOADGEN_SCENARIOS = {
    "server": "server",
    "server-peak": "server",
    "multi-stream": "multi-stream",
    "loadgen-single-stream": "single-stream",
    "loadgen-offline": "offline",
}
SCENARIOS = (*OWN_SCENARIOS, *LOADGEN_SCENARIOS)
# Scenarios whose queries arrive on their own schedule and wait in a queue for the model (the
# server's Poisson arrivals, LoadGen's offline query of every sample at once): a query's
# latency is its wait plus the call, and its spread is what the scenario measures.
QUEUEING_SCENARIOS = frozenset({"server", "server-peak", "loadgen-offline"})
# The scenarios whose call takes --batch-size samples (the others take one sample, a multi-stream
# query or --max-batch): a --batch-size with none of them would be silently ignored.
BATCHED_SCENARIOS = ("offline", "loadgen-offline")

# isolated: one fresh process per cell. in-process: every framework of a repeat in one shared
# worker, one after another, as the article did -- to show what that does to the figures.
MODES = ("isolated", "in-process")

PRECISIONS = ("fp32", "bf16")

# Copies of the inputs a run holds at its peak (see Plan._check_memory).
_COPIES_OF_INPUTS = 4

# Flags that fill a model's symbolic dims, by symbol.
DIM_FLAGS = {"batch": "--batch-size", "seq": "--seq-len", "image": "--image-size"}


class PlanError(ValueError):
    """A setting is invalid; ``flag`` names the command-line option it came from."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


@dataclass(frozen=True)
class Cell:
    """One framework measured once, at one configuration, in one worker process."""

    index: int
    framework: str
    scenario: str
    batch_size: int
    threads: int
    cpus: tuple[int, ...]
    precision: str
    mode: str
    repeat: int
    model: str = "mlp"
    framework_pin: str | None = None
    target_qps: float | None = None  # server: the offered rate (all instances together)
    latency_bound_ms: float | None = None  # server, server-peak
    instances: int = 1  # copies of the runner at once, each on its own share of ``cpus``
    instance: int = 0
    cpu_share: tuple[int, ...] = ()  # this instance's CPUs (empty: all of ``cpus``)
    environment: str = "own"
    input_shapes: str = "{}"  # JSON: input name -> the shape of one call's array
    options_json: str = "{}"

    @property
    def framework_label(self) -> str:
        """``onnxruntime`` or ``onnxruntime@1.31.1``."""
        return self.framework if self.framework_pin is None else f"{self.framework}@{self.framework_pin}"

    @property
    def settings(self) -> dict[str, Any]:
        """The cell's configuration columns, as a summary row holds them."""
        return {
            "model": self.model,
            "framework": self.framework,
            "framework_pin": self.framework_pin,
            "environment": self.environment,
            "scenario": self.scenario,
            "target_qps": self.target_qps,
            "latency_bound_ms": self.latency_bound_ms,
            "batch_size": self.batch_size,
            "input_shapes": self.input_shapes,
            "threads": self.threads,
            "cpus": format_cpus(self.cpus),
            "precision": self.precision,
            "options_json": self.options_json,
            "instances": self.instances,
            "mode": self.mode,
        }

    @property
    def config_id(self) -> str:
        """What the cell measures, the same for every repeat of it."""
        return config_id(self.settings)

    @property
    def cell_id(self) -> str:
        """Unique within a run: its position, its configuration, its repeat (and instance)."""
        instance = f"-i{self.instance}" if self.instances > 1 else ""
        return f"{self.index:03d}-{self.config_id}-r{self.repeat}{instance}"

    @property
    def pinned_to(self) -> tuple[int, ...]:
        """The CPUs this cell's process is pinned to: its instance's share, or all of them."""
        return self.cpu_share or self.cpus


@dataclass(frozen=True)
class Plan:
    """Everything a run needs to know, checked at construction.

    ``models`` are the names results carry (a built-in's name, a user file's stem), and
    ``specs`` their resolved specs, by name (``orchestrator.models`` makes both).
    """

    frameworks: tuple[str, ...] = tuple(FRAMEWORKS)  # each "name" or "name@VERSION"
    models: tuple[str, ...] = ("mlp",)
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    batch_sizes: tuple[int, ...] | None = None  # None: each model's default
    seq_len: int | None = None  # None: each model's default
    image_size: int | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # --shape NAME=DIMS
    threads: tuple[int, ...] | None = None  # None: one per CPU in ``cpus``
    cpus: tuple[int, ...] | None = None  # None: every allowed CPU
    scenarios: tuple[str, ...] = ("offline",)
    repeats: int = 1
    modes: tuple[str, ...] = ("isolated",)
    environment: str = "own"
    precision: str = "fp32"
    warmup: int = 50
    min_iterations: int = 200
    # Enough for any percentile; stops a 50 ns noop call from filling memory in --min-time.
    max_iterations: int = 1_000_000
    min_time_s: float = 2.0
    seed: int = 0
    output: Path = Path("results")
    timeout_s: float = 300.0
    inputs: Path | None = None  # the user's --inputs file; None: seeded random inputs
    input_rows: int | None = None  # rows in that file
    # --option: framework -> option -> the values to run (each combination is a configuration)
    options: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    tune: bool = False  # also try every other choice of every option, one at a time
    # LoadGen's scenarios: the server's offered rates (each a configuration), its latency bound,
    # the peak search, the samples of a multi-stream query, and batching under load.
    target_qps: tuple[float, ...] = ()
    latency_bound_ms: float | None = None
    find_peak: bool = False
    samples_per_query: int = 8
    max_batch: int = 1
    # N copies of each runner at once, each pinned to its own CPUs (N x threads <= CPUs).
    instances: int = 1
    _option_sets: dict[str, list[dict[str, str]]] = field(default_factory=dict, init=False, repr=False)

    @property
    def measurement(self) -> Measurement:
        """How every cell is timed: what the jobs and the summary take instead of the plan."""
        return Measurement(
            self.seed,
            self.inputs,
            self.warmup,
            self.min_iterations,
            self.max_iterations,
            self.min_time_s,
            self.timeout_s,
        )

    def __post_init__(self) -> None:
        specs = dict(self.specs)
        for name in self.models:  # built-ins resolve by name; user files come resolved
            if name not in specs and name in MODELS:
                specs[name] = load_model(name).spec
        object.__setattr__(self, "specs", specs)
        refs = self._check_frameworks()
        self._check_names("--scenario", self.scenarios, SCENARIOS)
        self._check_names("--mode", self.modes, MODES)
        self._check_names("--model", self.models, self.models)
        if self.precision not in PRECISIONS:
            raise PlanError("--precision", f"expected one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.environment not in ENVIRONMENTS:
            raise PlanError(
                "--environment", f"expected one of {', '.join(ENVIRONMENTS)}, got {self.environment!r}"
            )
        if "in-process" in self.modes and any(ref.version for ref in refs):
            raise PlanError(
                "--frameworks", "framework@VERSION cannot run in-process: one process holds one version"
            )
        if self.environment != "own" and any(ref.version for ref in refs):
            raise PlanError(
                "--frameworks", f"framework@VERSION needs --environment own, not {self.environment}"
            )
        allowed = allowed_cpus()
        cpus = allowed if self.cpus is None else tuple(sorted(set(self.cpus)))
        if not cpus:
            raise PlanError("--cpus", "expected at least one CPU")
        outside = [c for c in cpus if c not in allowed]
        if outside:
            raise PlanError("--cpus", f"CPU {outside[0]} is not in the allowed set {format_cpus(allowed)}")
        object.__setattr__(self, "cpus", cpus)
        if self.instances < 1:
            raise PlanError("--instances", f"expected a positive number, got {self.instances}")
        if self.threads is None:  # one per CPU of an instance's share
            object.__setattr__(self, "threads", (max(1, len(cpus) // self.instances),))
        assert self.threads is not None
        # One instance may oversubscribe (warned as contention); copies must not share CPUs.
        if self.instances > 1 and self.instances * max(self.threads) > len(cpus):
            raise PlanError(
                "--instances",
                f"{self.instances} instances x {max(self.threads)} threads need "
                f"{self.instances * max(self.threads)} CPUs; --cpus has {len(cpus)}",
            )
        if self.instances > 1 and "in-process" in self.modes:
            raise PlanError("--instances", "runs copies in processes of their own; not with --in-process")
        batch_sizes = (1,) if self.batch_sizes is None else self.batch_sizes  # None: the models' own
        for flag, values in (("--batch-size", batch_sizes), ("--threads", self.threads)):
            if not values or any(not isinstance(v, int) or v < 1 for v in values or ()):
                raise PlanError(flag, f"expected positive integers, got {values!r}")
            duplicate = _first_duplicate(values)
            if duplicate is not None:
                raise PlanError(flag, f"{duplicate} is given twice")
        for flag, value in (("--min-iterations", self.min_iterations), ("--repeats", self.repeats)):
            if not isinstance(value, int) or value < 1:
                raise PlanError(flag, f"expected a positive integer, got {value!r}")
        if self.max_iterations < self.min_iterations:
            raise PlanError(
                "--max-iterations",
                f"expected at least --min-iterations ({self.min_iterations}), got {self.max_iterations}",
            )
        if self.warmup < 0:
            raise PlanError("--warmup", f"expected zero or more iterations, got {self.warmup}")
        if self.min_time_s < 0:
            raise PlanError("--min-time", f"expected zero or more seconds, got {self.min_time_s}")
        if not self.timeout_s > 0:
            raise PlanError("--timeout", f"expected a positive number of seconds, got {self.timeout_s}")
        self._check_load()
        if self.inputs is not None and len(self.models) > 1:
            raise PlanError("--inputs", "one file of inputs fits one model; run one --model at a time")
        if self.batch_sizes is not None and not set(BATCHED_SCENARIOS) & set(self.scenarios):
            raise PlanError(
                "--batch-size",
                f"no scenario of this run takes a batch ({', '.join(self.scenarios)}: single-stream "
                f"calls one sample at a time); it sets the call of {' and '.join(BATCHED_SCENARIOS)}",
            )
        for name in self.models:
            self._check_model(name)
        try:
            sets = option_sets(list(dict.fromkeys(ref.name for ref in refs)), self.options, self.tune)
        except OptionError as exc:
            raise PlanError("--option", str(exc)) from None
        object.__setattr__(self, "_option_sets", sets)

    def option_sets_for(self, framework: str) -> list[dict[str, str]]:
        """The option sets ``framework``'s cells run (one, its defaults, unless --option or --tune)."""
        sets: dict[str, list[dict[str, str]]] = self._option_sets
        return sets.get(framework, [{}])

    def _check_load(self) -> None:
        """The LoadGen settings fit the scenarios asked for."""
        server = "server" in self.scenarios
        if server and self.latency_bound_ms is None:
            raise PlanError(
                "--latency-bound-ms", "the server scenario needs the latency its p99 must stay under"
            )
        if server and not self.target_qps and not self.find_peak:
            raise PlanError("--target-qps", "the server scenario needs a rate to offer (or --find-peak)")
        if not server and (self.target_qps or self.find_peak or self.latency_bound_ms is not None):
            flag = (
                "--target-qps"
                if self.target_qps
                else "--find-peak"
                if self.find_peak
                else "--latency-bound-ms"
            )
            raise PlanError(flag, "is for the server scenario (--scenario server)")
        if any(not q > 0 for q in self.target_qps) or (
            self.latency_bound_ms is not None and not self.latency_bound_ms > 0
        ):
            raise PlanError("--target-qps", "expected positive rates and a positive latency bound")
        duplicate = _first_duplicate(self.target_qps)
        if duplicate is not None:
            raise PlanError("--target-qps", f"{duplicate:g} is given twice")
        batching = {"server", "loadgen-offline"} & set(self.scenarios)
        if self.max_batch > 1 and not batching:
            raise PlanError("--max-batch", "batches queued queries under load: for server or loadgen-offline")
        if self.samples_per_query != 8 and "multi-stream" not in self.scenarios:
            raise PlanError("--samples-per-query", "is for the multi-stream scenario")
        if self.max_batch < 1 or self.samples_per_query < 1:
            raise PlanError("--max-batch", "expected a positive number of samples")

    def call_batches(self, model: str, scenario: str) -> tuple[int, ...]:
        """The batch of one model call in ``scenario``: the offline sizes, one sample, the samples
        of a multi-stream query, or a server's --max-batch (a short batch is padded up to it)."""
        if scenario in ("offline", "loadgen-offline"):
            return self.batch_sizes_for(model)
        if scenario == "multi-stream":
            return (self.samples_per_query,)
        if scenario in ("server", "server-peak"):
            return (self.max_batch,)
        return (1,)

    def cell_scenarios(self) -> list[str]:
        """The scenarios cells run: --scenario's, the server's as a rate, a peak search, or both."""
        found: list[str] = []
        for scenario in self.scenarios:
            if scenario == "server":
                found += ["server"] if self.target_qps else []
                found += ["server-peak"] if self.find_peak else []
            else:
                found.append(scenario)
        return found

    def loads(self, scenario: str) -> list[tuple[float | None, float | None]]:
        """(target QPS, latency bound) of each configuration of ``scenario``."""
        if scenario == "server":
            return [(qps, self.latency_bound_ms) for qps in self.target_qps]
        if scenario == "server-peak":
            return [(None, self.latency_bound_ms)]
        return [(None, None)]

    def _check_frameworks(self) -> list[FrameworkRef]:
        if not self.frameworks:
            raise PlanError("--frameworks", "expected at least one name")
        refs = [FrameworkRef.parse(text) for text in self.frameworks]
        shown = ", ".join(FRAMEWORKS)
        known = all_runners()
        for ref in refs:
            if ref.name not in known:
                close = [name for name in known if name.startswith(ref.name[:3])]
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise PlanError(
                    "--frameworks", f"unknown name {ref.name!r}{hint}; expected one of {shown}, noop"
                )
            if ref.version is not None and ref.name not in FRAMEWORKS:
                raise PlanError("--frameworks", f"{ref.name} has no versions: it is not a framework")
        duplicate = _first_duplicate([ref.label for ref in refs])
        if duplicate is not None:
            raise PlanError("--frameworks", f"{duplicate} is given twice")
        return refs

    @staticmethod
    def _check_names(flag: str, names: tuple[str, ...], known: tuple[str, ...]) -> None:
        if not names:
            raise PlanError(flag, "expected at least one name")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise PlanError(flag, f"unknown name {unknown[0]!r}; expected one of {', '.join(known)}")
        duplicate = _first_duplicate(names)
        if duplicate is not None:
            raise PlanError(flag, f"{duplicate} is given twice")

    def _check_model(self, name: str) -> None:
        spec = self.spec(name)
        if spec.fixed_batch is not None:
            wrong = [
                b for b in self.batch_sizes_for(name) if b != spec.fixed_batch and "offline" in self.scenarios
            ]
            if wrong or ("single-stream" in self.scenarios and spec.fixed_batch != 1):
                flag = "--batch-size" if wrong else "--scenario"
                raise PlanError(
                    flag, f"model {name} takes a fixed batch of {spec.fixed_batch} (its file says so)"
                )
        for batch in self.batch_sizes_for(name):
            shapes = self.call_shapes(name, batch)  # raises for a dim no flag fills
            del shapes
        rows = self.rows(name)
        if self.input_rows is not None and "offline" in self.scenarios:
            largest = max(self.batch_sizes_for(name))
            if largest > self.input_rows:
                raise PlanError(
                    "--batch-size", f"{largest} exceeds the {self.input_rows} rows of --inputs {self.inputs}"
                )
        self._check_memory(name, spec, rows)

    def _check_memory(self, name: str, spec: ModelSpec, rows: int) -> None:
        """Refuse inputs that cannot fit, before anything is written: this process makes them
        in numpy, converts them to Arrow and writes them (about 3x), a runner loads its own
        copy (1x), under the least of the machine's memory, RLIMIT_AS/DATA and the cgroup."""
        sample_bytes = sum(
            math.prod(shape[1:]) * np.dtype(item.dtype).itemsize
            for item, shape in zip(spec.inputs, self.call_shapes(name, 1).values())
        )
        inputs = rows * sample_bytes
        need = _COPIES_OF_INPUTS * inputs
        budget = memory_budget()
        if need > budget.available_bytes:
            raise PlanError(
                "--batch-size",
                f"model {name}: {rows:,} samples of inputs take {inputs / 2**20:,.0f} MB and a run holds "
                f"~{_COPIES_OF_INPUTS}x that ({need / 2**20:,.0f} MB), more than the {budget.describe()}",
            )

    def spec(self, name: str) -> ModelSpec:
        """The resolved spec of model ``name``."""
        try:
            return self.specs[name]
        except KeyError:
            raise PlanError(
                "--model", f"unknown model {name!r}; expected one of {', '.join(MODELS)}, or a model file"
            ) from None

    def batch_sizes_for(self, name: str) -> tuple[int, ...]:
        """The offline batch sizes of model ``name``: --batch-size, else the model's default."""
        return self.batch_sizes or (int(self.spec(name).default_dims.get("batch", 1)),)

    def dims_for(self, name: str, batch: int) -> dict[str, int]:
        """Every symbolic dim's value for model ``name`` at ``batch`` samples per call: the
        model's defaults, then the flags (--seq-len fills every dim it stands for, a file's
        ``tokens`` as the built-ins' ``seq``), then --shape DIM=N by a flag's symbol, then by
        the dim's own name."""
        spec = self.spec(name)
        dims = {key: int(value) for key, value in spec.default_dims.items()}
        flags = {"seq": self.seq_len, "image": self.image_size}
        by_symbol = {  # --shape SYMBOL=N fills that dim wherever it appears
            key: value[0]
            for key, value in self.shapes.items()
            if len(value) == 1 and key not in spec.input_names()
        }
        for dim in {dim for item in spec.inputs for dim in item.symbols()}:
            symbol = spec.flag_symbol(dim)
            for value in (flags.get(symbol), by_symbol.get(symbol), by_symbol.get(dim)):
                if value is not None:
                    dims[dim] = value
        dims["batch"] = batch
        return dims

    def call_shapes(self, name: str, batch: int) -> dict[str, tuple[int, ...]]:
        """Each input's shape for one call of ``batch`` samples; PlanError names an unfilled dim."""
        spec = self.spec(name)
        self._check_shape_keys(name, spec)
        dims = self.dims_for(name, batch)
        shapes: dict[str, tuple[int, ...]] = {}
        for item in spec.inputs:
            if item.name in self.shapes:
                shapes[item.name] = (batch, *self._given_shape(name, item))
                continue
            missing = [dim for dim in item.symbols() if dim not in dims]
            if missing:
                flag = DIM_FLAGS.get(spec.flag_symbol(missing[0]))
                how = f"{flag}, " if flag else ""
                raise PlanError(
                    "--shape",
                    f"model {name}: input {item.name!r} has a dynamic dim {missing[0]!r} that no flag fills; "
                    f"give {how}--shape {missing[0]}=N or --shape {item.name}={_dims_text(item.dims[1:])}",
                )
            shapes[item.name] = item.shape(dims)
        for item in spec.inputs:
            self._check_largest(name, spec, item, shapes[item.name])
        return shapes

    def _check_largest(self, name: str, spec: ModelSpec, item: InputSpec, shape: tuple[int, ...]) -> None:
        """No dim beyond the largest the model takes (DistilBERT's position embeddings)."""
        for dim, value in zip(item.dims, shape):
            if isinstance(dim, int) or value <= spec.max_dims.get(dim, value):
                continue
            flag = "--shape" if item.name in self.shapes else DIM_FLAGS.get(spec.flag_symbol(dim), "--shape")
            raise PlanError(
                flag,
                f"model {name} takes at most {spec.max_dims[dim]} for {dim!r} of {item.name!r}, got {value}",
            )

    def _given_shape(self, name: str, item: InputSpec) -> tuple[int, ...]:
        """--shape INPUT=DIMS, checked against the dims the model fixes."""
        sample = self.shapes[item.name]
        given = f"{item.name}={'x'.join(map(str, sample))}"
        if len(sample) != len(item.dims) - 1:
            raise PlanError(
                "--shape",
                f"{given} has {len(sample)} dims; model {name} "
                f"takes {len(item.dims) - 1} per sample ({_dims_text(item.dims[1:])})",
            )
        for axis, (fixed, value) in enumerate(zip(item.dims[1:], sample), start=1):
            if isinstance(fixed, int) and fixed != value:
                raise PlanError(
                    "--shape",
                    f"{given}: model {name} fixes dim {axis} of {item.name!r} at {fixed} "
                    f"({_dims_text(item.dims[1:])})",
                )
        return sample

    def _check_shape_keys(self, name: str, spec: ModelSpec) -> None:
        """Every --shape key names an input or an open dim (by its own name or a flag's symbol),
        and none the batch, which --batch-size sets."""
        symbols = {dim for item in spec.inputs for dim in item.symbols()}
        for key in self.shapes:
            if key in spec.input_names():
                continue
            if key == "batch" or spec.dim_flags.get(key) == "batch":
                raise PlanError("--shape", f"{key} is the batch axis of model {name}; give --batch-size")
            known = symbols | {spec.flag_symbol(dim) for dim in symbols}
            if key not in known and len(self.models) == 1:  # with several models, a key may be another's
                dims = ", ".join(sorted(symbols - {"batch"})) or "none"
                raise PlanError(
                    "--shape",
                    f"model {name} has no input or dim {key!r}; its inputs: "
                    f"{', '.join(spec.input_names())}; its open dims: {dims}",
                )

    def rows(self, name: str) -> int:
        """Samples of inputs model ``name`` needs: the largest offline batch, or the single-stream
        samples, whichever is more (the user's file's rows when --inputs is given)."""
        if self.input_rows:
            return self.input_rows
        wanted = [1]
        for scenario in self.cell_scenarios():
            wanted += self.call_batches(name, scenario)
            if scenario != "offline":  # the samples a single stream cycles through, or LoadGen's pool
                wanted.append(self.spec(name).single_stream_samples)
        return max(wanted)

    def environment_for(self) -> str:
        """The environment every cell runs in: in-process cells need one environment that holds
        every framework, and --compare-isolation compares both modes in that same one."""
        if self.environment == "own" and "in-process" in self.modes:
            return "shared"
        return self.environment

    def cells(self) -> list[Cell]:
        """Every cell, in run order.

        Frameworks vary fastest and repeats slowest (A B C A B C, never A A B B C C), so that
        drift on the machine touches every framework alike.
        """
        assert self.threads is not None and self.cpus is not None
        refs = [FrameworkRef.parse(text) for text in self.frameworks]
        cells: list[Cell] = []
        for mode in self.modes:
            for repeat in range(self.repeats):
                for model in self.models:
                    for scenario, (qps, bound) in [
                        (sc, load) for sc in self.cell_scenarios() for load in self.loads(sc)
                    ]:
                        for batch_size in self.call_batches(model, scenario):
                            shapes = json.dumps(
                                {k: list(v) for k, v in self.call_shapes(model, batch_size).items()}
                            )
                            for threads in self.threads:
                                for ref in refs:
                                    for options, instance in [
                                        (o, i)
                                        for o in self.option_sets_for(ref.name)
                                        for i in range(self.instances)
                                    ]:
                                        cells.append(
                                            Cell(
                                                index=len(cells),
                                                instances=self.instances,
                                                instance=instance,
                                                cpu_share=self.cpus[
                                                    instance * threads : (instance + 1) * threads
                                                ]
                                                if self.instances > 1
                                                else (),
                                                framework=ref.name,
                                                framework_pin=ref.version,
                                                scenario=scenario,
                                                batch_size=batch_size,
                                                threads=threads,
                                                cpus=self.cpus,
                                                precision=self.precision,
                                                mode=mode,
                                                repeat=repeat,
                                                model=model,
                                                environment=self.environment_for(),
                                                input_shapes=shapes,
                                                options_json=as_json(options),
                                                target_qps=qps,
                                                latency_bound_ms=bound,
                                            )
                                        )
        return cells

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in the run directory as plan.json."""
        data: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("specs", "output", "inputs", "shapes", "options", "_option_sets")
        }
        data["options"] = {fw: {k: list(v) for k, v in keys.items()} for fw, keys in self.options.items()}
        data["output"] = str(self.output)
        data["inputs"] = None if self.inputs is None else str(self.inputs)
        data["shapes"] = {key: list(value) for key, value in self.shapes.items()}
        data["environment_used"] = self.environment_for()
        data["cells"] = [
            {**cell.settings, "cpus": list(cell.cpus), "repeat": cell.repeat, "cell_id": cell.cell_id}
            for cell in self.cells()
        ]
        return data


def _first_duplicate(values: Any) -> Any:
    seen = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


def _dims_text(dims: tuple[int | str, ...]) -> str:
    return "x".join(str(dim) if isinstance(dim, int) else dim.upper() for dim in dims) or "scalar"


def launch_groups(cells: list[Cell]) -> list[list[Cell]]:
    """The cells each worker process runs, in run order.

    An isolated cell has a process to itself; the in-process cells of one repeat and one
    configuration but the framework share one worker, in plan order. (A worker cannot change
    PyTorch's or TensorFlow's thread pools once set.)
    """
    groups: list[list[Cell]] = []
    shared: dict[tuple[Any, ...], list[Cell]] = {}
    for cell in cells:
        if cell.mode == "isolated":
            groups.append([cell])
            continue
        settings = cell.settings
        key = (cell.repeat, *(v for k, v in settings.items() if k not in CONTENDER_COLUMNS))
        if key not in shared:
            shared[key] = []
            groups.append(shared[key])
        shared[key].append(cell)
    return groups


def format_cpus(cpus: tuple[int, ...] | list[int]) -> str:
    """CPUs as a comma list, as --cpus takes them."""
    return ",".join(str(c) for c in cpus)
