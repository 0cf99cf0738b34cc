#!/usr/bin/env bash
# Builds the project's binaries (ledgercc, gateway, indexer, consortium)
# into the folder given, one step each with its elapsed time, as
# scripts/fabric-bins.sh does for Fabric; the Go tool's output goes to
# $BUILD_LOG (default .cache/build.log).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: scripts/project-bins.sh <output folder>}"
export BUILD_LOG="${BUILD_LOG:-$root/.cache/build.log}"
# shellcheck source=scripts/steps.sh
source "$root/scripts/steps.sh"
cd "$root"
mkdir -p "$out"
cmds=(gateway/cmd/gateway indexer/cmd/indexer network/cmd/consortium)
# The chaincode is a module of its own (chaincode/go.mod: the shim and the
# contract API only), built in its own folder as a department would.
in_cc() { (cd chaincode && "$@"); }
# Listing the commands' dependencies downloads the modules they need.
deps() { go list -deps "${cmds[@]/#/./}" >/dev/null && in_cc go list -deps ./cmd/ledgercc >/dev/null; }
step "govshare modules" deps
step "govshare: ledgercc" in_cc go build -o "$(cd "$out" && pwd)/" ./cmd/ledgercc
for c in "${cmds[@]}"; do
  step "govshare: $(basename "$c")" go build -o "$out/" "./$c"
done
