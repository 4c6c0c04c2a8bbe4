"""A bare timing loop of one framework and one model, written apart from the orchestrator's
runner: what a careful user would write by hand.

Pin, set the threads, import the framework, build the model from a run's model directory
(the model plug-in's builder: the same model), warm up, reset the peak RSS, time each call
with perf_counter_ns (numpy in, numpy out), and print the median, the RSS after the import and
the peak during the loop as one JSON line. scripts/fidelity.py runs it with the framework
environment's interpreter, beside the orchestrator's cell, to check what the harness adds.

    ENV/bin/python scripts/bare_loop.py FRAMEWORK RUN_DIR/models/MODEL --model-ref MODEL \\
        --batch-size 1 --threads 2 --cpus 0,1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# The project's model plug-ins (their builders are the model); nothing of the runner's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_OPEN = contextlib.ExitStack()  # contexts held for the life of the process (inference mode)


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("framework")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--model-ref", default="mlp")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--cpus", default=",".join(map(str, sorted(os.sched_getaffinity(0)))))
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()

    cpus = [int(c) for c in args.cpus.split(",")]
    if args.framework == "jax":  # JAX's pool follows the mask: the mask is its thread count
        cpus = cpus[: args.threads]
    os.sched_setaffinity(0, cpus)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    os.environ.update(CUDA_VISIBLE_DEVICES="-1", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
    os.environ["KERAS_BACKEND"] = "jax" if args.framework == "jax" else "tensorflow"

    import numpy as np

    from models.base import ModelFiles
    from models.registry import load_model

    model = load_model(args.model_ref)
    files = ModelFiles(args.model_dir, output=model.spec.output)
    sample = {}
    for name in model.spec.input_names():
        stored = np.load(args.model_dir / "inputs" / f"{name}.npy", mmap_mode="r")
        raw = np.ascontiguousarray(stored[: args.batch_size])
        buffer = np.empty(raw.nbytes + 64, np.uint8)  # 64-byte aligned, as a careful user would
        start = -buffer.ctypes.data % 64
        sample[name] = buffer[start : start + raw.nbytes].view(raw.dtype).reshape(raw.shape)
        sample[name][...] = raw
    del stored, raw

    started = time.perf_counter()
    predict, feed = BUILDERS[args.framework](model, files, sample, args.threads)
    rss_import = _status_mb("VmRSS")  # the builders import first: a close enough "after import"
    for _ in range(args.warmup):
        predict(feed)
    Path("/proc/self/clear_refs").write_text("5")  # peak from here on, as the runner does
    latencies = []
    end = time.perf_counter() + args.min_time
    while time.perf_counter() < end or len(latencies) < 20:
        start_ns = time.perf_counter_ns()
        predict(feed)
        latencies.append(time.perf_counter_ns() - start_ns)
    result = {
        "p50_ms": float(np.median(latencies)) / 1e6,
        "iterations": len(latencies),
        "rss_mb_after_build": rss_import,
        "peak_rss_mb": _status_mb("VmHWM"),
        "build_s": time.perf_counter() - started,
    }
    print(json.dumps(result))


def pytorch(model: Any, files: Any, sample: dict[str, Any], threads: int) -> tuple[Any, Any]:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    module = model.torch_module(files)
    _OPEN.enter_context(torch.inference_mode())
    names = list(sample)
    return (lambda s: module(*[torch.from_numpy(s[n]) for n in names]).numpy()), sample


def tensorflow(model: Any, files: Any, sample: dict[str, Any], threads: int) -> tuple[Any, Any]:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    net = model.keras_model(files)
    feed = model.keras_feed(sample)
    fn = tf.function(
        lambda *xs: net(model.keras_structure(list(xs)), training=False),
        input_signature=[tf.TensorSpec(x.shape, x.dtype) for x in feed],
        jit_compile=True,
    )
    return (lambda f: fn(*f).numpy()), feed


def jax(model: Any, files: Any, sample: dict[str, Any], threads: int) -> tuple[Any, Any]:
    import jax
    import numpy as np

    plain = model.jax_function(files)
    if plain is not None:
        forward, weights = plain
        params = jax.tree_util.tree_map(jax.numpy.asarray, weights)
        call = jax.jit(forward)
        feed = list(sample.values())
        return (lambda f: np.asarray(call(params, *f).block_until_ready())), feed
    net = model.keras_model(files)
    state = ([v.value for v in net.trainable_variables], [v.value for v in net.non_trainable_variables])

    @jax.jit
    def stateless(state: Any, *xs: Any) -> Any:
        return net.stateless_call(state[0], state[1], model.keras_structure(list(xs)), training=False)[0]

    feed = model.keras_feed(sample)
    return (lambda f: np.asarray(stateless(state, *f).block_until_ready())), feed


def onnxruntime(model: Any, files: Any, sample: dict[str, Any], threads: int) -> tuple[Any, Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(files.onnx), options, providers=["CPUExecutionProvider"])
    return (lambda s: session.run(None, s)[0]), sample


def openvino(model: Any, files: Any, sample: dict[str, Any], threads: int) -> tuple[Any, Any]:
    import openvino as ov

    core = ov.Core()
    network = core.read_model(str(files.onnx))
    network.reshape({name: list(x.shape) for name, x in sample.items()})
    config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    compiled = core.compile_model(network, "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    return (lambda s: request.infer(s, share_inputs=True, share_outputs=True)[0]), sample


BUILDERS = {f.__name__: f for f in (pytorch, tensorflow, jax, onnxruntime, openvino)}

if __name__ == "__main__":
    main()
