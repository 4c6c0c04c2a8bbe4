"""The precision a framework really computes in, read from what it compiled -- not from the
dtype policy it was asked for. A bf16 request can end as float32 maths (XLA's CPU backend
upcasts some bf16 dots, OpenVINO on a CPU without bf16 units), or as a mix.
"""

from __future__ import annotations

import re
from collections import Counter

# An HLO instruction computing a dot or a convolution: "%dot.3 = bf16[1000,128]{1,0} dot(...".
_HLO_COMPUTE = re.compile(r"=\s*(\w+)\[[^\]]*\](?:\{[^}]*\})?\s+(?:dot|convolution)\(")

_NAMES = {
    "f32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16", "f16": "fp16", "float16": "fp16",
}  # fmt: skip


def hlo_compute_dtypes(hlo_text: str) -> list[str]:
    """The element type of every dot and convolution in an HLO module's text."""
    return _HLO_COMPUTE.findall(hlo_text)


def summarise(dtypes: list[str]) -> str | None:
    """``fp32``, ``bf16``, or ``mixed: 12 bf16, 3 fp32`` for the compute ops' types (None: none)."""
    counts = Counter(_NAMES.get(dtype.lower(), dtype.lower()) for dtype in dtypes)
    if not counts:
        return None
    if len(counts) == 1:
        return next(iter(counts))
    return "mixed: " + ", ".join(f"{count} {name}" for name, count in counts.most_common())
