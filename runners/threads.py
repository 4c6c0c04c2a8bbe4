"""Thread-count environment for a runner, applied before its framework is imported.

Stdlib only: this runs before the runner imports numpy, whose BLAS reads these on load.
"""

from __future__ import annotations

# Read by OpenMP, MKL and OpenBLAS when their libraries load; later changes are ignored.
_POOL_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# Set for every runner: no GPU is probed, and framework start-up chatter stays out of logs.
_QUIET_CPU_ONLY = {
    "CUDA_VISIBLE_DEVICES": "-1",
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "1",
}


# Every variable thread_env() may set: recorded with each result.
RECORDED_VARIABLES = (*_POOL_VARIABLES, *_QUIET_CPU_ONLY, "XLA_FLAGS")


def thread_env(framework: str, threads: int) -> dict[str, str]:
    """Environment variables that fix ``framework`` to ``threads`` compute threads."""
    env = dict(_QUIET_CPU_ONLY)
    env.update({name: str(threads) for name in _POOL_VARIABLES})
    if framework == "jax" and threads == 1:
        # JAX has no thread API: its Eigen pool follows the affinity mask unless this
        # forces it to run on the calling thread.
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env
