"""Model name -> "module:Class" of its plug-in. Nothing is imported here.

A new model is one module under ``models/`` plus one line in ``MODELS``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.base import Model

# The built-in workloads, seeded random weights (nothing is downloaded).
MODELS: dict[str, str] = {
    "mlp": "models.mlp:Mlp",
    "resnet50": "models.resnet:ResNet50",
    "distilbert": "models.distilbert:DistilBert",
    # Trained, not seeded: scikit-learn's bundled digits, so a precision's accuracy is measured.
    "digits": "models.digits:Digits",
    # The same architectures, two narrow stages / layers: a smoke test of every framework's
    # path for the real ones, in seconds.
    "tiny-resnet": "models.resnet:TinyResNet",
    "tiny-distilbert": "models.distilbert:TinyDistilBert",
}

DEFAULT_MODEL = "mlp"


def load_model(ref: str, source: str | None = None, source_format: str | None = None) -> Model:
    """The plug-in ``ref`` names (a key of MODELS), or the user's own model file (ref "file")."""
    if ref == "file":
        from models.user import UserModel

        assert source is not None and source_format is not None
        return UserModel.from_file(source, source_format)
    module_name, class_name = MODELS[ref].split(":")
    model_class: type[Model] = getattr(importlib.import_module(module_name), class_name)
    return model_class()
