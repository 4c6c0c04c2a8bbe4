"""Contracts shared by the parent orchestrator and the runner subprocesses.

Nothing in this package imports a deep-learning framework: it is imported by the parent
process, which must stay free of them, and by every runner before its framework is loaded.
"""

# Version of every table and job file this package defines. Bump it on any change to a
# column's name, type or meaning, and note the change here.
#   1 -- first release: job.json, result.parquet, summary.parquet, samples.parquet,
#        inputs.parquet, weights.parquet.
SCHEMA_VERSION = 1
