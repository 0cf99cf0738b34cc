#!/usr/bin/env bash
# Builds Hyperledger Fabric and Fabric CA into a cache folder, once per
# version. The peer, orderer and tools are built from chaincode/validation,
# a module of this repository that requires Fabric at the released version
# (v3.1.1: Fabric's tags are not Go module versions, so go.mod names the
# release commit's pseudo-version) together with govshare's validation
# plugin: Go loads a plugin only into a binary built with the very same
# dependency versions and flags, so both come out of one module, one go.sum.
# Fabric CA is built from a scratch module. Each step prints with its
# elapsed time; the Go tool's output goes to $BUILD_LOG (default
# .cache/build.log), and its last lines to the terminal if a step fails.
set -euo pipefail

FABRIC_CA_VERSION="${FABRIC_CA_VERSION:-v1.5.21}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FABRIC_BIN_CACHE:-$root/.cache/fabric}"
bin="$cache/bin"
stamp="$bin/.stamp"
mod="$root/chaincode/validation"
fabric_version=$(awk '$1 == "github.com/hyperledger/fabric" {print $2}' "$mod/go.mod")
# The plugin's sources and the module files decide the build, with the
# domain package the plugin judges records with (in the chaincode module,
# whose go.mod takes part in the plugin's module graph).
sources=$(cd "$root" && cat chaincode/validation/go.mod chaincode/validation/go.sum chaincode/validation/*.go \
  chaincode/validation/plugin/*.go chaincode/go.mod chaincode/domain/*.go | sha256sum | cut -c1-16)
want="$fabric_version $FABRIC_CA_VERSION $sources $(go env GOVERSION)"

export BUILD_LOG="${BUILD_LOG:-$root/.cache/build.log}"
# shellcheck source=scripts/steps.sh
source "$root/scripts/steps.sh"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  stepf "Fabric and Fabric CA binaries: built already ($bin)"
  exit 0
fi

mkdir -p "$bin"
start=$(date +%s)
stepf "building Fabric (the pinned release, with govshare's validation plugin) and Fabric CA $FABRIC_CA_VERSION once, into $bin: a few minutes; the Go tool's output is in $BUILD_LOG"
export CGO_ENABLED=1 # the peer loads plugins only when built with cgo
# -tags generic: the plugin is linked dynamically, and the amd64 assembly of
# github.com/kilic/bls12-381 (idemix, unused here) cannot be; its pure-Go
# build is chosen by that tag, and the peer must be built the same way.
flags=(-trimpath -tags generic)
fabric_cmds=(peer orderer configtxgen osnadmin cryptogen)
in_mod() { (cd "$mod" && "$@"); }
# Listing the packages' dependencies downloads the modules they need (to
# the log: "go: downloading ..."); the list itself is not needed.
fabric_deps() { in_mod go list "${flags[@]:1}" -deps "${fabric_cmds[@]/#/github.com/hyperledger/fabric/cmd/}" ./plugin >/dev/null; }
step "Fabric modules (download)" fabric_deps
for c in "${fabric_cmds[@]}"; do
  step "Fabric: $c" in_mod go build "${flags[@]}" -o "$bin/" "github.com/hyperledger/fabric/cmd/$c"
done
step "validation plugin: govshare-validation.so" in_mod go build "${flags[@]}" -buildmode=plugin -o "$bin/govshare-validation.so" ./plugin

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
  in_ca() { (cd "$ca_src" && GOFLAGS=-mod=mod "$@"); }
  # Tidy may stumble on some of Fabric CA's test-only dependencies; the two
  # commands build without them, and their build says if anything is missing.
  ca_tidy() { in_ca go mod tidy -e || true; }
  step "Fabric CA modules (download)" ca_tidy
  for c in fabric-ca-server fabric-ca-client; do
    step "Fabric CA: $c" in_ca go build -trimpath -o "$bin/" "github.com/hyperledger/fabric-ca/cmd/$c"
  done
  echo "$FABRIC_CA_VERSION" >"$bin/.ca-stamp"
fi
echo "$want" >"$stamp"
stepf "built Fabric $fabric_version and Fabric CA $FABRIC_CA_VERSION in $(($(date +%s) - start))s"
