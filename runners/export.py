"""Export a model's PyTorch module to the run's portable ONNX graph, in the PyTorch environment.

``python -m runners.export --model-ref REF --model-dir DIR [--source FILE --format pt2]``

ONNX Runtime and OpenVINO both load this one file, so they run the same graph; the parent
checks every framework against a reference computed from it (or from the model's own maths).
The batch axis stays symbolic, so one file serves every batch size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from models.base import ModelFiles
from models.registry import load_model
from runners.registry import onnx_exporter
from runners.worker import block_other_frameworks
from schemas.files import atomic_write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runners.export", description=__doc__)
    parser.add_argument("--model-ref", required=True)
    parser.add_argument("--model-dir", required=True, type=Path)
    parser.add_argument("--source", default=None)
    parser.add_argument("--format", default=None)
    parser.add_argument("--inputs", required=True, help="comma list of input names, in order")
    parser.add_argument("--output-name", required=True)
    args = parser.parse_args(argv)

    block_other_frameworks(onnx_exporter())
    import torch

    model = load_model(args.model_ref, args.source, args.format)
    files = ModelFiles(args.model_dir, None if args.source is None else Path(args.source), args.format)
    names = args.inputs.split(",")
    # Two samples, not one: an exporter may specialise a dim of size 1 away.
    examples = []
    for name in names:
        stored = np.load(args.model_dir / "inputs" / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        examples.append(torch.from_numpy(np.array(stored[: min(2, len(stored))])))
    if args.format == "pt2":
        module = torch.export.load(str(args.source)).module()
    else:
        module = model.torch_module(files)
    batch = torch.export.Dim("batch", min=1, max=65536)
    with torch.no_grad():
        # torch.export's exporter (the default, and the one being kept): a positional tuple of
        # dynamic shapes, since the forward's argument names need not be the input names.
        program = torch.onnx.export(
            module,
            tuple(examples),
            input_names=names,
            output_names=[args.output_name],
            dynamic_shapes=tuple({0: batch} for _ in names),
            external_data=False,
            optimize=True,
            dynamo=True,
        )
    assert program is not None  # dynamo=True always returns the program
    atomic_write(files.onnx, lambda tmp: program.save(tmp))
    print(
        f"exported {files.onnx} with torch {torch.__version__} (torch.export, dynamo=True)", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
