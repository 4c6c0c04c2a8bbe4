#!/usr/bin/env bash
# Nightly regression job on a fleet: the nightly matrix on every machine type of a Slurm
# cluster, one exclusive job per machine, submitted from a login node:
#
#   scripts/nightly_fleet.sh [CONFIG] --slurm-constraint icelake,genoa,graviton3 [flags...]
#   scripts/nightly_fleet.sh [CONFIG] --slurm-nodelist 'node[01-04]' --slurm-partition cpu
#
# The same as scripts/nightly.sh (CONFIG, default configs/nightly.toml; flags override it),
# with --executor slurm: the machines can be named in a [slurm] table of CONFIG instead. This
# project directory (its .venv), --output and --history must be on a filesystem every node
# shares. Each machine's job runs the matrix, appends its run to the history and compares it
# with that machine's own earlier runs (never another machine's); the parent follows the jobs
# and writes the cross-machine report (machines.md, machines.png) into the fleet directory.
# Exit status: 0 when every job completed with every cell ok and no regression, else 1
# (a job failed, was cancelled or timed out -- fleet.json says why -- or a cell did), 2 bad flags.
set -euo pipefail
exec "$(dirname "$0")/nightly.sh" "$@" --executor slurm
