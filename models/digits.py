"""A small trained classifier, so that a precision's cost is measured as accuracy on real labels,
not only as distance from the reference: scikit-learn's bundled handwritten digits (1,797
labelled 8x8 images, shipped inside the package: nothing is downloaded), a dense network
64-128-64-10 (ReLU, logits out) trained here in numpy.

The data is split once, stratified and seeded, into 70 % training and 30 % held out. The network
is trained on the training split with plain mini-batch Adam in float64 numpy (a fixed seed, no
framework), at first use, and cached under ``~/.cache/inference-bench/models/`` by a key of
everything that determines the weights (the recipe, the split's bytes, numpy's version); later
runs load it. The measured inputs are the held-out images, whose labels give each cell's
accuracy; a quantizer's calibration samples come from the training split, never from them.

The weights then travel like the spam MLP's (model.safetensors, the ONNX graph written by the
parent), and every framework builds the network with :class:`models.mlp.Mlp`'s builders.
``--seed`` does not change this model: its weights and split are fixed, so its figures compare
across runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import ModelFiles
from models.mlp import Mlp, activate
from models.spec import Flops, InputSpec, ModelSpec, Tolerance, TopOne
from schemas.files import write_bytes, write_json

LAYER_SIZES = (64, 128, 64, 10)
ACTIVATIONS = ("relu", "relu", "linear")  # logits out: the class is their argmax
HELD_OUT = 540  # 30 % of 1,797, stratified: the samples measured, and whose labels count

# Everything that determines the weights besides the data; a change here is a new cache key.
RECIPE: dict[str, Any] = {
    "version": 1,
    "layer_sizes": LAYER_SIZES,
    "activations": ACTIVATIONS,
    "held_out_fraction": 0.3,
    "split_seed": 0,
    "init": "U(-1/sqrt(fan_in), 1/sqrt(fan_in)), seed 0",
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "betas": (0.9, 0.999),
    "epsilon": 1e-8,
    "batch_size": 32,
    "epochs": 40,
    "shuffle_seed": 1,
    "loss": "softmax cross-entropy",
    "arithmetic": "float64 numpy on one BLAS thread, stored as float32",
}

SPEC = ModelSpec(
    name="digits",
    description="handwritten digits (scikit-learn's 8x8), dense 64-128-64-10 trained in numpy",
    inputs=(InputSpec("input", "float32", ("batch", LAYER_SIZES[0]), values="uniform"),),
    output="output",
    default_dims={"batch": HELD_OUT},  # the held-out split in one call
    single_stream_samples=HELD_OUT,  # a single stream cycles through every held-out image
    reference_rows=1_000_000,  # exact float64 maths is cheap: check every row
    # Logits reach ~30: float32 rounding stays near 1e-6 of them; bfloat16 keeps 8 bits of
    # mantissa (~4e-3 a rounding), compounded over three layers. A lower precision is held to
    # what a user loses: the held-out accuracy at least 99 % of the float64 reference's
    # (MLPerf's bar for int8), and for int8 an SQNR floor of 20 dB as ResNet-50's (a wrong
    # scale or a saturated layer falls far below it). Top-1 agreement is shown, not judged:
    # a flip between two wrong classes costs no accuracy.
    tolerance={
        "fp32": Tolerance(absolute=1e-5, relative=1e-5),
        "bf16": Tolerance(relative=5e-2, min_accuracy_ratio=0.99),
        "int8": Tolerance(absolute=math.inf, min_sqnr_db=20.0, min_accuracy_ratio=0.99),
    },
    top1=TopOne("argmax"),
    parameters=sum(i * o + o for i, o in itertools.pairwise(LAYER_SIZES)),
)

Layers = list[tuple[np.ndarray, np.ndarray, str]]


@dataclass(frozen=True)
class Split:
    """The digits as float32 in [0, 1] (pixel / 16), split into training and held-out samples."""

    train_x: np.ndarray
    train_y: np.ndarray
    held_out_x: np.ndarray
    held_out_y: np.ndarray

    def sha256(self) -> str:
        """Of the four arrays' bytes: the data part of the cache key."""
        digest = hashlib.sha256()
        for array in (self.train_x, self.train_y, self.held_out_x, self.held_out_y):
            digest.update(np.ascontiguousarray(array).data)
        return digest.hexdigest()


