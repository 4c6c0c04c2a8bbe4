"""Arrow schemas of every Parquet file that crosses the process boundary or is published.

Units are in the column names. Nullable columns are null when a cell did not get as far as
measuring them (a skipped or failed cell).
"""

from __future__ import annotations

import pyarrow as pa

# result.parquet: exactly one row, written by a runner for its own cell.
RESULT = pa.schema(
    [
        pa.field("cell_id", pa.string(), nullable=False),
        pa.field("framework", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # ok | failed | skipped
        pa.field("error", pa.string()),
        pa.field("pid", pa.int64()),
        pa.field("framework_version", pa.string()),
        pa.field("precision_effective", pa.string()),  # as read back from the framework
        pa.field("settings_json", pa.string()),  # every framework option that was set
        pa.field("threads_observed", pa.int64()),  # as the framework reports it
        pa.field("os_threads", pa.int64()),  # threads in the process after the timed loop
        pa.field("affinity_observed", pa.string()),
        pa.field("cpus_observed", pa.string()),  # union of every thread's CPU mask, read back
        pa.field("cpu_wait_s", pa.float64()),  # busy threads' run-queue wait in the timed loop
        pa.field("import_s", pa.float64()),
        pa.field("load_s", pa.float64()),
        pa.field("first_inference_ms", pa.float64()),
        pa.field("ready_s", pa.float64()),  # load_s + the first call: compiled, in every framework
        pa.field("quantize_s", pa.float64()),  # quantized at load (PyTorch's flow): its own phase
        pa.field("iterations", pa.int64()),
        pa.field("timed_s", pa.float64()),
        pa.field("cpu_percent", pa.float64()),
        pa.field("ctx_switches_involuntary", pa.int64()),
        pa.field("rss_mb_baseline", pa.float64()),
        pa.field("rss_mb_import", pa.float64()),
        pa.field("rss_mb_load", pa.float64()),
        pa.field("peak_rss_mb", pa.float64()),
        pa.field("uss_mb", pa.float64()),
        pa.field("pss_mb", pa.float64()),
        pa.field("python", pa.string()),  # the interpreter that ran it: which environment
        pa.field("modules_json", pa.string()),  # top-level modules loaded when the peak was read
        pa.field("loadgen_json", pa.string()),  # a LoadGen scenario's results, as its log has them
        pa.field("latencies_ns", pa.list_(pa.int64())),
        pa.field("outputs", pa.list_(pa.float32())),  # null when the runner has no model (noop)
    ]
)

_LATENCY_STATS = ("mean", "p50", "p90", "p95", "p99", "min", "max", "std")

# What a cell is: the plan's settings for it.
# The columns of schemas.configuration.CONFIG_COLUMNS are among these.
_CELL_SETTINGS = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("config_id", pa.string(), nullable=False),  # the same for every repeat
    pa.field("framework", pa.string(), nullable=False),
    pa.field("framework_pin", pa.string()),  # the VERSION of framework@VERSION; null: as installed
    pa.field("environment", pa.string(), nullable=False),  # own | shared | current
    pa.field("model", pa.string(), nullable=False),  # mlp, resnet50, ... or the user's file's stem
    pa.field("model_source", pa.string()),  # built-in, or the user's file
    pa.field("model_sha256", pa.string()),  # of the user's file, or of the built-in's weights
    pa.field("model_parameters", pa.int64()),
    pa.field("model_flops_per_sample", pa.float64()),  # 2 x multiply-adds at input_shapes, where known
    pa.field("model_flops_basis", pa.string()),  # how that figure was found, or why there is none
    pa.field(
        "model_io_bytes_per_sample", pa.float64()
    ),  # one sample's inputs and output (no reference: inputs)
    pa.field("input_shapes", pa.string(), nullable=False),  # JSON: input name -> shape of one call
    pa.field("inputs_sha256", pa.string()),  # of the input tensors (the seed's, or the user's --inputs)
    pa.field("measurement_json", pa.string()),  # seed, warm-up, stop rule, timeout: how it was timed
    pa.field("scenario", pa.string(), nullable=False),  # offline | single-stream | server | ...
    pa.field("target_qps", pa.float64()),  # server: the offered rate (null for server-peak: found)
    pa.field("latency_bound_ms", pa.float64()),  # server: the p99 latency a VALID run stays under
    pa.field("batch_size", pa.int64(), nullable=False),
    pa.field("threads", pa.int64(), nullable=False),
    pa.field("cpus", pa.string(), nullable=False),  # as asked (--cpus); ran on: cpus_observed
    pa.field("precision", pa.string(), nullable=False),  # as asked: schemas.precisions.PRECISIONS
    pa.field("options_json", pa.string(), nullable=False),  # execution options asked, JSON ("{}")
    pa.field("instances", pa.int64(), nullable=False),  # copies of the runner at once, each on its own CPUs
    pa.field("mode", pa.string(), nullable=False),  # isolated | in-process (memory shared)
]

