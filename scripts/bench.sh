#!/usr/bin/env bash
# Runs the benchmark (scripts/bench) against a real consortium: the one of
# RUN if it is up or stopped (restarting any of its processes that died),
# otherwise one brought up here and taken down afterwards. It stops only
# what it started. Extra arguments go to the benchmark (e.g. -quick).
set -euo pipefail
: "${RUN:?RUN must name the run folder}"
: "${CONSORTIUM:?CONSORTIUM must be the consortium command}"
: "${BENCH_FLAGS:?BENCH_FLAGS must give the benchmark the consortium flags (-root, -run, -project-bin, ...)}"

# The scale run (-scale sizes) is offline: a synthetic ledger, no consortium.
for arg in "$@"; do
  if [[ "$arg" == -scale || "$arg" == -scale=* || "$arg" == --scale || "$arg" == --scale=* ]]; then
    # shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
    exec go run ./scripts/bench $BENCH_FLAGS "$@"
  fi
done

if [[ -f "$RUN/up.json" || -f "$RUN/stopped.json" ]]; then
  echo "bench: using the consortium of $RUN"
  $CONSORTIUM up
else
  echo "bench: bringing a consortium up in $RUN"
  trap '$CONSORTIUM down' EXIT
  $CONSORTIUM up
fi
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
go run ./scripts/bench $BENCH_FLAGS "$@"
