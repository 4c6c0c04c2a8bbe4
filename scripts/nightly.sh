#!/usr/bin/env bash
# Nightly regression job, callable as is from cron or CI:
#
#   scripts/nightly.sh [CONFIG] [extra orchestrator flags...]
#   NIGHTLY_SITE=/srv/www/bench scripts/nightly.sh      # publish the history site there
#
# Sets up .venv/ if it is missing (exact versions from constraints.txt), runs the fixed matrix
# in CONFIG (default configs/nightly.toml), appends the run to its history, compares it with
# the latest comparable run there, and writes the reports. Then publishes the history site
# (`python -m orchestrator history report HISTORY --output SITE`: every configuration's trend,
# the gate's regressions, feed.xml) into $NIGHTLY_SITE, by default `site/` beside the history
# (results/site for configs/nightly.toml); the history is --history if given, else CONFIG's.
# The exit status is the orchestrator's: 0 fine, 1 a cell failed or a regression beyond the
# config's fail-on-regression, 2 a bad config, 130/143 interrupted (no site then); a run that
# was fine but whose site could not be written exits 1, saying so.
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

# The history the run appends to: the last --history on the command line, else the config's.
history=$(.venv/bin/python -c 'import sys, tomllib
try:
    print(tomllib.load(open(sys.argv[1], "rb")).get("history", ""))
except (OSError, ValueError):
    pass  # the orchestrator names what is wrong with the config
' "$config")
previous=
for arg in "$@"; do
    case $arg in --history=*) history=${arg#--history=} ;; esac
    if [ "$previous" = --history ]; then history=$arg; fi
    previous=$arg
done

# The run in the background, so that a SIGTERM sent to this script reaches it (a foreground
# child would get it only after it ended). Ctrl-C reaches it from the terminal by itself: the
# orchestrator sets its own handlers, and a second SIGINT would cut its clean-up short.
.venv/bin/python -m orchestrator --config "$config" "$@" &
run=$!
trap 'kill -TERM "$run" 2>/dev/null || true' TERM HUP
trap ':' INT
status=0
wait "$run" || status=$?
while kill -0 "$run" 2>/dev/null; do  # wait returned for a signal: wait for the run's own status
    status=0
    wait "$run" || status=$?
done
trap - TERM HUP INT

if [ "$status" -le 1 ] && [ -n "$history" ] && [ -d "$history/summary" ]; then
    site=${NIGHTLY_SITE:-$(dirname "$history")/site}
    if ! .venv/bin/python -m orchestrator history report "$history" --output "$site"; then
        echo "nightly: the run is in $history, but publishing its site to $site failed" >&2
        [ "$status" -ne 0 ] || status=1
    fi
fi
exit "$status"
