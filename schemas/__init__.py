"""Contracts shared by the parent orchestrator and the runner subprocesses.

Nothing in this package imports a deep-learning framework: it is imported by the parent
process, which must stay free of them, and by every runner before its framework is loaded.
"""

# Version of every table and job file this package defines. Bump it on any change to a
# column's name, type or meaning, and note the change here.
#   1 -- first release: job.json, result.parquet, summary.parquet, samples.parquet,
#        inputs.parquet, weights.parquet.
#   2 -- scenarios, repeats, precision and modes: summary gains config_id, scenario,
#        precision, precision_effective, repeats, repeats_ok, latency_ms_p50_ci_low/high,
#        latency_ms_p50_spread_pct, warnings; cells.parquet (one row per process) is new;
#        samples gain config_id, repeat, pid; result gains pid, precision_effective
#        (was precision); job gains scenario, precision.
#   3 -- models, environments, versions: weights.parquet is gone (model.safetensors per
#        model); summary/cells gain framework_pin, environment, environment_key, model_source,
#        model_sha256, model_parameters, model_flops_per_sample, input_shapes, inputs_sha256,
#        measurement_json, options_json, ready_s, target_qps, latency_bound_ms, loadgen_validity,
#        peak_qps, latency_ms_p999, loadgen_json (and loadgen_json in result.parquet),
#        max_rel_diff, parity_reference, python, modules_json; parity_tolerance becomes
#        nullable (absolute, from the model's own tolerance); samples gain model; result gains
#        python, modules_json; job.json holds the model (inputs by name) and options.
#   4 -- instances: summary/cells gain instances (copies run at once), cells gain instance.
#   5 -- figures of the cell's own shapes: summary/cells gain model_flops_basis (how
#        model_flops_per_sample was found, now at the cell's input_shapes, or why it is null)
#        and parity_nonfinite (where outputs are NaN or infinite, against the reference).
#   6 -- CPUs read back: result/summary/cells gain cpus_observed (the union of the runner's
#        threads' CPU masks) and cpu_wait_s (run-queue wait); cpus_allowed counts cpus_observed
#        instead of copying the plan (null where nothing was observed).
#   7 -- precision and accuracy: summary/cells gain accuracy, accuracy_reference and
#        accuracy_samples (a trained model's held-out labels; null for a model without them);
#        the precision axis (issue 23): precision takes int8, int8-static, int8-dynamic too;
#        summary/cells gain cosine_min, cosine_mean, sqnr_db, top1_agreement (fidelity against
#        the reference) and fidelity_shortfall (the acceptance floor a cell fell under);
#        summary gains speedup_vs_fp32.
#        result/summary/cells gain quantize_s (seconds quantizing, outside the timed loop);
#        job.json gains quantized (the model a quantizer made) and model.calibration.
#        The machine's limit: summary gains gflops_per_s, arithmetic_intensity,
#        roof_precision, roof_measured_gflops, roof_theoretical_gflops, roof_measured_gbs,
#        roof_pct_measured, roof_pct_theoretical, roof_omitted; summary/cells gain
#        model_io_bytes_per_sample.
SCHEMA_VERSION = 7

# The oldest version still read (a history outlives releases): a column added since reads as
# its default where ``schemas.tables.ADDED_COLUMN_DEFAULTS`` has one, else as null.
OLDEST_READABLE_VERSION = 3
