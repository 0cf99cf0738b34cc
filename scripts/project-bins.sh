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
cmds=(chaincode/cmd/ledgercc gateway/cmd/gateway indexer/cmd/indexer network/cmd/consortium)
# Listing the commands' dependencies downloads the modules they need.
deps() { go list -deps "${cmds[@]/#/./}" >/dev/null; }
step "govshare modules" deps
for c in "${cmds[@]}"; do
  step "govshare: $(basename "$c")" go build -o "$out/" "./$c"
done
