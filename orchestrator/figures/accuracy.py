"""Accuracy on held-out labels: what a trained classifier's outputs get right, beside how far
they moved from the reference.

Fidelity (max_abs_diff, cosine, SQNR) says how far a precision moves the outputs; accuracy says
what a user loses by it -- a class that flips. Pure numpy: the parent computes it from the
outputs a runner returned, the labels the model declares and the float64 reference's outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.spec import Tolerance


def predicted(outputs: np.ndarray) -> np.ndarray:
    """Each sample's class: the argmax of its outputs; -1 where an output is NaN or infinite
    (never a class, so such a sample counts as wrong)."""
    classes = np.argmax(np.nan_to_num(outputs, nan=-np.inf), axis=1)
    return np.where(np.isfinite(outputs).all(axis=1), classes, -1)


def accuracy_figures(outputs: np.ndarray, labels: np.ndarray, reference: np.ndarray | None) -> dict[str, Any]:
    """``accuracy``: the share of the labelled samples whose outputs' argmax is their label;
    ``accuracy_reference``: the same of the float64 reference's outputs on those same samples
    (null when the reference covers fewer); ``accuracy_samples``: how many samples counted.

    ``outputs`` is [samples, classes]; only the first ``len(labels)`` samples carry a label (the
    rest repeat them, and would count a sample twice). Nothing when the outputs are not one
    row of classes per sample."""
    if outputs.ndim != 2 or outputs.shape[1] < 2 or not len(labels):
        return {}
    count = min(len(outputs), len(labels))
    right = predicted(outputs[:count]) == labels[:count]
    figures: dict[str, Any] = {"accuracy": float(np.mean(right)), "accuracy_samples": count}
    if reference is not None and reference.ndim == 2 and len(reference) >= count:
        figures["accuracy_reference"] = float(np.mean(predicted(reference[:count]) == labels[:count]))
    return figures


def accuracy_shortfall(figures: dict[str, Any], tolerance: Tolerance | None, precision: str) -> str | None:
    """Where the accuracy in ``figures`` (:func:`accuracy_figures`) falls below the floor of the
    model's acceptance at ``precision`` -- ``accuracy 91.30% under int8's floor of 99% of the
    reference's 97.59%`` -- or None (no floor, or no figure to judge)."""
    floor = None if tolerance is None else tolerance.min_accuracy_ratio
    value, reference = figures.get("accuracy"), figures.get("accuracy_reference")
    if floor is None or value is None or reference is None or value >= floor * reference:
        return None
    return f"accuracy {value:.2%} under {precision}'s floor of {floor:.0%} of the reference's {reference:.2%}"