def load_split() -> Split:
    """The bundled digits, split stratified and seeded (scikit-learn's own ``train_test_split``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    train_x, held_x, train_y, held_y = train_test_split(
        x, y, test_size=RECIPE["held_out_fraction"], stratify=y, random_state=RECIPE["split_seed"]
    )
    assert len(held_y) == HELD_OUT, f"the held-out split has {len(held_y)} samples, expected {HELD_OUT}"
    return Split(train_x, train_y, held_x, held_y)


@dataclass(frozen=True)
class Trained:
    """The trained layers and how they came: the cache key, the seconds training took (when it
    was done), and the float64 network's accuracy on each split."""

    layers: Layers
    key: str
    train_s: float
    train_accuracy: float
    held_out_accuracy: float


def train(split: Split) -> Layers:
    """The network trained on ``split``'s training samples: deterministic, byte for byte, for a
    given numpy on a given machine (fixed seeds, float64, one BLAS thread)."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    # One thread: the same sums in the same order on any machine's core count, and no threads
    # spinning over matrices this small (under load, several threads took 15x as long).
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(split)


def _train(split: Split) -> Layers:
    rng = np.random.default_rng(0)
    params: list[np.ndarray] = []
    for fan_in, fan_out in itertools.pairwise(LAYER_SIZES):
        bound = 1.0 / np.sqrt(fan_in)
        params += [rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)]
    moments = [np.zeros_like(p) for p in params] + [np.zeros_like(p) for p in params]
    x, y = split.train_x.astype(np.float64), split.train_y
    order_rng = np.random.default_rng(RECIPE["shuffle_seed"])
    step = 0
    for _ in range(RECIPE["epochs"]):
        order = order_rng.permutation(len(x))
        for start in range(0, len(x), RECIPE["batch_size"]):
            batch = order[start : start + RECIPE["batch_size"]]
            step += 1
            _adam_step(params, moments, _gradients(params, x[batch], y[batch]), step)
    return [
        (params[2 * i].astype(np.float32), params[2 * i + 1].astype(np.float32), activation)
        for i, activation in enumerate(ACTIVATIONS)
    ]


def _gradients(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Gradients of the mean softmax cross-entropy over the batch, by backpropagation."""
    activations = [x]
    for i, activation in enumerate(ACTIVATIONS):
        activations.append(activate(activations[-1] @ params[2 * i] + params[2 * i + 1], activation))
    logits = activations[-1]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    delta = probabilities
    delta[np.arange(len(y)), y] -= 1.0
    delta /= len(y)
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    for i in reversed(range(len(ACTIVATIONS))):
        grads[2 * i], grads[2 * i + 1] = activations[i].T @ delta, delta.sum(axis=0)
        if i:
            delta = (delta @ params[2 * i].T) * (activations[i] > 0)  # the layer below is ReLU
    return grads


def _adam_step(
    params: list[np.ndarray], moments: list[np.ndarray], grads: list[np.ndarray], step: int
) -> None:
    """One Adam update of ``params`` in place (Kingma & Ba, with bias correction)."""
    rate, (beta1, beta2), eps = RECIPE["learning_rate"], RECIPE["betas"], RECIPE["epsilon"]
    first, second = moments[: len(params)], moments[len(params) :]
    for p, m, v, g in zip(params, first, second, grads):
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        p -= rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)


def accuracy(layers: Layers, x: np.ndarray, y: np.ndarray) -> float:
    """Share of ``y`` that the float64 network's argmax predicts."""
    from models.mlp import forward_float64

    return float(np.mean(np.argmax(forward_float64(layers, x), axis=1) == y))


