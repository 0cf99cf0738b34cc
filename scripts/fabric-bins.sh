#!/usr/bin/env bash
# Builds the pinned Hyperledger Fabric and Fabric CA binaries from the Go module
# proxy into a cache folder, once. `go install pkg@version` is refused for this
# Fabric pseudo-version, so a scratch module requires it and builds the commands.
set -euo pipefail

FABRIC_VERSION="${FABRIC_VERSION:-v1.4.0-rc1.0.20230405174026-695dd57e01c2}"
FABRIC_CA_VERSION="${FABRIC_CA_VERSION:-v1.5.15}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FABRIC_BIN_CACHE:-$root/.cache/fabric}"
bin="$cache/bin"
stamp="$bin/.stamp"
want="$FABRIC_VERSION $FABRIC_CA_VERSION"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
build() { # name module version packages...
  local name=$1 mod=$2 ver=$3; shift 3
  local src="$cache/src-$name"
  rm -rf "$src"; mkdir -p "$src"
  cat >"$src/go.mod" <<MOD
module fabricbins/$name

go 1.24

require $mod $ver
MOD
  {
    echo '//go:build tools'
    echo
    echo 'package tools'
    echo
    echo 'import ('
    for p in "$@"; do echo "	_ \"$p\""; done
    echo ')'
  } >"$src/tools.go"
  (cd "$src" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$bin/" "$@")
}

start=$(date +%s)
build fabric github.com/hyperledger/fabric "$FABRIC_VERSION" \
  github.com/hyperledger/fabric/cmd/peer \
  github.com/hyperledger/fabric/cmd/orderer \
  github.com/hyperledger/fabric/cmd/configtxgen \
  github.com/hyperledger/fabric/cmd/osnadmin \
  github.com/hyperledger/fabric/cmd/cryptogen
build fabric-ca github.com/hyperledger/fabric-ca "$FABRIC_CA_VERSION" \
  github.com/hyperledger/fabric-ca/cmd/fabric-ca-server \
  github.com/hyperledger/fabric-ca/cmd/fabric-ca-client
echo "$want" >"$stamp"
echo "built Fabric binaries in $(( $(date +%s) - start ))s" >&2
echo "$bin"
