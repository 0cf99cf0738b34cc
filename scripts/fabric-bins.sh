#!/usr/bin/env bash
# Builds Hyperledger Fabric and Fabric CA into a cache folder, once per
# version. The peer, orderer and tools are built from chaincode/validation,
# a module of this repository that requires Fabric at the released version
# (v3.1.1: Fabric's tags are not Go module versions, so go.mod names the
# release commit's pseudo-version) together with govshare's validation
# plugin: Go loads a plugin only into a binary built with the very same
# dependency versions and flags, so both come out of one module, one go.sum.
# Fabric CA is built from a scratch module.
set -euo pipefail

FABRIC_CA_VERSION="${FABRIC_CA_VERSION:-v1.5.21}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FABRIC_BIN_CACHE:-$root/.cache/fabric}"
bin="$cache/bin"
stamp="$bin/.stamp"
mod="$root/chaincode/validation"
fabric_version=$(awk '$1 == "github.com/hyperledger/fabric" {print $2}' "$mod/go.mod")
# The plugin's sources and the module files decide the build, with the
# domain package the plugin judges records with.
sources=$(cd "$root" && cat chaincode/validation/go.mod chaincode/validation/go.sum chaincode/validation/*.go \
  chaincode/validation/plugin/*.go chaincode/domain/*.go | sha256sum | cut -c1-16)
want="$fabric_version $FABRIC_CA_VERSION $sources $(go env GOVERSION)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
start=$(date +%s)
export CGO_ENABLED=1 # the peer loads plugins only when built with cgo
# -tags generic: the plugin is linked dynamically, and the amd64 assembly of
# github.com/kilic/bls12-381 (idemix, unused here) cannot be; its pure-Go
# build is chosen by that tag, and the peer must be built the same way.
flags=(-trimpath -tags generic)
(cd "$mod" && go build "${flags[@]}" -o "$bin/" \
  github.com/hyperledger/fabric/cmd/peer \
  github.com/hyperledger/fabric/cmd/orderer \
  github.com/hyperledger/fabric/cmd/configtxgen \
  github.com/hyperledger/fabric/cmd/osnadmin \
  github.com/hyperledger/fabric/cmd/cryptogen)
(cd "$mod" && go build "${flags[@]}" -buildmode=plugin -o "$bin/govshare-validation.so" ./plugin)

ca_src="$cache/src-fabric-ca"
if [[ ! -x "$bin/fabric-ca-server" || "$(cat "$bin/.ca-stamp" 2>/dev/null)" != "$FABRIC_CA_VERSION" ]]; then
  rm -rf "$ca_src"; mkdir -p "$ca_src"
  cat >"$ca_src/go.mod" <<MOD
module fabricbins/fabric-ca

go 1.24

require github.com/hyperledger/fabric-ca $FABRIC_CA_VERSION
MOD
  cat >"$ca_src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "github.com/hyperledger/fabric-ca/cmd/fabric-ca-client"
	_ "github.com/hyperledger/fabric-ca/cmd/fabric-ca-server"
)
GO
  (cd "$ca_src" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$ca_src" && GOFLAGS=-mod=mod go build -trimpath -o "$bin/" \
    github.com/hyperledger/fabric-ca/cmd/fabric-ca-server github.com/hyperledger/fabric-ca/cmd/fabric-ca-client)
  echo "$FABRIC_CA_VERSION" >"$bin/.ca-stamp"
fi
echo "$want" >"$stamp"
echo "built Fabric $fabric_version and Fabric CA $FABRIC_CA_VERSION in $(( $(date +%s) - start ))s" >&2
echo "$bin"
