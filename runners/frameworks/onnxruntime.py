"""ONNX Runtime: the portable ONNX graph (or the user's .onnx file) in an InferenceSession on
the CPU execution provider."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles, UnsupportedModel
from runners.base import Option, Runner, Sample, UnsupportedPrecision
from runners.precision import onnxruntime_compute, onnxruntime_compute_flops, summarise
from schemas.precisions import INT8_PRECISIONS

_LEVELS = {
    "all": "ORT_ENABLE_ALL",
    "extended": "ORT_ENABLE_EXTENDED",
    "basic": "ORT_ENABLE_BASIC",
    "disabled": "ORT_DISABLE_ALL",
}


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"
    options: ClassVar[dict[str, Option]] = {
        "graph_optimization": Option(tuple(_LEVELS), "the session's graph optimisation level"),
        "spinning": Option(
            ("on", "off"),
            "intra-op threads spin while they wait (ONNX Runtime's default: faster hand-offs, and "
            "the spinning counts as CPU time) or sleep",
        ),
        # Static int8 only (runners/quantizers/onnxruntime.py): uint8 activations with int8 weights
        # (U8S8) ran 2.9x fp32 on a Xeon where int8 activations (S8S8, the tools' default) ran 1.0x.
        "activation_type": Option(
            ("uint8", "int8"), "static int8: the activations' type (U8S8 or S8S8)", precisions=INT8_PRECISIONS
        ),
        "quant_format": Option(
            ("qdq", "qoperator"),
            "static int8: QuantizeLinear/DequantizeLinear pairs around float operators (QDQ, fused at "
            "load) or integer operators written out (QOperator)",
            precisions=INT8_PRECISIONS,
        ),
    }

    def import_framework(self) -> str:
        import onnxruntime

        self.ort: Any = onnxruntime
        return str(onnxruntime.__version__)

    def configure_threads(self, threads: int) -> None:
        # ONNX Runtime ignores the affinity mask when sizing its pool: set it explicitly.
        ort = self.ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        level = _LEVELS[self.option("graph_optimization")]
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        spinning = "1" if self.option("spinning") == "on" else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        self._options = options
        self.settings.update(
            intra_op_num_threads=options.intra_op_num_threads,
            inter_op_num_threads=options.inter_op_num_threads,
            execution_mode="ORT_SEQUENTIAL",
            graph_optimization_level=level,
            # On by default, as ONNX Runtime ships: what a deployment gets out of the box.
            # Spinning waits count as CPU time, so it shows in cpu_percent.
            allow_spinning=spinning,
        )

    def configure_precision(self, precision: str) -> None:
        if precision == "bf16":
            # Its CPU provider has no bfloat16 arithmetic (microsoft/onnxruntime#20630, #28768);
            # its one bf16 GEMM mode, mlas.enable_gemm_fastmath_arm64_bfloat16, is for arm64.
            raise UnsupportedPrecision(
                "onnxruntime's CPU provider has no bf16 arithmetic on x86-64 (its bf16 GEMM fast-math "
                "mode is arm64-only); its reduced precision is int8"
            )
        if precision in INT8_PRECISIONS and self.quantized is None:
            raise UnsupportedPrecision(
                f"onnxruntime runs {precision} from a quantized graph, and none was made"
            )
        super().configure_precision("fp32" if precision in INT8_PRECISIONS else precision)

    def observed_threads(self) -> int | None:
        return int(self._session.get_session_options().intra_op_num_threads)

    def load(self, model: Model, files: ModelFiles, sample: Sample) -> None:
        path = self._path = Path(self.quantized["path"]) if self.quantized else onnx_path(files)
        self._session = self.ort.InferenceSession(
            str(path), self._options, providers=["CPUExecutionProvider"]
        )
        outputs = [output.name for output in self._session.get_outputs()]
        self._outputs = [files.output if files.output in outputs else outputs[0]]
        self.settings.update(providers=self._session.get_providers(), graph=str(path.name))

    def predict(self, feed: Sample) -> np.ndarray:
        return self._session.run(self._outputs, feed)[0]  # type: ignore[no-any-return]

    def compiled_precision(self, feed: Sample) -> str | None:
        """The input types of the compute nodes ONNX Runtime's profiler saw run in one call of a
        second session built like the measured one (same graph, same options: the same
        optimised graph and kernels). What ran, not what the file declares: a float16 graph
        runs float32 where the CPU provider has no float16 kernel and casts around it.
        The measured session is never profiled (profiling would slow every call)."""
        options = self._options  # the measured session took its own copy when it was built
        options.enable_profiling = True
        # Unpacked weights, so the profile lists their shapes (a convolution's FLOPs); the same
        # kernels run, prepacking only lays the weights out for them at load.
        options.add_session_config_entry("session.disable_prepacking", "1")
        with tempfile.TemporaryDirectory(prefix="ort-profile-") as scratch:
            options.profile_file_prefix = str(Path(scratch) / "profile")
            session = self.ort.InferenceSession(str(self._path), options, providers=["CPUExecutionProvider"])
            session.run(self._outputs, feed)
            events = json.loads(Path(session.end_profiling()).read_text())
        dtypes, providers = onnxruntime_compute(events)
        self.settings["compute_providers"] = providers  # the providers that ran those nodes
        return summarise(dtypes, onnxruntime_compute_flops(events))


def onnx_path(files: ModelFiles) -> Any:
    """The graph an ONNX runtime loads: the user's .onnx, or the run's portable graph."""
    if files.source_format == "onnx":
        return files.source
    if files.source_format not in (None, "pt2"):  # a .pt2 is exported to the run's graph
        raise UnsupportedModel(f"no ONNX graph of a {files.source_format} model")
    if not files.onnx.is_file():
        raise UnsupportedModel("the run has no ONNX graph of this model (see the model's export.log)")
    return files.onnx