def cache_key(split: Split) -> str:
    """What determines the weights: the recipe, the split's bytes and numpy (its BLAS sums)."""
    text = json.dumps({"recipe": RECIPE, "data": split.sha256(), "numpy": np.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/inference-bench/models`` (``~/.cache`` without it), beside the
    frameworks' environments."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "inference-bench" / "models"


def trained(directory: Path | None = None) -> Trained:
    """The trained network: from the cache when it holds this key's weights intact, else
    trained now (a line on stderr says so, and how long it took) and cached."""
    split = load_split()
    key = cache_key(split)
    path = (directory or cache_dir()) / f"digits-{key}.safetensors"
    layers, train_s = _read_cache(path), None
    if layers is None:
        print(f"digits: training the network in numpy (cache {path})", file=sys.stderr)
        started = time.perf_counter()
        layers = train(split)
        train_s = time.perf_counter() - started
        _write_cache(path, layers, train_s)
        print(f"digits: trained in {train_s:.1f} s", file=sys.stderr)
    else:
        train_s = _cached_train_s(path)
    return Trained(
        layers,
        key,
        train_s,
        accuracy(layers, split.train_x, split.train_y),
        accuracy(layers, split.held_out_x, split.held_out_y),
    )


def tensors_sha256(tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of named tensors' names and bytes, in name order: the weights' identity."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name]).data)
    return digest.hexdigest()


def _write_cache(path: Path, layers: Layers, train_s: float) -> None:
    """The weights, their checksum and the training's seconds, atomically."""
    from safetensors.numpy import save

    tensors = as_tensors(layers)
    metadata = {"sha256": tensors_sha256(tensors), "train_s": f"{train_s:.3f}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(save(tensors, metadata=metadata), path)


def _read_cache(path: Path) -> Layers | None:
    """The cached layers, or None when there are none -- or they are unreadable or not what was
    written (a one-line warning says so, and they are trained again)."""
    if not path.exists():
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
            expected = (handle.metadata() or {}).get("sha256")
        if expected != tensors_sha256(tensors):
            raise ValueError("its checksum does not match its weights")
        return _as_layers(tensors)
    except Exception as exc:  # any unreadable file is trained again: the cache is never the truth
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(
            f"digits: warning: the cached weights {path} are corrupt ({reason}); training again",
            file=sys.stderr,
        )
        return None


def _cached_train_s(path: Path) -> float:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        return float((handle.metadata() or {}).get("train_s", "nan"))


def as_tensors(layers: Layers) -> dict[str, np.ndarray]:
    """The layers by the names model.safetensors gives them (``dense0.kernel`` ...)."""
    tensors = {}
    for i, (kernel, bias, _) in enumerate(layers):
        tensors[f"dense{i}.kernel"], tensors[f"dense{i}.bias"] = kernel, bias
    return tensors


def _as_layers(tensors: Mapping[str, np.ndarray]) -> Layers:
    return [
        (tensors[f"dense{i}.kernel"], tensors[f"dense{i}.bias"], activation)
        for i, activation in enumerate(ACTIVATIONS)
    ]


def _cycled(array: np.ndarray, rows: int) -> np.ndarray:
    """The first ``rows`` of ``array`` repeated end to end."""
    return array[np.arange(rows) % len(array)]


class Digits(Mlp):
    """The trained digits classifier in every framework, through the MLP's builders."""

    onnx_graph_name: ClassVar[str] = "digits_mlp"
    reference_kind: ClassVar[str] = "the trained network in float64 numpy"

    @property
    def spec(self) -> ModelSpec:
        return SPEC

    def flops(self, shapes: Mapping[str, tuple[int, ...]], files: ModelFiles) -> Flops:
        """The layers' multiply-adds: fixed sizes, the same at every batch."""
        total = 2.0 * sum(i * o for i, o in itertools.pairwise(LAYER_SIZES))
        return Flops(total, "formula: 2 x multiply-adds of the dense layers")

    def write_weights(self, seed: int, directory: Path) -> None:
        """The trained weights (``seed`` does not change them), and in config.json how they
        were trained and the float64 network's accuracy on each split."""
        del seed  # fixed weights: the figures of one run compare with another's
        found = trained()
        from safetensors.numpy import save

        write_bytes(save(as_tensors(found.layers)), directory / "model.safetensors")
        config = {
            "architecture": "mlp",
            "layer_sizes": LAYER_SIZES,
            "activations": list(ACTIVATIONS),
            "trained": {
                "data": "sklearn.datasets.load_digits, pixels / 16",
                "recipe": RECIPE,
                "cache_key": found.key,
                "train_s": found.train_s,
                "train_accuracy": found.train_accuracy,
                "held_out_accuracy": found.held_out_accuracy,
            },
        }
        write_json(config, directory / "config.json")

    def make_inputs(self, seed: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """The held-out images in the split's order, repeated when a call holds more of them."""
        del seed
        return {"input": _cycled(load_split().held_out_x, shapes["input"][0])}

    def labels(self) -> np.ndarray:
        return load_split().held_out_y

    def calibration_inputs(self, seed: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """Training images, a seeded choice of them (every one before any repeats): never the
        held-out images the accuracy is measured on."""
        train_x = load_split().train_x
        order = np.random.default_rng([seed, 2]).permutation(len(train_x))
        return {"input": train_x[_cycled(order, shapes["input"][0])]}
