"""What a model takes and how its outputs are judged: named inputs, dims, tolerance.

Stdlib, numpy and schemas only: read by the parent when it plans a run and by every runner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas.precisions import INT8_PRECISIONS

# Input dtypes a model may declare, as numpy names.
DTYPES = ("float32", "float16", "int64", "int32", "bool")


@dataclass(frozen=True)
class InputSpec:
    """One named input: its dtype and shape, where a dim is a number or a symbol to fill.

    Symbols: ``batch`` (from --batch-size), ``seq`` (--seq-len), ``image`` (--image-size) or any
    other name -- a user's file's own, which ``--shape NAME=N`` fills, and a flag too where
    :attr:`ModelSpec.dim_flags` says so. ``values`` says what valid data
    looks like: ``uniform`` floats in [0, 1), ``normal`` floats, ``tokens`` (ids below the
    vocabulary size), ``ones`` (an attention mask with nothing masked).
    """

    name: str
    dtype: str
    dims: tuple[int | str, ...]
    values: str = "uniform"
    high: int | None = None  # exclusive upper bound of ``tokens``

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"input {self.name!r}: dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if not self.dims or self.dims[0] != "batch":
            raise ValueError(f"input {self.name!r}: the first dim must be the batch")
        if self.values == "tokens" and not self.high:
            raise ValueError(f"input {self.name!r}: token ids need their vocabulary size")

    def shape(self, dims: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete shape once every symbol has a value; KeyError names a missing one."""
        return tuple(dim if isinstance(dim, int) else dims[dim] for dim in self.dims)

    def symbols(self) -> list[str]:
        """The dims still to be filled."""
        return [dim for dim in self.dims if isinstance(dim, str)]


@dataclass(frozen=True)
class Tolerance:
    """A model's acceptance at one precision: how far a framework's outputs may be from the
    reference and still count as the same model.

    ``absolute`` in output units, ``relative`` to the largest reference output; a cell passes
    when its largest difference is within ``absolute + relative * max|reference|`` (``absolute``
    infinite: the difference is not bounded, the floors judge). The floors bound the fidelity
    figures (orchestrator/figures/fidelity.py; None: not judged): ``min_sqnr_db`` the
    signal-to-quantization-noise ratio over every output, ``min_top1_agreement`` (0..1) the
    share of samples whose class is the reference's, where the model names a :class:`TopOne`;
    ``min_accuracy_ratio`` (0..1) the accuracy on held-out labels over the float64 reference's
    on the same samples, for a model with labels (MLPerf holds int8 to 0.99 of fp32's).
    """

    absolute: float = 0.0
    relative: float = 0.0
    min_sqnr_db: float | None = None
    min_top1_agreement: float | None = None
    min_accuracy_ratio: float | None = None

    def limit(self, reference: np.ndarray) -> float:
        """The largest absolute difference allowed against ``reference`` (inf: unbounded)."""
        if math.isinf(self.absolute):
            return math.inf
        scale = float(np.max(np.abs(reference))) if reference.size else 0.0
        return self.absolute + self.relative * scale


@dataclass(frozen=True)
class TopOne:
    """How one sample's output names a class, for the top-1 agreement with the reference.

    ``threshold``: a single sigmoid output, class 1 above ``threshold``. ``argmax``: logits, the
    largest one's index. ``head``: an output with no classes of its own (an encoder's hidden
    states): a fixed linear head of ``classes`` outputs, drawn from ``seed``, applied to the
    sample's first ``width`` values (its first token's hidden state), then the argmax.
    """

    rule: str
    threshold: float = 0.5
    width: int = 0
    classes: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rule not in ("threshold", "argmax", "head"):
            raise ValueError(f"top-1 rule {self.rule!r} is not one of threshold, argmax, head")
        if self.rule == "head" and (self.width < 1 or self.classes < 2):
            raise ValueError("a head needs the width it reads and at least two classes")