# What was measured in one process, or the median over processes in the summary.
_MEASURED = [
    pa.field("status", pa.string(), nullable=False),  # ok | failed | skipped | timeout | interrupted
    pa.field("error", pa.string()),
    pa.field("framework_version", pa.string()),
    pa.field("precision_effective", pa.string()),
    pa.field("iterations", pa.int64()),
    # Every percentile as computed from the timed calls (linear interpolation), however few:
    # p90 rests on 100+ calls, p95 on 200+, p99 on 1000+ (10 beyond it); below that the figure is
    # an interpolation between the few slowest calls. The reports show only the supported ones
    # (orchestrator.report.labels.shown_percentile, from ``iterations``); a reader of this file applies
    # the same rule.
    *[pa.field(f"latency_ms_{stat}", pa.float64()) for stat in _LATENCY_STATS],
    pa.field("throughput_per_s", pa.float64()),  # samples per second at the p50 latency
    pa.field("cpu_percent", pa.float64()),  # 100 = one core busy for the timed loop
    pa.field("cpus_allowed", pa.int64()),  # how many CPUs cpus_observed holds (null: not observed)
    pa.field("cpus_observed", pa.string()),  # every CPU the runner's threads could run on, read back
    # Seconds the computing threads were ready to run but waited for a CPU, over the timed loop
    # (schedstat run_delay; null where the kernel keeps none or no thread was busy): the
    # contention check's evidence.
    pa.field("cpu_wait_s", pa.float64()),
    pa.field("ctx_switches_involuntary", pa.int64()),
    pa.field("rss_mb_baseline", pa.float64()),
    pa.field("rss_mb_import", pa.float64()),
    pa.field("rss_mb_load", pa.float64()),
    pa.field("peak_rss_mb", pa.float64()),
    pa.field("uss_mb", pa.float64()),
    pa.field("pss_mb", pa.float64()),
    pa.field("import_s", pa.float64()),
    pa.field("load_s", pa.float64()),
    pa.field("first_inference_ms", pa.float64()),
    pa.field("ready_s", pa.float64()),  # load_s + the first call: compiled, in every framework
    # Seconds quantizing the model took, outside the timed loop and load_s: the quantize process
    # (offline, once per framework/model/precision/options) or the runner's own phase (at load).
    pa.field("quantize_s", pa.float64()),
    pa.field("timed_s", pa.float64()),
    pa.field("max_abs_diff", pa.float64()),
    pa.field("max_rel_diff", pa.float64()),  # max_abs_diff over the largest reference output
    pa.field("parity_tolerance", pa.float64()),  # the largest max_abs_diff that passes
    pa.field("parity_reference", pa.string()),  # what the outputs were checked against
    pa.field("parity_ok", pa.bool_()),  # null when the runner computes no model (noop)
    pa.field("parity_nonfinite", pa.string()),  # which outputs are NaN/inf, here and in the reference
    # A trained model's held-out labels (models/digits.py; null for a model without labels): the
    # share its outputs' argmax predicts, the float64 reference's share on the same samples, and
    # how many labelled samples counted.
    pa.field("accuracy", pa.float64()),
    pa.field("accuracy_reference", pa.float64()),
    pa.field("accuracy_samples", pa.int64()),
    # Fidelity against the same reference (orchestrator/figures/fidelity.py), over its rows:
    pa.field("cosine_min", pa.float64()),  # cosine similarity of a sample's output, the least
    pa.field("cosine_mean", pa.float64()),  # ... and the mean over the samples
    pa.field("sqnr_db", pa.float64()),  # 10 log10(sum ref^2 / sum (ref - out)^2); inf: equal
    pa.field("top1_agreement", pa.float64()),  # 0..1: samples whose class is the reference's
    pa.field("fidelity_shortfall", pa.string()),  # which floor of the model's acceptance failed
    pa.field("threads_observed", pa.int64()),
    pa.field("os_threads", pa.int64()),
    pa.field("affinity_observed", pa.string()),
    pa.field("settings_json", pa.string()),
    pa.field("loadgen_validity", pa.string()),  # VALID | INVALID | INCOMPLETE, for a LoadGen scenario
    pa.field("peak_qps", pa.float64()),  # server-peak: the highest VALID rate found
    pa.field("latency_ms_p999", pa.float64()),  # LoadGen's 99.9th percentile
    pa.field("loadgen_json", pa.string()),  # LoadGen's results: reason, rate, counts, peak probes
    pa.field("environment_key", pa.string()),  # the recipe hash of the environment it ran in
    pa.field("python", pa.string()),
    pa.field("modules_json", pa.string()),  # top-level modules loaded when the peak was read
]

