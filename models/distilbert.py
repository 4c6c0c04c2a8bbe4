"""DistilBERT-base, the text encoder: 66 M parameters, 6 layers, hidden 768; int64 token ids and
an attention mask in, the last hidden state out.

PyTorch runs ``transformers``' own ``DistilBertModel`` built from the config (no download);
TensorFlow and JAX keras_hub's ``DistilBertBackbone``, its weights ported by keras_hub's own
transformers converter (what ``from_preset`` on this directory does); ONNX Runtime and OpenVINO
the graph exported from the PyTorch module. The checkpoint is named as transformers saves a
``DistilBertForMaskedLM`` (keys prefixed ``distilbert.``), the form keras_hub's converter reads.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFiles
from models.spec import Flops, InputSpec, ModelSpec, Tolerance, TopOne
from schemas.files import write_bytes, write_json

PREFIX = "distilbert."


@dataclass(frozen=True)
class Architecture:
    """transformers' DistilBertConfig fields, and the benchmark's default sequence length."""

    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    hidden_dim: int  # the feed-forward layer's inner size
    max_position_embeddings: int
    seq_len: int

    def config(self) -> dict[str, Any]:
        """A transformers config.json, as keras_hub's converter and DistilBertConfig read it."""
        fields = asdict(self)
        fields.pop("seq_len")
        return {
            "model_type": "distilbert",
            "architectures": ["DistilBertForMaskedLM"],
            "activation": "gelu",
            "dropout": 0.1,
            "attention_dropout": 0.1,
            "initializer_range": 0.02,
            "pad_token_id": 0,
            "sinusoidal_pos_embds": False,
            "tie_word_embeddings": True,
            **fields,
        }

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor of the encoder, named as transformers names them (without the prefix)."""
        d, h = self.dim, self.hidden_dim
        shapes: dict[str, tuple[int, ...]] = {
            "embeddings.word_embeddings.weight": (self.vocab_size, d),
            "embeddings.position_embeddings.weight": (self.max_position_embeddings, d),
            "embeddings.LayerNorm.weight": (d,),
            "embeddings.LayerNorm.bias": (d,),
        }
        for i in range(self.n_layers):
            layer = f"transformer.layer.{i}"
            for linear in ("q_lin", "k_lin", "v_lin", "out_lin"):
                shapes[f"{layer}.attention.{linear}.weight"] = (d, d)
                shapes[f"{layer}.attention.{linear}.bias"] = (d,)
            shapes |= {
                f"{layer}.sa_layer_norm.weight": (d,),
                f"{layer}.sa_layer_norm.bias": (d,),
                f"{layer}.ffn.lin1.weight": (h, d),
                f"{layer}.ffn.lin1.bias": (h,),
                f"{layer}.ffn.lin2.weight": (d, h),
                f"{layer}.ffn.lin2.bias": (d,),
                f"{layer}.output_layer_norm.weight": (d,),
                f"{layer}.output_layer_norm.bias": (d,),
            }
        return shapes

    def flops(self, seq: int) -> float:
        """2 x multiply-adds of the linear layers and attention for one sequence."""
        d, h = self.dim, self.hidden_dim
        per_layer = 4 * seq * d * d + 2 * seq * seq * d + 2 * seq * d * h
        return 2.0 * self.n_layers * per_layer


DISTILBERT = Architecture(30522, 768, 6, 12, 3072, 512, 128)
TINY = Architecture(1000, 32, 2, 2, 64, 64, 16)


def make_weights(arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    """transformers' own scheme (N(0, 0.02) weights and embeddings), with non-zero biases and
    LayerNorm scales near one, so that a swapped or transposed tensor cannot go unnoticed. Each
    tensor has a generator of its own: its values depend on the seed and its name only."""
    weights = {}
    for name, shape in arch.shapes().items():
        rng = np.random.default_rng([seed, 3, zlib.crc32(name.encode())])
        values = rng.standard_normal(shape, dtype=np.float32)
        scale, mean = (0.1, 1.0) if name.endswith(("LayerNorm.weight", "layer_norm.weight")) else (0.02, 0.0)
        weights[PREFIX + name] = (values * np.float32(scale) + np.float32(mean)).astype(np.float32)
    return weights


class DistilBert(Model):
    """DistilBERT-base encoder: token ids and attention mask in, the last hidden state out."""

    architecture: ClassVar[Architecture] = DISTILBERT
    name: ClassVar[str] = "distilbert"
    description: ClassVar[str] = "DistilBERT-base encoder, 66 M parameters, 6 layers, hidden 768"
    keras_feed_note: ClassVar[str] = (
        "input_ids, attention_mask as int32 token_ids, padding_mask (keras_hub's), outside the timed call"
    )

    @property
    def spec(self) -> ModelSpec:
        arch = self.architecture
        return ModelSpec(
            name=self.name,
            description=self.description,
            inputs=(
                InputSpec("input_ids", "int64", ("batch", "seq"), values="tokens", high=arch.vocab_size),
                InputSpec("attention_mask", "int64", ("batch", "seq"), values="ones"),
            ),
            output="last_hidden_state",
            default_dims={"batch": 1, "seq": arch.seq_len},
            max_dims={"seq": arch.max_position_embeddings},
            single_stream_samples=8,
            reference_rows=8,
            # Frameworks agree to ~7e-7 of the largest output here; bf16 rounds every activation.
            # int8: SQNR >= 20 dB over the hidden states, as ResNet-50 (models/resnet.py): ONNX
            # Runtime's dynamic int8 gives 33 dB here (docs/fidelity.md). Top-1 is that of a
            # seeded two-class head on the first token (a sentiment head's shape): shown, not
            # judged -- over the few samples checked one flip is 12 % and random weights say
            # nothing of a trained head's margins.
            tolerance={
                "fp32": Tolerance(relative=1e-5),
                "bf16": Tolerance(relative=5e-2),
                "int8": Tolerance(absolute=math.inf, min_sqnr_db=20.0),
            },
            top1=TopOne("head", width=arch.dim, classes=2, seed=0),
            parameters=sum(int(np.prod(shape)) for shape in arch.shapes().values()),
        )

    def flops(self, shapes: Mapping[str, tuple[int, ...]], files: ModelFiles) -> Flops:
        """The encoder's linear layers and attention at the cell's own sequence length."""
        seq = shapes["input_ids"][1]
        return Flops(
            self.architecture.flops(seq),
            f"formula: 2 x multiply-adds of the linear layers and attention at {seq} tokens",
        )

    def write_weights(self, seed: int, directory: Path) -> None:
        from safetensors.numpy import save

        arch = self.architecture
        write_bytes(
            save(make_weights(arch, seed), metadata={"format": "pt"}), directory / "model.safetensors"
        )
        write_json(arch.config(), directory / "config.json")

    def torch_module(self, files: ModelFiles) -> Any:
        import torch
        from safetensors.torch import load_file
        from transformers import DistilBertConfig, DistilBertModel

        config = json.loads(files.config.read_text())
        encoder = DistilBertModel(
            DistilBertConfig(**{k: v for k, v in config.items() if k not in ("model_type", "architectures")})
        )
        state = {key.removeprefix(PREFIX): value for key, value in load_file(str(files.weights)).items()}
        encoder.load_state_dict(state, strict=True)

        class LastHiddenState(torch.nn.Module):  # type: ignore[misc]  # torch: Any to mypy here
            """The encoder, returning its last hidden state: one tensor to time, export and compare."""

            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
                return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # type: ignore[no-any-return]

        return LastHiddenState().eval()

    def keras_model(self, files: ModelFiles) -> Any:
        import keras_hub
        from keras_hub.src.utils.transformers import convert_distilbert
        from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

        from models.keras_loading import deferred_variables, initialise_leftovers

        config = json.loads(files.config.read_text())
        with deferred_variables():
            backbone = keras_hub.models.DistilBertBackbone(
                **convert_distilbert.convert_backbone_config(config)
            )
        with SafetensorLoader(str(files.directory)) as loader:  # finds the `distilbert.` keys
            convert_distilbert.convert_weights(backbone, loader, config)
        initialise_leftovers()
        return backbone

    def keras_feed(self, sample: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [sample["input_ids"].astype(np.int32), sample["attention_mask"].astype(np.int32)]

    def keras_structure(self, inputs: list[Any]) -> Any:
        # keras_hub's padding_mask is transformers' attention_mask: 1 = attend.
        return {"token_ids": inputs[0], "padding_mask": inputs[1]}


class TinyDistilBert(DistilBert):
    """The same architecture, 2 layers of width 32 over 16 tokens: a smoke test."""

    architecture: ClassVar[Architecture] = TINY
    name: ClassVar[str] = "tiny-distilbert"
    description: ClassVar[str] = "DistilBERT, 2 layers, hidden 32, 2 heads, vocabulary 1000 (smoke test)"
