#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by start_slurm.sh (pid files only).
# STOP_MUNGE=0 keeps munged running. Jobs still running are killed with slurmd.
set -u
[ "$(id -u)" -eq 0 ] || { echo "stop_slurm: ERROR: must be run as root" >&2; exit 1; }
stop() {  # name pidfile
    if [ -f "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null; then
        p=$(cat "$2"); kill "$p"
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p"
        echo "stop_slurm: stopped $1 (pid $p)"
    else
        echo "stop_slurm: $1 not running"
    fi
    rm -f "$2"
}
command -v scancel >/dev/null && scancel --user=root --quiet 2>/dev/null || true
stop slurmd /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
[ "${STOP_MUNGE:-1}" = 1 ] && stop munged /run/munge/munged.pid
exit 0
