"""ResNet-50 v1.5, the image classifier: 25.6 M parameters, ~4.1 GFLOPs per 224 x 224 image.

PyTorch runs a hand-written ``nn.Module`` with torchvision's parameter names (torchvision itself
does not work with the CPU build of torch here); TensorFlow and JAX run keras_hub's
``ResNetBackbone`` plus its classifier head, the weights ported by keras_hub's own timm
converter; ONNX Runtime and OpenVINO the graph exported from the PyTorch module. Images are
stored NCHW (as PyTorch and the ONNX graph take them) and handed to Keras NHWC, transposed once
outside the timed loop.

Weights are seeded and scaled so that activations neither explode nor vanish over 50 layers:
He-normal convolutions, BatchNorm statistics of order one, and a smaller scale on the last
BatchNorm of each residual branch.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles
from models.spec import Flops, InputSpec, ModelSpec, Tolerance, TopOne
from schemas.files import write_bytes, write_json

EXPANSION = 4  # a bottleneck block's output is 4x its width


@dataclass(frozen=True)
class Architecture:
    """Depth and width of a ResNet v1.5 with bottleneck blocks."""

    stem_width: int  # conv1's output channels (64 in ResNet-50)
    widths: tuple[int, ...]  # bottleneck width per stage (keras_hub requires 64 for the first)
    blocks: tuple[int, ...]  # blocks per stage
    strides: tuple[int, ...]  # stride of each stage's first block
    num_classes: int
    image_size: int  # default height and width

    def layout(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(kind, name, shape) of every conv, batch norm and the fc layer, in torchvision order."""
        out: list[tuple[str, str, tuple[int, ...]]] = [
            ("conv", "conv1", (self.stem_width, 3, 7, 7)),
            ("bn", "bn1", (self.stem_width,)),
        ]
        cin = self.stem_width
        for stage, (width, blocks) in enumerate(zip(self.widths, self.blocks), start=1):
            cout = width * EXPANSION
            for block in range(blocks):
                prefix = f"layer{stage}.{block}"
                out += [
                    ("conv", f"{prefix}.conv1", (width, cin, 1, 1)),
                    ("bn", f"{prefix}.bn1", (width,)),
                    ("conv", f"{prefix}.conv2", (width, width, 3, 3)),
                    ("bn", f"{prefix}.bn2", (width,)),
                    ("conv", f"{prefix}.conv3", (cout, width, 1, 1)),
                    ("bn_last", f"{prefix}.bn3", (cout,)),
                ]
                if block == 0:  # a projection shortcut: the channels (and maybe the size) change
                    out += [
                        ("conv", f"{prefix}.downsample.0", (cout, cin, 1, 1)),
                        ("bn", f"{prefix}.downsample.1", (cout,)),
                    ]
                cin = cout
        out.append(("fc", "fc", (self.num_classes, cin)))
        return out

    def parameters(self) -> int:
        """Trainable parameters (BatchNorm's running statistics are not)."""
        total = 0
        for kind, _, shape in self.layout():
            size = int(np.prod(shape))
            total += size if kind == "conv" else 2 * size if kind != "fc" else size + shape[0]
        return total

    def flops(self, height: int, width: int) -> float:
        """2 x multiply-adds of the convolutions and the fc layer for one image of ``height`` x
        ``width``: a strided convolution or pool, padded as torchvision pads them, rounds up."""
        h, w = _strided(height, 2), _strided(width, 2)  # conv1
        total = 2.0 * 3 * 49 * self.stem_width * h * w
        h, w = _strided(h, 2), _strided(w, 2)  # the max pool
        cin = self.stem_width
        for width_, blocks, stride in zip(self.widths, self.blocks, self.strides):
            cout = width_ * EXPANSION
            for block in range(blocks):
                step = stride if block == 0 else 1
                oh, ow = _strided(h, step), _strided(w, step)
                total += 2.0 * cin * width_ * h * w  # the 1x1 in, at the block's input size
                total += 2.0 * (9 * width_ * width_ + width_ * cout) * oh * ow  # the 3x3 (strided), 1x1 out
                if block == 0:
                    total += 2.0 * cin * cout * oh * ow
                h, w, cin = oh, ow, cout
        return total + 2.0 * cin * self.num_classes


def _strided(size: int, stride: int) -> int:
    """The output size of a convolution or pool of ``stride`` padded to keep the size at stride
    1 (7x7 pad 3, 3x3 pad 1, 1x1 pad 0, as torchvision's): ceil(size / stride)."""
    return (size - 1) // stride + 1


