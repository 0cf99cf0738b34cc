#!/usr/bin/env bash
# Runs the integration tests (build tag "integration") against a real
# consortium: the one `make up` started if there is one (restarting any of
# its processes that died), otherwise one brought up here and taken down
# afterwards. It stops only what it started.
set -euo pipefail
: "${RUN:?RUN must name the run folder}"
: "${CONSORTIUM:?CONSORTIUM must be the consortium command}"

if [[ -f "$RUN/up.json" || -f "$RUN/stopped.json" ]]; then
  echo "integration: using the consortium of $RUN"
  $CONSORTIUM up
else
  echo "integration: bringing a consortium up in $RUN"
  trap '$CONSORTIUM down' EXIT
  $CONSORTIUM up
fi
GOVSHARE_RUN="$RUN" go test -tags integration -count=1 -p 1 -timeout 20m ${GO_TEST_FLAGS:-} ./network/e2e/... ./network/attack/... "$@"
# The web console in a real headless browser, against the same consortium.
GOVSHARE_RUN="$RUN" scripts/browser-test.sh
