"""The benchmark plan: validated settings, expanded into cells, frozen before anything runs.

The rules live beside it, one concern a module: validation.py (the settings), scenarios.py
(what each scenario takes and expands into), shapes.py (each input's shape), cells.py (the
cells and their worker groups); the plan holds the settings and asks them.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.registry import MODELS, load_model
from models.spec import ModelSpec
from orchestrator.host import allowed_cpus, memory_budget
from orchestrator.plan import scenarios as scenario_rules
from orchestrator.plan.cells import Cell
from orchestrator.plan.errors import PlanError
from orchestrator.plan.framework_refs import FrameworkRef
from orchestrator.plan.measurement import Measurement
from orchestrator.plan.options import OptionError, as_json, for_precision, option_sets
from orchestrator.plan.scenarios import BATCHED_SCENARIOS, SCENARIOS
from orchestrator.plan.shapes import ShapeFlags
from orchestrator.plan.validation import (
    MODES,
    check_choices,
    check_counts,
    check_cpus,
    check_frameworks,
    check_memory,
    check_names,
)
from runners.registry import FRAMEWORKS
from schemas.precisions import in_run_order
from schemas.scenarios import DEFAULT as DEFAULT_SCENARIO
from schemas.scenarios import scenario as record


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
    scenarios: tuple[str, ...] = (DEFAULT_SCENARIO,)
    repeats: int = 1
    modes: tuple[str, ...] = ("isolated",)
    environment: str = "own"
    # Each a configuration of its own (swept like --threads), run in schemas.precisions' order.
    precisions: tuple[str, ...] = ("fp32",)
    warmup: int = 50
    min_iterations: int = 200
    # Enough for any percentile; stops a 50 ns noop call from filling memory in --min-time.
    max_iterations: int = 1_000_000
    min_time_s: float = 2.0
    seed: int = 0
    # Samples of the seeded calibration set an int8 cell's quantizer calibrates on (written only
    # when a cell quantizes). 64: ranges of min/max calibration settle within a few dozen samples
    # of inputs drawn like these, ResNet-50's set is 38 MB, and a quantizer's calibration on 2
    # CPUs stays within seconds; NNCF's default of 300 is meant for real data sets.
    calibration_samples: int = 64
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
        refs = check_frameworks(self.frameworks)
        check_names("--scenario", self.scenarios, SCENARIOS)
        check_names("--mode", self.modes, MODES)
        check_names("--model", self.models, self.models)
        check_choices(precisions=self.precisions, environment=self.environment, modes=self.modes, refs=refs)
        object.__setattr__(self, "precisions", in_run_order(self.precisions))
        cpus, threads = check_cpus(
            self.cpus,
            allowed=allowed_cpus(),
            instances=self.instances,
            threads=self.threads,
            modes=self.modes,
        )
        object.__setattr__(self, "cpus", cpus)
        object.__setattr__(self, "threads", threads)
        check_counts(
            batch_sizes=(1,) if self.batch_sizes is None else self.batch_sizes,  # None: the models' own
            threads=threads,
            min_iterations=self.min_iterations,
            max_iterations=self.max_iterations,
            repeats=self.repeats,
            warmup=self.warmup,
            min_time_s=self.min_time_s,
            timeout_s=self.timeout_s,
            calibration_samples=self.calibration_samples,
        )
        self._check_scenarios()
        for name in self.models:
            self._check_model(name)
        try:
            sets = option_sets(list(dict.fromkeys(ref.name for ref in refs)), self.options, self.tune)
        except OptionError as exc:
            raise PlanError("--option", str(exc)) from None
        object.__setattr__(self, "_option_sets", sets)

    def option_sets_for(self, framework: str, precision: str | None = None) -> list[dict[str, str]]:
        """The option sets ``framework``'s cells run (one, its defaults, unless --option or --tune);
        at ``precision``, only the options that apply to it."""
        sets: dict[str, list[dict[str, str]]] = self._option_sets
        found = sets.get(framework, [{}])
        return found if precision is None else for_precision(framework, found, precision)

    def _check_scenarios(self) -> None:
        """The load flags fit the scenarios; --inputs and --batch-size have one to apply to."""
        scenario_rules.check_load(
            self.scenarios,
            target_qps=self.target_qps,
            find_peak=self.find_peak,
            latency_bound_ms=self.latency_bound_ms,
            max_batch=self.max_batch,
            samples_per_query=self.samples_per_query,
        )
        if self.inputs is not None and len(self.models) > 1:
            raise PlanError("--inputs", "one file of inputs fits one model; run one --model at a time")
        if self.batch_sizes is not None and not set(BATCHED_SCENARIOS) & set(self.scenarios):
            raise PlanError(
                "--batch-size",
                f"no scenario of this run takes a batch ({', '.join(self.scenarios)}: single-stream "
                f"calls one sample at a time); it sets the call of {' and '.join(BATCHED_SCENARIOS)}",
            )

    def call_batches(self, model: str, scenario: str) -> tuple[int, ...]:
        """The batch of one model call in ``scenario`` (scenarios.call_batches)."""
        return scenario_rules.call_batches(
            scenario,
            batch_sizes=self.batch_sizes_for(model),
            samples_per_query=self.samples_per_query,
            max_batch=self.max_batch,
        )

    def cell_scenarios(self) -> list[str]:
        """The scenarios cells run: --scenario's, the server's as a rate, a peak search, or both."""
        return scenario_rules.cell_scenarios(
            self.scenarios, target_qps=self.target_qps, find_peak=self.find_peak
        )

    def loads(self, scenario: str) -> list[tuple[float | None, float | None]]:
        """(target QPS, latency bound) of each configuration of ``scenario``."""
        return scenario_rules.loads(
            scenario, target_qps=self.target_qps, latency_bound_ms=self.latency_bound_ms
        )

    def _check_fixed_batch(self, name: str) -> None:
        """A model file with a fixed batch fits the tool's own loops' calls: --batch-size's for
        a batched loop, one sample for a cycling one (the flag named is the one to change)."""
        fixed = self.spec(name).fixed_batch
        if fixed is None:
            return
        own = [record(s) for s in self.scenarios if record(s).loadgen is None]
        misfits = [row for row in own if any(b != fixed for b in self.call_batches(name, row.name))]
        if misfits:
            flag = "--batch-size" if any(row.batch == "batch-size" for row in misfits) else "--scenario"
            raise PlanError(flag, f"model {name} takes a fixed batch of {fixed} (its file says so)")

    def _check_model(self, name: str) -> None:
        spec = self.spec(name)
        self._check_fixed_batch(name)
        for batch in self.batch_sizes_for(name):
            shapes = self.call_shapes(name, batch)  # raises for a dim no flag fills
            del shapes
        rows = self.rows(name)
        if self.input_rows is not None and any(record(s).batch_loop for s in self.scenarios):
            largest = max(self.batch_sizes_for(name))
            if largest > self.input_rows:
                raise PlanError(
                    "--batch-size", f"{largest} exceeds the {self.input_rows} rows of --inputs {self.inputs}"
                )
        check_memory(name, spec, rows, list(self.call_shapes(name, 1).values()), memory_budget())

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

    @property
    def _shape_flags(self) -> ShapeFlags:
        return ShapeFlags(self.seq_len, self.image_size, self.shapes, one_model=len(self.models) == 1)

    def dims_for(self, name: str, batch: int) -> dict[str, int]:
        """Every symbolic dim's value for model ``name`` at ``batch`` samples per call."""
        return self._shape_flags.dims_for(self.spec(name), batch)

    def call_shapes(self, name: str, batch: int) -> dict[str, tuple[int, ...]]:
        """Each input's shape for one call of ``batch`` samples; PlanError names an unfilled dim."""
        return self._shape_flags.call_shapes(name, self.spec(name), batch)

    def rows(self, name: str) -> int:
        """Samples of inputs model ``name`` needs: the largest offline batch, or the single-stream
        samples, whichever is more (the user's file's rows when --inputs is given)."""
        if self.input_rows:
            return self.input_rows
        wanted = [1]
        for scenario in self.cell_scenarios():
            wanted += self.call_batches(name, scenario)
            if record(scenario).draws_samples:  # a single stream's samples, or LoadGen's pool
                wanted.append(self.spec(name).single_stream_samples)
        return max(wanted)

    def environment_for(self) -> str:
        """The environment every cell runs in: in-process cells need one environment that holds
        every framework, and --compare-isolation compares both modes in that same one."""
        if self.environment == "own" and "in-process" in self.modes:
            return "shared"
        return self.environment

    def configurations(self) -> list[dict[str, Any]]:
        """Each configuration a repeat measures, in run order, as Cell's keyword arguments but the
        position, the mode and the repeat: frameworks (and their instances) vary fastest."""
        assert self.threads is not None and self.cpus is not None
        cpus, threads_each = self.cpus, self.threads
        refs = [FrameworkRef.parse(text) for text in self.frameworks]
        found: list[dict[str, Any]] = []
        for model in self.models:
            for scenario in self.cell_scenarios():
                for (qps, bound), batch_size in itertools.product(
                    self.loads(scenario), self.call_batches(model, scenario)
                ):
                    shapes = json.dumps({k: list(v) for k, v in self.call_shapes(model, batch_size).items()})
                    for threads, precision, ref in itertools.product(threads_each, self.precisions, refs):
                        for options, instance in itertools.product(
                            self.option_sets_for(ref.name, precision), range(self.instances)
                        ):
                            share = cpus[instance * threads : (instance + 1) * threads]
                            found.append(
                                dict(
                                    instances=self.instances,
                                    instance=instance,
                                    cpu_share=share if self.instances > 1 else (),
                                    framework=ref.name,
                                    framework_pin=ref.version,
                                    scenario=scenario,
                                    batch_size=batch_size,
                                    threads=threads,
                                    cpus=cpus,
                                    precision=precision,
                                    model=model,
                                    environment=self.environment_for(),
                                    input_shapes=shapes,
                                    options_json=as_json(options),
                                    target_qps=qps,
                                    latency_bound_ms=bound,
                                )
                            )
        return found

    def cells(self) -> list[Cell]:
        """Every cell, in run order.

        Frameworks vary fastest and repeats slowest (A B C A B C, never A A B B C C), so that
        drift on the machine touches every framework alike.
        """
        configurations = self.configurations()
        cells: list[Cell] = []
        for mode in self.modes:
            for repeat in range(self.repeats):
                for settings in configurations:
                    cells.append(Cell(index=len(cells), mode=mode, repeat=repeat, **settings))
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
