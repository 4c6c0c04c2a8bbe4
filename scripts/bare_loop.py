"""A bare timing loop for one framework, written independently of the orchestrator.

What a careful user would write by hand: pin, set threads, build the model from the run's
weights.parquet / model.onnx, warm up, time each call with perf_counter_ns, print the median.
Used by scripts/fidelity.py to check that the orchestrator's harness adds nothing.

    python scripts/bare_loop.py FRAMEWORK RUN_DIR --batch-size 1000 --threads 2 --cpus 0,1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

# Contexts that stay entered for the life of the process (PyTorch's inference mode).
_OPEN = contextlib.ExitStack()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("framework")
    parser.add_argument("run_dir")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--cpus", default=",".join(map(str, sorted(os.sched_getaffinity(0)))))
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()

    os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    os.environ.update(CUDA_VISIBLE_DEVICES="-1", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
    if args.framework == "jax" and args.threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

    import numpy as np
    import pyarrow.parquet as pq

    inputs = pq.read_table(os.path.join(args.run_dir, "inputs.parquet")).slice(0, args.batch_size)
    stacked = np.stack([c.to_numpy() for c in inputs.columns], axis=1).astype(np.float32)
    # 64-byte aligned, as a careful user would (JAX copies an unaligned input on every call).
    raw = np.empty(stacked.nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    x = raw[start : start + stacked.nbytes].view(np.float32).reshape(stacked.shape)
    x[...] = stacked
    rows = pq.read_table(os.path.join(args.run_dir, "weights.parquet")).to_pylist()
    layers = [
        (
            np.asarray(r["weight"], np.float32).reshape(r["in_features"], r["out_features"]),
            np.asarray(r["bias"], np.float32),
            r["activation"],
        )
        for r in sorted(rows, key=lambda r: r["layer"])
    ]
    onnx_path = os.path.join(args.run_dir, "model.onnx")
    predict = BUILDERS[args.framework](layers, onnx_path, x, args.threads)

    for _ in range(args.warmup):
        predict(x)
    latencies = []
    end = time.perf_counter() + args.min_time
    while time.perf_counter() < end:
        start = time.perf_counter_ns()
        predict(x)
        latencies.append(time.perf_counter_ns() - start)
    print(json.dumps({"p50_ms": float(np.median(latencies)) / 1e6, "iterations": len(latencies)}))


def pytorch(layers, onnx_path, x, threads):  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    modules = []
    for w, b, act in layers:
        linear = torch.nn.Linear(*w.shape)
        linear.weight.data = torch.from_numpy(w.T.copy())
        linear.bias.data = torch.from_numpy(b)
        modules += [linear, torch.nn.ReLU() if act == "relu" else torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*modules).eval()
    _OPEN.enter_context(torch.inference_mode())  # held for the whole loop, like the runner
    return lambda a: model(torch.from_numpy(a)).numpy()


def tensorflow(layers, onnx_path, x, threads):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = tf.keras.Sequential(
        [tf.keras.Input((w.shape[0],)) if i == 0 else None for i, (w, _, _) in enumerate(layers[:1])]
        + [tf.keras.layers.Dense(w.shape[1], activation=act) for w, _, act in layers]
    )
    for dense, (w, b, _) in zip(model.layers, layers):
        dense.set_weights([w, b])
    fn = tf.function(
        lambda a: model(a, training=False),
        input_signature=[tf.TensorSpec(x.shape, tf.float32)],
        jit_compile=True,
    )
    return lambda a: fn(a).numpy()


def jax(layers, onnx_path, x, threads):  # type: ignore[no-untyped-def]
    import jax
    import numpy as np

    params = [(jax.numpy.asarray(w), jax.numpy.asarray(b)) for w, b, _ in layers]

    @jax.jit
    def forward(params, a):  # type: ignore[no-untyped-def]
        for w, b in params[:-1]:
            a = jax.nn.relu(a @ w + b)
        w, b = params[-1]
        return jax.nn.sigmoid(a @ w + b)

    return lambda a: np.asarray(forward(params, a).block_until_ready())


def onnxruntime(layers, onnx_path, x, threads):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda a: session.run(None, {name: a})[0]


def openvino(layers, onnx_path, x, threads):  # type: ignore[no-untyped-def]
    import openvino as ov

    core = ov.Core()
    model = core.read_model(onnx_path)
    model.reshape({model.input(0).get_any_name(): list(x.shape)})
    compiled = core.compile_model(
        model,
        "CPU",
        {
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        },
    )
    request = compiled.create_infer_request()
    return lambda a: request.infer(a, share_inputs=True, share_outputs=True)[0]


BUILDERS = {f.__name__: f for f in (pytorch, tensorflow, jax, onnxruntime, openvino)}

if __name__ == "__main__":
    sys.exit(main())