# cells.parquet: one row per cell, i.e. per worker process and configuration.
CELLS = pa.schema(
    [
        pa.field("cell_id", pa.string(), nullable=False),
        pa.field("repeat", pa.int64(), nullable=False),
        pa.field("instance", pa.int64(), nullable=False),  # which of the copies run at once
        pa.field("pid", pa.int64()),
        *_CELL_SETTINGS,
        *_MEASURED,
    ]
)

# summary.parquet: one row per configuration. Every measured figure is the median over its
# repeats (its processes); with --repeats 1 a summary row is its single cell's row.
SUMMARY = pa.schema(
    [
        pa.field("cell_id", pa.string(), nullable=False),  # of the first repeat
        *_CELL_SETTINGS,
        *_MEASURED,
        pa.field("repeats", pa.int64(), nullable=False),
        pa.field("repeats_ok", pa.int64(), nullable=False),
        pa.field("latency_ms_p50_ci_low", pa.float64()),  # 95 % bootstrap interval of the p50
        pa.field("latency_ms_p50_ci_high", pa.float64()),
        pa.field("latency_ms_p50_spread_pct", pa.float64()),  # (max - min) / median over repeats
        # The same configuration's fp32 p50 over this one's (null without an ok fp32 row).
        pa.field("speedup_vs_fp32", pa.float64()),
        pa.field("warnings", pa.string()),  # "; "-separated reasons to doubt a figure
        # The cell under the machine's roofs (orchestrator.figures.roofs; null, with
        # roof_omitted saying why, where a figure is unknown -- never a zero):
        pa.field("gflops_per_s", pa.float64()),  # model_flops_per_sample x throughput_per_s
        pa.field(
            "arithmetic_intensity", pa.float64()
        ),  # FLOP per byte of weights + inputs/outputs a call moves
        pa.field("roof_precision", pa.string()),  # whose roof: precision_effective's
        pa.field("roof_measured_gflops", pa.float64()),  # that roof, measured, at the cell's busy threads
        pa.field("roof_theoretical_gflops", pa.float64()),  # that roof, from the CPU's features
        pa.field("roof_measured_gbs", pa.float64()),  # memory bandwidth, measured (STREAM-like triad)
        pa.field("roof_pct_measured", pa.float64()),  # 100 x gflops_per_s / roof_measured_gflops
        pa.field("roof_pct_theoretical", pa.float64()),  # 100 x gflops_per_s / roof_theoretical_gflops
        pa.field("roof_omitted", pa.string()),  # why part of the point is missing, else null
    ]
)

# samples.parquet: one row per timed call of every cell.
SAMPLES = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("cell_id", pa.string(), nullable=False),
        pa.field("config_id", pa.string(), nullable=False),
        pa.field("framework", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("repeat", pa.int64(), nullable=False),
        pa.field("pid", pa.int64(), nullable=False),  # the worker process the sample came from
        pa.field("iteration", pa.int64(), nullable=False),
        pa.field("latency_ns", pa.int64(), nullable=False),
    ]
)
