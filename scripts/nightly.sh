#!/usr/bin/env bash
# Nightly regression job, callable as is from cron or CI:
#
#   scripts/nightly.sh [CONFIG] [extra orchestrator flags...]
#
# Sets up .venv/ if it is missing (exact versions from constraints.txt), runs the fixed matrix
# in CONFIG (default configs/nightly.toml), appends the run to its history, compares it with
# the latest comparable run there, and writes the reports. The exit status is the
# orchestrator's: 0 fine, 1 a cell failed or a regression beyond the config's
# fail-on-regression, 2 a bad config, 130/143 interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first argument is the config only when it is not a flag: `nightly.sh --output X` keeps the
# default config and passes the flag on.
config=configs/nightly.toml
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    config=$1
    shift
fi

if [ ! -x .venv/bin/python ]; then
    python3.11 -m venv .venv
    .venv/bin/pip install -q -c constraints.txt -e .
fi
exec .venv/bin/python -m orchestrator --config "$config" "$@"
