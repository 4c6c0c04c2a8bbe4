"""A framework as the plan names it, before anything is built: ``onnxruntime`` or
``onnxruntime@1.31.1``, and the kinds of environment a run may take its frameworks from."""

from __future__ import annotations

from dataclasses import dataclass

# own: one environment per framework; shared: one holding all; current: this interpreter.
ENVIRONMENTS = ("own", "shared", "current")


@dataclass(frozen=True)
class FrameworkRef:
    """A framework as asked for: ``onnxruntime`` or ``onnxruntime@1.31.1``."""

    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> FrameworkRef:
        name, _, version = text.partition("@")
        return cls(name.strip(), version.strip() or None)

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"
