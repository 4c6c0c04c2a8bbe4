"""Each model input's shape at a call's batch: the model's own dims, filled by the flags
(--seq-len, --image-size, --shape NAME=DIMS), each checked against what the model takes."""

from __future__ import annotations

from dataclasses import dataclass

from models.spec import InputSpec, ModelSpec
from orchestrator.plan.errors import PlanError

# Flags that fill a model's symbolic dims, by symbol.
DIM_FLAGS = {"batch": "--batch-size", "seq": "--seq-len", "image": "--image-size"}


@dataclass(frozen=True)
class ShapeFlags:
    """The flags that fill a model's dims. ``one_model``: the run has one model, so a --shape
    key that names none of its inputs or dims is a mistake (with several, it may be another's)."""

    seq_len: int | None
    image_size: int | None
    shapes: dict[str, tuple[int, ...]]  # --shape NAME=DIMS
    one_model: bool

    def dims_for(self, spec: ModelSpec, batch: int) -> dict[str, int]:
        """Every symbolic dim's value for ``spec`` at ``batch`` samples per call: the model's
        defaults, then the flags (--seq-len fills every dim it stands for, a file's ``tokens``
        as the built-ins' ``seq``), then --shape DIM=N by a flag's symbol, then by the dim's
        own name."""
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

    def call_shapes(self, name: str, spec: ModelSpec, batch: int) -> dict[str, tuple[int, ...]]:
        """Each input's shape for one call of ``batch`` samples; PlanError names an unfilled dim."""
        self._check_shape_keys(name, spec)
        dims = self.dims_for(spec, batch)
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
                    f"give {how}--shape {missing[0]}=N or --shape {item.name}={dims_text(item.dims[1:])}",
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
                f"takes {len(item.dims) - 1} per sample ({dims_text(item.dims[1:])})",
            )
        for axis, (fixed, value) in enumerate(zip(item.dims[1:], sample), start=1):
            if isinstance(fixed, int) and fixed != value:
                raise PlanError(
                    "--shape",
                    f"{given}: model {name} fixes dim {axis} of {item.name!r} at {fixed} "
                    f"({dims_text(item.dims[1:])})",
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
            if key not in known and self.one_model:
                dims = ", ".join(sorted(symbols - {"batch"})) or "none"
                raise PlanError(
                    "--shape",
                    f"model {name} has no input or dim {key!r}; its inputs: "
                    f"{', '.join(spec.input_names())}; its open dims: {dims}",
                )


def dims_text(dims: tuple[int | str, ...]) -> str:
    """Dims as the messages write them: 3x224xIMAGE, or ``scalar``."""
    return "x".join(str(dim) if isinstance(dim, int) else dim.upper() for dim in dims) or "scalar"
