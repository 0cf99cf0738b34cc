#!/usr/bin/env bash
# Runs the integration tests (build tag "integration") against a real
# consortium: the one `make up` started if it is up, otherwise one brought up
# here and taken down afterwards. It stops only what it started.
set -euo pipefail
: "${RUN:?RUN must name the run folder}"
: "${CONSORTIUM:?CONSORTIUM must be the consortium command}"

started=0
if [[ -f "$RUN/up.json" ]] && $CONSORTIUM status | grep -q running && ! $CONSORTIUM status | grep -q dead; then
  echo "integration: reusing the consortium running in $RUN"
else
  echo "integration: bringing a consortium up in $RUN"
  started=1
  trap '$CONSORTIUM down' EXIT
  $CONSORTIUM up
fi
GOVSHARE_RUN="$RUN" go test -tags integration -count=1 -p 1 -timeout 20m ${GO_TEST_FLAGS:-} ./network/e2e/... "$@"
