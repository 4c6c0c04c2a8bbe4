"""The precisions a cell may be asked to compute in: ``--precision``'s names.

Read by the parent (the plan refuses any other name, exit 2) and by every runner (a framework
with no path for a known precision skips the cell, saying so in one line; it never runs another
precision in its place). Stdlib only.
"""

from __future__ import annotations

# Each name, what it asks of a framework. In this order the cells of a run go: fp32 first, the
# baseline every other precision's speed-up and a user model's reference are taken from.
PRECISION_MEANINGS = {
    "fp32": "float32 weights and arithmetic (the default)",
    "bf16": "bfloat16 arithmetic, as the framework's users ask for it",
    "int8": "the framework's own documented default int8 path for the model",
    "int8-static": "int8 weights and activations, activation ranges calibrated beforehand",
    "int8-dynamic": "int8 weights, activation ranges computed at each call",
}

PRECISIONS: tuple[str, ...] = tuple(PRECISION_MEANINGS)

# The precision every other one is measured against (speed-up, and fidelity where the model
# has no float64 reference of its own).
BASELINE = "fp32"

# The integer precisions: their tolerance is a fidelity floor, not a difference bound.
INT8_PRECISIONS = ("int8", "int8-static", "int8-dynamic")


def in_run_order(precisions: tuple[str, ...]) -> tuple[str, ...]:
    """Known ``precisions`` in the order their cells run (that of :data:`PRECISIONS`)."""
    return tuple(sorted(precisions, key=PRECISIONS.index))
