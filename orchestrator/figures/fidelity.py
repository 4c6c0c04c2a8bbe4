"""How far a cell's outputs are from the reference, beyond the largest difference: the
fidelity a lower precision costs. Pure functions of arrays; the parent computes them from the
outputs a runner returned (execute/aggregate.py).

- cosine similarity of each sample's output with the reference's (its min and mean over the
  samples): the direction of the output, blind to its scale. For a model whose sample output is
  one number (the MLP's probability) it is only that number's sign, and says nothing.
- SQNR, the signal-to-quantization-noise ratio in dB over every output:
  ``10 log10(sum ref^2 / sum (ref - out)^2)`` -- 20 dB is an error of a tenth of the signal's
  RMS, 40 dB of a hundredth; infinite when the outputs equal the reference.
- top-1 agreement, for a classifier (models.spec.TopOne): the share of samples whose class is
  the reference's.

Only the values finite in both are compared (where outputs are NaN or infinite, the parity
check says so and fails the cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.spec import Tolerance, TopOne


@dataclass(frozen=True)
class Fidelity:
    """A cell's fidelity figures (None: not computable, e.g. nothing finite, no classes)."""

    cosine_min: float | None
    cosine_mean: float | None
    sqnr_db: float | None
    top1_agreement: float | None

    def columns(self) -> dict[str, float | None]:
        """As summary columns."""
        return {
            "cosine_min": self.cosine_min,
            "cosine_mean": self.cosine_mean,
            "sqnr_db": self.sqnr_db,
            "top1_agreement": self.top1_agreement,
        }


def cosine_per_sample(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``got`` with the same row of ``want`` ([samples, n]),
    over the values finite in both. Two zero vectors agree (1.0); a zero against a non-zero
    does not (0.0); a row with nothing finite is NaN."""
    both = np.isfinite(got) & np.isfinite(want)
    a, b = np.where(both, got, 0.0), np.where(both, want, 0.0)
    dot = np.einsum("ij,ij->i", a, b)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    zero_a, zero_b = ~a.any(axis=1), ~b.any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0)
    cosine = np.where(zero_a & zero_b, 1.0, cosine)
    cosine = np.where(both.any(axis=1), cosine, np.nan)
    return np.clip(cosine, -1.0, 1.0)


def sqnr_db(got: np.ndarray, want: np.ndarray) -> float | None:
    """``10 log10(sum want^2 / sum (want - got)^2)`` over the values finite in both: inf when
    they are equal, -inf when the reference is all zeros and the outputs are not; None when
    nothing is finite in both."""
    both = np.isfinite(got) & np.isfinite(want)
    if not both.any():
        return None
    signal = float(np.sum(np.square(want[both], dtype=np.float64)))
    noise = float(np.sum(np.square(want[both] - got[both], dtype=np.float64)))
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def head_weights(rule: TopOne) -> np.ndarray:
    """The fixed linear head of a ``head`` rule: [width, classes], seeded, scaled so that its
    outputs have about the spread of its inputs."""
    rng = np.random.default_rng([rule.seed, 23])  # a stream of its own
    return rng.standard_normal((rule.width, rule.classes)) / math.sqrt(rule.width)


def top1_labels(outputs: np.ndarray, rule: TopOne) -> np.ndarray:
    """The class of each sample's output ([samples, n], flat per sample) under ``rule``."""
    if rule.rule == "threshold":
        return np.asarray(outputs[:, 0] > rule.threshold)
    if rule.rule == "argmax":
        return np.asarray(np.argmax(outputs, axis=1))
    head = outputs[:, : rule.width] @ head_weights(rule)
    return np.asarray(np.argmax(head, axis=1))


def top1_agreement(got: np.ndarray, want: np.ndarray, rule: TopOne) -> float | None:
    """The share (0..1) of samples whose class under ``rule`` is the reference's; None when a
    sample's output is too short for the rule, or there is no sample."""
    width = max(rule.width, 1)
    if got.shape[0] == 0 or got.shape[1] < width:
        return None
    return float(np.mean(top1_labels(got, rule) == top1_labels(want, rule)))


def fidelity(got: np.ndarray, want: np.ndarray, rule: TopOne | None) -> Fidelity:
    """Every figure of ``got`` against ``want``, both [samples, values of one sample]."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    cosines = cosine_per_sample(got, want)
    finite = cosines[np.isfinite(cosines)]
    return Fidelity(
        cosine_min=float(finite.min()) if finite.size else None,
        cosine_mean=float(finite.mean()) if finite.size else None,
        sqnr_db=sqnr_db(got, want),
        top1_agreement=None if rule is None else top1_agreement(got, want, rule),
    )


def shortfall(found: Fidelity, tolerance: Tolerance, precision: str) -> str | None:
    """Where ``found`` falls below the floors of ``tolerance`` (the model's acceptance at
    ``precision``), in words -- ``SQNR 12.3 dB under int8's floor of 25 dB`` -- or None. A
    figure that could not be computed is not judged."""
    reasons = []
    floor = tolerance.min_sqnr_db
    if floor is not None and found.sqnr_db is not None and found.sqnr_db < floor:
        reasons.append(f"SQNR {found.sqnr_db:.1f} dB under {precision}'s floor of {floor:g} dB")
    floor = tolerance.min_top1_agreement
    agreement = found.top1_agreement
    if floor is not None and agreement is not None and agreement < floor:
        reasons.append(f"top-1 agreement {agreement:.1%} under {precision}'s floor of {floor:.0%}")
    return "; ".join(reasons) or None
