#!/usr/bin/env bash
# Runs the web console's browser tests (gateway/console/browsertest): Debian's
# headless Chromium, driven by playwright-core under node's test runner,
# against a real consortium. Like integration.sh, when CONSORTIUM is set it
# uses the consortium of $RUN if there is one, otherwise brings one up and
# takes it down afterwards; it stops only what it started. Without
# CONSORTIUM it needs a running consortium in $RUN. It installs what is
# missing: chromium from Debian, playwright-core (pinned in package-lock.json)
# with npm ci. Screenshots go to $GOVSHARE_SCREENSHOTS, by default
# .cache/console-screenshots, outside the run folder that `down` empties.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${RUN:-${GOVSHARE_RUN:-$ROOT/.run}}"
TESTDIR="$ROOT/gateway/console/browsertest"
export GOVSHARE_SCREENSHOTS="${GOVSHARE_SCREENSHOTS:-$ROOT/.cache/console-screenshots}"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "browser-test: installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "browser-test: installing Node.js and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
pinned() { (cd "$TESTDIR" && node -p "require('./package.json').dependencies['playwright-core']"); }
installed() { (cd "$TESTDIR" && node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null) || true; }
if [[ "$(installed)" != "$(pinned)" ]]; then
  (cd "$TESTDIR" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ -n "${CONSORTIUM:-}" ]]; then
  if [[ -f "$RUN/up.json" || -f "$RUN/stopped.json" ]]; then
    echo "browser-test: using the consortium of $RUN"
    $CONSORTIUM up # restarts any of its processes that died
  else
    echo "browser-test: bringing a consortium up in $RUN"
    trap '$CONSORTIUM down' EXIT
    $CONSORTIUM up
  fi
elif [[ ! -f "$RUN/endpoints.json" || ! -f "$RUN/credentials.json" ]]; then
  echo "browser-test: no consortium in $RUN: run make up, or set CONSORTIUM" >&2
  exit 1
else
  echo "browser-test: using the consortium in $RUN"
fi

mkdir -p "$GOVSHARE_SCREENSHOTS"
# The gateways serve HTTPS with certificates from their departments' CAs:
# node's fetch trusts the run's tls-ca.pem (NODE_EXTRA_CA_CERTS), Chromium an
# NSS database, in a home of its own, holding each of those roots.
BROWSER_HOME=""
if [[ -f "$RUN/tls-ca.pem" ]]; then
  if ! command -v certutil >/dev/null; then
    echo "browser-test: installing certutil (libnss3-tools)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss3-tools >/dev/null
  fi
  BROWSER_HOME="$ROOT/.cache/browser-home"
  rm -rf "$BROWSER_HOME"
  mkdir -p "$BROWSER_HOME/.pki/nssdb"
  certutil -N -d "sql:$BROWSER_HOME/.pki/nssdb" --empty-password
  csplit -s -z -f "$BROWSER_HOME/root-" "$RUN/tls-ca.pem" '/-----BEGIN CERTIFICATE-----/' '{*}'
  for f in "$BROWSER_HOME"/root-*; do
    certutil -A -d "sql:$BROWSER_HOME/.pki/nssdb" -n "govshare-$(basename "$f")" -t "C,," -i "$f"
  done
  export NODE_EXTRA_CA_CERTS="$RUN/tls-ca.pem"
fi
cd "$TESTDIR"
GOVSHARE_RUN="$RUN" GOVSHARE_BROWSER_HOME="$BROWSER_HOME" node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
echo "browser-test: screenshots in $GOVSHARE_SCREENSHOTS"
