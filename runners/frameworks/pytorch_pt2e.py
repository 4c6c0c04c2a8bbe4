"""PyTorch's int8 path for x86 CPUs, as its documentation gives it: PT2E quantization.

torch.export captures the module; torchao's ``X86InductorQuantizer`` (PT2E left torch for
torchao: torch 2.13 ships no ``torch.ao.quantization.pt2e``) annotates it; ``prepare_pt2e``
inserts observers, the calibration calls run through them, ``convert_pt2e`` writes
quantize/dequantize pairs; ``torch.compile`` with inductor's freezing fuses each pair and its
operator into oneDNN's integer kernels (``onednn::qlinear_pointwise``, ``qconv...``) at the
first call. Without freezing those patterns are not matched and the model runs fp32 maths
on dequantized weights: the runner records what ran, read from the profiler.

It runs in the measured runner, at load: the documented flow quantizes in the process that
serves. Its seconds are the cell's ``quantize_s``, a phase of its own (runners.base).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The flavour each int8 precision runs. int8 is the static flow: PT2E is "mostly for static
# quantization" (torchao's guide), and its x86 tutorial's first recipe.
FLAVOURS = {"int8": "static", "int8-static": "static", "int8-dynamic": "dynamic"}


def quantize(
    torch: Any, module: Any, example: Sequence[Any], calibration: Sequence[Sequence[Any]], flavour: str
) -> tuple[Any, dict[str, Any]]:
    """``module`` (an ``nn.Module`` or an exported program's module, eval mode) quantized by
    PT2E for x86 and wrapped in ``torch.compile`` (inductor, freezing); and what was done.

    ``example``: one call's tensors (they fix the exported shape); ``calibration``: calls of
    that shape whose activation ranges the static flavour keeps (the dynamic one measures its
    activations at each call: ``example`` alone runs through it, for the weights' observers).
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    dynamic = flavour == "dynamic"
    if not dynamic and not calibration:
        raise ValueError("static int8 needs a calibration set, and the job has none")
    with torch.no_grad():
        # strict: each call of a module shared by several (ResNet's one ReLU per block) is a
        # partition of its own, which the quantizer's fusion patterns need.
        graph = module if isinstance(module, torch.fx.GraphModule) else _export(torch, module, example)
        config = xiq.get_default_x86_inductor_quantization_config(is_dynamic=dynamic)
        quantizer = xiq.X86InductorQuantizer().set_global(config)
        prepared = prepare_pt2e(graph, quantizer)
        for call in [example] if dynamic else calibration:
            prepared(*call)
        converted = convert_pt2e(prepared)
    torch._inductor.config.freezing = True  # the fusion into integer kernels happens in freezing
    compiled = torch.compile(converted)
    settings = {
        "flow": "PT2E: torch.export (strict), torchao X86InductorQuantizer, prepare_pt2e, "
        f"{'one call' if dynamic else 'calibration'}, convert_pt2e, torch.compile (inductor, freezing)",
        "flavour": flavour,
        "activations": _spec(config.input_activation),
        "weights": _spec(config.weight),
        "calibration_calls": 0 if dynamic else len(calibration),
        "where": "at load, in the runner",
        "inductor_freezing": bool(torch._inductor.config.freezing),
    }
    return compiled, settings


def _export(torch: Any, module: Any, example: Sequence[Any]) -> Any:
    """The module captured by torch.export at ``example``'s shapes, as a GraphModule."""
    return torch.export.export(module, tuple(example), strict=True).module()


def _spec(spec: Any) -> str:
    """A quantization spec as the quantizer holds it: "uint8 per_tensor_affine, HistogramObserver"."""
    observer = spec.observer_or_fake_quant_ctr
    while not hasattr(observer, "__name__"):  # a functools.partial inside torchao's PartialWrapper
        observer = getattr(observer, "p", None) or observer.func
    dtype = str(spec.dtype).removeprefix("torch.")
    scheme = str(spec.qscheme).removeprefix("torch.")
    when = ", measured at each call" if spec.is_dynamic else ""
    return f"{dtype} {scheme}, {observer.__name__}{when}"