RESNET50 = Architecture(64, (64, 128, 256, 512), (3, 4, 6, 3), (1, 2, 2, 2), 1000, 224)
# keras_hub's ResNetBackbone insists on a first-stage width of 64, so the tiny one keeps it and
# narrows the stem: ~0.45 M parameters at 32 x 32.
TINY = Architecture(16, (64, 128), (1, 1), (1, 2), 10, 32)


def _rng(seed: int, name: str) -> np.random.Generator:
    """A generator of the tensor's own: its values depend on the seed and its name, not on order."""
    return np.random.default_rng([seed, 2, zlib.crc32(name.encode())])


def make_weights(arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    """torchvision-named tensors: He-normal convs; eval-mode BatchNorm with statistics of order
    one; the last BatchNorm of each residual branch at gamma 0.2-0.5, so that the residual stream
    grows only mildly over the blocks (zero-init-residual's idea, without the zeros)."""
    weights: dict[str, np.ndarray] = {}
    for kind, name, shape in arch.layout():
        if kind == "conv":
            fan_in = int(np.prod(shape[1:]))
            weights[f"{name}.weight"] = _rng(seed, name).standard_normal(
                shape, dtype=np.float32
            ) * np.float32(np.sqrt(2.0 / fan_in))
        elif kind == "fc":
            weights["fc.weight"] = _rng(seed, "fc.weight").standard_normal(
                shape, dtype=np.float32
            ) * np.float32(1.0 / np.sqrt(shape[1]))
            weights["fc.bias"] = _rng(seed, "fc.bias").uniform(-0.1, 0.1, shape[:1]).astype(np.float32)
        else:
            low, high = (0.2, 0.5) if kind == "bn_last" else (0.7, 1.3)
            draw = {
                "weight": (low, high),
                "bias": (-0.1, 0.1),
                "running_mean": (-0.1, 0.1),
                "running_var": (0.5, 1.5),
            }
            for part, (lo, hi) in draw.items():
                weights[f"{name}.{part}"] = (
                    _rng(seed, f"{name}.{part}").uniform(lo, hi, shape).astype(np.float32)
                )
            weights[f"{name}.num_batches_tracked"] = np.zeros((), np.int64)  # torch's state_dict has it
    return weights


class ResNet50(Model):
    """ResNet-50 v1.5 with a 1000-class head, NCHW float32 images."""

    architecture: ClassVar[Architecture] = RESNET50
    name: ClassVar[str] = "resnet50"
    description: ClassVar[str] = "ResNet-50 v1.5 image classifier, 25.6 M parameters"

    @property
    def spec(self) -> ModelSpec:
        arch = self.architecture
        return ModelSpec(
            name=self.name,
            description=self.description,
            inputs=(InputSpec("pixel_values", "float32", ("batch", 3, "image", "image"), values="normal"),),
            output="logits",
            default_dims={"batch": 1, "image": arch.image_size},
            single_stream_samples=8,
            reference_rows=4,  # ~1.5 s each in the float64 reference evaluator
            # Frameworks agree to ~1e-6 of the largest logit here; bf16 rounds every activation.
            # int8: SQNR >= 20 dB (an error of a tenth of the logits' RMS, cosine ~0.995).
            # PyTorch's tests hold one quantized op to 30 dB; fifty layers add their errors up:
            # ONNX Runtime's static QDQ per-channel gives 34 dB here (docs/fidelity.md), and 20
            # leaves room for other paths and calibrations while a broken one (a wrong scale,
            # a saturated layer) falls far below. Top-1 is shown, not judged: the seeded
            # network's two largest logits lie ~1 % of the logits' spread apart, so an int8
            # error well inside 20 dB may swap them -- a flip says nothing of a trained one.
            tolerance={
                "fp32": Tolerance(relative=1e-5),
                "bf16": Tolerance(relative=5e-2),
                "int8": Tolerance(absolute=math.inf, min_sqnr_db=20.0),
            },
            top1=TopOne("argmax"),
            parameters=arch.parameters(),
            layout="NCHW",
        )

    def flops(self, shapes: Mapping[str, tuple[int, ...]], files: ModelFiles) -> Flops:
        """The convolutions and the head at the cell's own image size (NCHW)."""
        height, width = shapes["pixel_values"][2:4]
        return Flops(
            self.architecture.flops(height, width),
            f"formula: 2 x multiply-adds of the convolutions and the fc layer at {height}x{width}",
        )

    def write_weights(self, seed: int, directory: Path) -> None:
        from safetensors.numpy import save

        arch = self.architecture
        write_bytes(
            save(make_weights(arch, seed), metadata={"format": "pt"}), directory / "model.safetensors"
        )
        # "architecture" tells keras_hub's loaders it is a timm-style ResNet; no "pretrained_cfg":
        # no preprocessing layer (the inputs are already normalised images).
        config = {
            "architecture": self.name,
            "num_classes": arch.num_classes,
            "num_features": arch.widths[-1] * EXPANSION,
            "stem_width": arch.stem_width,
            "widths": arch.widths,
            "blocks": arch.blocks,
            "strides": arch.strides,
        }
        write_json(config, directory / "config.json")

    def torch_module(self, files: ModelFiles) -> Any:
        from safetensors.torch import load_file

        module = _torch_resnet(self.architecture)
        module.load_state_dict(load_file(str(files.weights)), strict=True)
        return module.eval()

    def keras_model(self, files: ModelFiles) -> Any:
        import keras_hub
        from keras_hub.src.utils.timm import convert_resnet
        from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

        from models.keras_loading import deferred_variables, initialise_leftovers

        arch = self.architecture
        with deferred_variables():
            backbone = keras_hub.models.ResNetBackbone(
                input_conv_filters=[arch.stem_width],
                input_conv_kernel_sizes=[7],
                stackwise_num_filters=list(arch.widths),
                stackwise_num_blocks=list(arch.blocks),
                stackwise_num_strides=list(arch.strides),
                block_type="bottleneck_block",
                use_pre_activation=False,
                image_shape=(None, None, 3),
                data_format="channels_last",
            )
        # Outside the deferred block: the task's constructor compiles an optimizer, whose
        # variables must have values. No preprocessor: the images come normalised.
        classifier = keras_hub.models.ResNetImageClassifier(
            backbone=backbone, num_classes=arch.num_classes, preprocessor=None, pooling="avg", activation=None
        )
        timm_config = {"architecture": "resnet"}  # the converter reads it to tell v1 from v2
        with SafetensorLoader(str(files.directory), prefix="") as loader:
            convert_resnet.convert_weights(backbone, loader, timm_config)
            convert_resnet.convert_head(classifier, loader, timm_config)
        initialise_leftovers()
        return classifier

    def keras_feed(self, sample: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.transpose(sample["pixel_values"], (0, 2, 3, 1))]  # NCHW -> NHWC

    keras_feed_note: ClassVar[str] = (
        "pixel_values transposed NCHW -> NHWC (Keras's layout), outside the timed call"
    )


class TinyResNet(ResNet50):
    """The same architecture, two narrow stages of one block, 32 x 32 images: a smoke test."""

    architecture: ClassVar[Architecture] = TINY
    name: ClassVar[str] = "tiny-resnet"
    description: ClassVar[str] = "ResNet v1.5, 2 stages of 1 bottleneck block, 10 classes (smoke test)"


def _torch_resnet(arch: Architecture) -> Any:
    """ResNet v1.5 as torchvision writes it: stride on the 3x3 conv, projection shortcuts."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):  # type: ignore[misc]  # torch is not in the parent's environment
        def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None) -> None:
            super().__init__()
            cout = width * EXPANSION
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)  # type: ignore[no-any-return]

    class ResNet(nn.Module):  # type: ignore[misc]  # (mypy sees Any there)
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, arch.stem_width, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(arch.stem_width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            cin = arch.stem_width
            for stage, (width, blocks, stride) in enumerate(
                zip(arch.widths, arch.blocks, arch.strides), start=1
            ):
                cout = width * EXPANSION
                layers = []
                for block in range(blocks):
                    downsample = None
                    if block == 0:
                        downsample = nn.Sequential(
                            nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
                        )
                    layers.append(Bottleneck(cin, width, stride if block == 0 else 1, downsample))
                    cin = cout
                self.add_module(f"layer{stage}", nn.Sequential(*layers))
            self.stages = len(arch.widths)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, arch.num_classes)

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(pixel_values))))
            for stage in range(1, self.stages + 1):
                x = getattr(self, f"layer{stage}")(x)
            return self.fc(torch.flatten(self.avgpool(x), 1))  # type: ignore[no-any-return]

    return ResNet()
