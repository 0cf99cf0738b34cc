#!/usr/bin/env bash
# Runs the fault-injection tests (build tag "faults") against a real
# consortium: the one of $RUN if there is one (restarting any of its
# processes that died), otherwise one brought up here and taken down
# afterwards. The tests kill, stop and start its processes, and leave it
# whole.
set -euo pipefail
: "${RUN:?RUN must name the run folder}"
: "${CONSORTIUM:?CONSORTIUM must be the consortium command}"

if [[ -f "$RUN/up.json" || -f "$RUN/stopped.json" ]]; then
  echo "faults: using the consortium of $RUN"
  $CONSORTIUM up
  # A process whose binary was rebuilt since it started (make build while
  # the consortium ran) runs other code than a restart during the tests
  # would: an indexer of a newer key layout replays from genesis and its
  # mirror no longer compares with the others. Restart those first.
  stale=()
  for pidfile in "$RUN"/pids/*.pid; do
    read -r pid _ <"$pidfile" || continue
    if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *" (deleted)" ]]; then
      stale+=("$(basename "$pidfile" .pid)")
    fi
  done
  if ((${#stale[@]})); then
    echo "faults: restarting ${stale[*]}: rebuilt since they started"
    $CONSORTIUM stop "${stale[@]}"
    $CONSORTIUM start "${stale[@]}"
  fi
else
  echo "faults: bringing a consortium up in $RUN"
  trap '$CONSORTIUM down' EXIT
  $CONSORTIUM up
fi
start=$SECONDS
GOVSHARE_RUN="$RUN" CONSORTIUM="$CONSORTIUM" go test -tags faults -count=1 -p 1 -timeout 12m ${GO_TEST_FLAGS:-} ./network/faults/... "$@"
echo "faults: passed in $((SECONDS - start))s"
