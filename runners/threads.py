"""The environment a runner sets for its framework before importing it: thread counts, Keras's
backend, and nothing of the user's own framework configuration.

Stdlib only: this runs before the runner imports numpy, whose BLAS reads these on load.
"""

from __future__ import annotations

from runners.registry import shipped

# Read by OpenMP, MKL and OpenBLAS when their libraries load; later changes are ignored.
_POOL_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# Set for every runner: no GPU is probed, and framework start-up chatter stays out of logs.
_QUIET_CPU_ONLY = {
    "CUDA_VISIBLE_DEVICES": "-1",
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "1",
}

# Every variable runner_env() may set: recorded with each result.
RECORDED_VARIABLES = (*_POOL_VARIABLES, *_QUIET_CPU_ONLY, "KERAS_BACKEND", "KERAS_HOME")


def runner_env(framework: str, threads: int, keras_home: str) -> dict[str, str]:
    """Environment variables that fix ``framework`` to ``threads`` compute threads, and point
    Keras at an empty configuration directory of the cell's own (``keras_home``)."""
    env = dict(_QUIET_CPU_ONLY)
    env.update({name: str(threads) for name in _POOL_VARIABLES})
    env["KERAS_HOME"] = keras_home
    record = shipped(framework)
    if record is not None and record.keras_backend is not None:  # see Framework.keras_backend
        env["KERAS_BACKEND"] = record.keras_backend
    return env