@dataclass(frozen=True)
class Flops:
    """FLOPs (2 x multiply-adds) of one sample at a cell's own input shapes, and how they were
    found -- or ``None`` and why they could not be."""

    per_sample: float | None
    basis: str


def sample_dims(shapes: Mapping[str, tuple[int, ...]]) -> str:
    """One sample's shape of each input, for a :class:`Flops` basis: ``input_ids 32, pixels 3x224x224``."""
    return ", ".join(f"{name} {'x'.join(map(str, shape[1:])) or 'scalar'}" for name, shape in shapes.items())


@dataclass(frozen=True)
class ModelSpec:
    """Everything about a model the parent plans with; recorded in the results."""

    name: str
    description: str
    inputs: tuple[InputSpec, ...]
    output: str  # the name of the output every framework's result is compared on
    default_dims: Mapping[str, int] = field(default_factory=dict)  # batch, seq, image, ...
    # Distinct samples the single-stream scenario cycles through (one per call).
    single_stream_samples: int = 16
    # Rows of the reference that parity checks (the reference of a large model is slow).
    reference_rows: int = 4
    tolerance: Mapping[str, Tolerance] = field(default_factory=dict)  # per precision: see acceptance()
    top1: TopOne | None = None  # how a sample's output names a class; None: not a classifier
    parameters: int | None = None
    source: str = "built-in"  # or the user's file
    source_sha256: str | None = None
    layout: str | None = None  # e.g. NCHW: the layout of the inputs as stored
    fixed_batch: int | None = None  # a model file whose batch axis is not open takes only this one
    # A dim's own name (as the user's file spells it) -> the symbol whose flag fills it: "batch"
    # (--batch-size), "seq" (--seq-len) or "image" (--image-size). A name not here is filled by
    # --shape NAME=N only; the built-ins' symbols are the flags' own.
    dim_flags: Mapping[str, str] = field(default_factory=dict)
    # The largest value a dim takes, by symbol: DistilBERT's sequence stops at its position
    # embeddings (a longer one fails in every framework, and in the ONNX export first).
    max_dims: Mapping[str, int] = field(default_factory=dict)

    def acceptance(self, precision: str) -> Tolerance | None:
        """The tolerance that judges a cell at ``precision``: the model's own for it, an int8
        flavour's falling back to plain int8's; None where the model declares none."""
        if precision in self.tolerance:
            return self.tolerance[precision]
        return self.tolerance.get("int8") if precision in INT8_PRECISIONS else None

    def flag_symbol(self, dim: str) -> str:
        """The symbol whose flag fills ``dim``: ``seq`` for a file's ``tokens``, else the dim's own."""
        return self.dim_flags.get(dim, dim)

    def input_names(self) -> list[str]:
        """The inputs, in the model's order."""
        return [spec.name for spec in self.inputs]

    def shapes(
        self, dims: Mapping[str, int], overrides: Mapping[str, tuple[int, ...]]
    ) -> dict[str, tuple[int, ...]]:
        """Each input's concrete shape: ``overrides`` (from --shape) first, then ``dims``."""
        return {spec.name: overrides.get(spec.name) or spec.shape(dims) for spec in self.inputs}

    def per_sample_elements(self, shapes: Mapping[str, tuple[int, ...]]) -> int:
        """Input elements of one sample, summed over the inputs."""
        return sum(math.prod(shape[1:]) for shape in shapes.values())


def as_json_ready(spec: ModelSpec) -> dict[str, Any]:
    """The spec as plain data, for plan.json and the results."""
    return {
        "name": spec.name,
        "description": spec.description,
        "source": spec.source,
        "source_sha256": spec.source_sha256,
        "parameters": spec.parameters,
        "output": spec.output,
        "layout": spec.layout,
        "inputs": [
            {"name": s.name, "dtype": s.dtype, "dims": list(s.dims), "values": s.values} for s in spec.inputs
        ],
    }
