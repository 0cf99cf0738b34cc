#!/usr/bin/env bash
# The multi-host test (`make test-multihost`, as root): Linux network
# namespaces stand in for hosts. One namespace per orderer and per
# department, each joined by its own veth link to the bridge gsbr0 and
# holding its own address in 198.18.0.0/15 (RFC 2544's benchmarking range:
# orderers .11.., departments .21.., the bridge .1 for the test process);
# no namespace has a route anywhere else. The consortium is brought up once
# in a bootstrap namespace holding every host's address on its loopback,
# stopped, and each node's bundle written with its ledger (its own keys,
# everyone else's public material, audited); the bootstrap's keys are then
# removed, and every node starts from its own bundle in its own namespace
# (`up-orderer`, `up-department`). Then the integration suite runs through
# each department's own gateway (network/e2e and network/attack; the
# browser test does not run here), and network/multihost cuts a
# department's link (`ip link set ... down`), shows the others carry on and
# that it catches up once the link returns. Everything (processes by PID,
# namespaces, links, the bridge, files) is torn down on exit, pass or fail;
# on failure the logs are kept in .cache/multihost-logs/.
#
# Skipped under multi-host, each saying why: TestBundleEveryDepartment and
# TestBundleUpDepartment (they bundle from the one run folder that holds
# every organization's keys, which no host has).
#
#   scripts/multihost.sh                   bring up, test, tear down
#   scripts/multihost.sh down              tear down what a killed run left
#   scripts/multihost.sh node VERB NAME... stop|start|kill processes on their
#                                          hosts (the tests' CONSORTIUM)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
: "${PROJECT_BIN:?PROJECT_BIN must name the project's binaries}"
: "${FABRIC_BIN:?FABRIC_BIN must name the Fabric binaries}"
: "${FABRIC_CFG:?FABRIC_CFG must name Fabric's sampleconfig}"
export PROJECT_BIN FABRIC_BIN FABRIC_CFG
dir="${MULTIHOST_DIR:-/tmp/govshare-multihost}"
[[ "$dir" == /?* ]] || { echo "multihost: MULTIHOST_DIR must be an absolute folder, not $dir" >&2; exit 2; }
topology="${TOPOLOGY:-$root/network/topology.yaml}"
ns_prefix=gsmh-
bridge=gsbr0

consortium() {
  "$PROJECT_BIN/consortium" -root "$root" -fabric-bin "$FABRIC_BIN" -project-bin "$PROJECT_BIN" -fabric-cfg "$FABRIC_CFG" "$@"
}

start=$SECONDS
say() { printf '[%5ds] %s\n' $((SECONDS - start)) "$*"; }

# netns_of prints the namespace of a host of the plan.
netns_of() { awk -v h="$1" '$1 == "host" && $2 == h { print $4 }' "$dir/plan"; }

# The tests' CONSORTIUM: each named process is found on the host whose
# bundle recorded it, and the verb runs there, in the host's namespace.
if [[ "${1:-}" == node ]]; then
  verb="${2:-}"
  shift 2 || true
  case "$verb" in
  stop | start | kill) ;;
  *)
    echo "multihost: '$verb' needs a run folder with every host; here each host has only its own bundle" >&2
    exit 2
    ;;
  esac
  (($#)) || { echo "multihost: name the processes" >&2; exit 2; }
  declare -A on=()
  for name; do
    spec=("$dir"/hosts/*/pids/"$name".spec.json)
    [[ -f "${spec[0]}" ]] || { echo "multihost: no host runs a process named $name" >&2; exit 2; }
    host="$(basename "$(dirname "$(dirname "${spec[0]}")")")"
    on[$host]+=" $name"
  done
  for host in "${!on[@]}"; do
    # shellcheck disable=SC2086 # a list of names
    ip netns exec "$(netns_of "$host")" "$PROJECT_BIN/consortium" -root "$root" -run "$dir/hosts/$host" \
      -topology "$dir/hosts/$host/topology.yaml" -fabric-bin "$FABRIC_BIN" -project-bin "$PROJECT_BIN" \
      -fabric-cfg "$FABRIC_CFG" "$verb" ${on[$host]}
  done
  exit 0
fi

# ours: pid $1 is alive and runs the binary $2 (a reused PID is never signalled).
ours() {
  local exe
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
  exe="${exe% (deleted)}"
  [[ "$(basename "$exe")" == "$(basename "$2")" ]]
}

# stop_recorded stops the processes of the given PID files: SIGTERM to
# each process group, SIGKILL to what still runs after 10 s.
stop_recorded() {
  local f pid bin alive=() i
  for f; do
    [[ -f "$f" ]] || continue
    read -r pid bin <"$f" || continue
    if ours "$pid" "$bin"; then
      kill -TERM -- "-$pid" "$pid" 2>/dev/null || true
      alive+=("$pid $bin")
    fi
  done
  for i in $(seq 100); do
    local left=()
    for f in "${alive[@]}"; do
      # shellcheck disable=SC2086 # "pid bin"
      ours $f && left+=("$f")
    done
    ((${#left[@]})) || return 0
    alive=("${left[@]}")
    sleep 0.1
  done
  for f in "${alive[@]}"; do
    read -r pid bin <<<"$f"
    kill -KILL -- "-$pid" "$pid" 2>/dev/null || true
  done
}

our_namespaces() { ip netns list | awk -v p="$ns_prefix" 'index($1, p) == 1 { print $1 }'; }

teardown() {
  local rc=$? ns pids keep
  trap - EXIT INT TERM
  set +e
  say "teardown: processes by PID, namespaces, links, the bridge, $dir"
  stop_recorded "$dir"/hosts/*/pids/*.pid "$dir"/boot/pids/*.pid
  for ns in $(our_namespaces); do
    # Anything still in a namespace of ours is ours (a command cut short).
    pids="$(ip netns pids "$ns")"
    # shellcheck disable=SC2086 # a list of PIDs
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null
    ip netns delete "$ns" # its veth end goes with it, and so the other
  done
  ip link show "$bridge" >/dev/null 2>&1 && ip link delete "$bridge"
  if ((rc != 0)) && [[ -d "$dir" ]]; then
    keep="$root/.cache/multihost-logs/$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$keep"
    for f in "$dir"/hosts/*/logs "$dir"/boot/logs; do
      [[ -d "$f" ]] && cp -r "$f" "$keep/$(basename "$(dirname "$f")")"
    done
    [[ -d "$dir/logs" ]] && cp -r "$dir/logs" "$keep/multihost"
    echo "multihost: failed (exit $rc); logs kept in $keep"
  fi
  rm -rf "$dir"
  local left
  left="$(our_namespaces; ip -br link show "$bridge" 2>/dev/null)"
  [[ -z "$left" ]] || { echo "multihost: left behind: $left"; rc=1; }
  exit "$rc"
}

if [[ "${1:-}" == down ]]; then
  trap teardown EXIT
  exit 0
fi

[[ "$(id -u)" == 0 ]] || { echo "multihost: needs root (network namespaces, veth links, a bridge); CI runs as root" >&2; exit 1; }
command -v ip >/dev/null || { echo "multihost: needs iproute2's ip" >&2; exit 1; }
if [[ -e "$dir" ]] || [[ -n "$(our_namespaces)" ]] || ip link show "$bridge" >/dev/null 2>&1; then
  echo "multihost: $dir, a ${ns_prefix}* namespace or $bridge exists: another run is going on, or one was killed (scripts/multihost.sh down)" >&2
  exit 1
fi
mkdir -p "$dir/logs"
chmod 0700 "$dir"
trap teardown EXIT
trap 'exit 130' INT TERM

# The plan: the topology with every node on its host's address, and the
# hosts (name kind namespace address link bundle mspId).
go build -o "$dir/bin/" ./scripts/multihost
"$dir/bin/multihost" plan -topology "$topology" -dir "$dir" >"$dir/plan"
read -r _ bridge gateway < <(awk '$1 == "bridge"' "$dir/plan")
read -r _ boot < <(awk '$1 == "boot"' "$dir/plan")
mapfile -t hosts < <(awk '$1 == "host" { print $2 }' "$dir/plan")
field() { awk -v h="$1" -v n="$2" '$1 == "host" && $2 == h { print $n }' "$dir/plan"; }
say "plan: ${#hosts[@]} hosts on $bridge ($gateway): $(awk '$1 == "host" { printf "%s %s  ", $2, $5 }' "$dir/plan")"

say "bootstrap: the consortium up once in $boot, every host's address on its loopback"
ip netns add "$boot"
ip -n "$boot" link set lo up
for h in "${hosts[@]}"; do ip -n "$boot" addr add "$(field "$h" 5)/32" dev lo; done
run_boot() { consortium -run "$dir/boot" -topology "$dir/topology.yaml" "$@"; }
if ! ip netns exec "$boot" "$PROJECT_BIN/consortium" -root "$root" -run "$dir/boot" -topology "$dir/topology.yaml" \
  -fabric-bin "$FABRIC_BIN" -project-bin "$PROJECT_BIN" -fabric-cfg "$FABRIC_CFG" up >"$dir/logs/bootstrap.log" 2>&1; then
  tail -n 40 "$dir/logs/bootstrap.log"
  exit 1
fi
run_boot stop >>"$dir/logs/bootstrap.log"
say "bundles: each host's own, with its ledger"
for h in "${hosts[@]}"; do
  if [[ "$(field "$h" 3)" == orderer ]]; then
    run_boot bundle -orderer "$h" -out "$(field "$h" 7)" -with-ledger
  else
    run_boot bundle -dept "$(field "$h" 8)" -out "$(field "$h" 7)" -with-ledger
  fi
done
# The bootstrap's keys go: from here on, each host holds only its bundle.
# Its CA secrets (all used up) stay with the test, which looks for them.
mv "$dir/boot/secrets.json" "$dir/bootstrap-secrets.json"
find "$dir/boot" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
ip netns delete "$boot"

say "hosts: a namespace each, linked to $bridge"
ip link add "$bridge" type bridge
ip addr add "$gateway" dev "$bridge"
ip link set "$bridge" up
for h in "${hosts[@]}"; do
  ns="$(field "$h" 4)" link="$(field "$h" 6)"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "$link" type veth peer name eth0 netns "$ns"
  ip link set "$link" master "$bridge" up
  ip -n "$ns" addr add "$(field "$h" 5)/${gateway#*/}" dev eth0
  ip -n "$ns" link set eth0 up
done

# Traffic between hosts crosses the bridge; a firewall that filters bridged
# traffic (br_netfilter with iptables' FORWARD policy DROP, as Docker sets
# it) stops it. Each host knocks on the next one's port 9, where nothing
# listens: a refusal proves the path.
for i in "${!hosts[@]}"; do
  from="${hosts[$i]}" to="${hosts[$(((i + 1) % ${#hosts[@]}))]}"
  out="$(ip netns exec "$(field "$from" 4)" timeout 3 bash -c "exec 3<>/dev/tcp/$(field "$to" 5)/9" 2>&1)" || true
  if [[ "$out" != *"refused"* ]]; then
    echo "multihost: $from cannot reach $to across $bridge (${out:-no answer}): does a firewall filter bridged traffic (br_netfilter, iptables FORWARD DROP)?" >&2
    exit 1
  fi
done

# up_hosts KIND VERB starts every host of a kind from its bundle, in its
# namespace, all at once (a department waits for the others' peers).
up_hosts() {
  local kind="$1" verb="$2" h pids=() names=() i failed=0
  for h in "${hosts[@]}"; do
    [[ "$(field "$h" 3)" == "$kind" ]] || continue
    ip netns exec "$(field "$h" 4)" "$PROJECT_BIN/consortium" -root "$root" -run "$(field "$h" 7)" \
      -fabric-bin "$FABRIC_BIN" -project-bin "$PROJECT_BIN" -fabric-cfg "$FABRIC_CFG" "$verb" >"$dir/logs/$verb-$h.log" 2>&1 &
    pids+=($!)
    names+=("$h")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "--- $verb ${names[$i]} failed:"
      tail -n 30 "$dir/logs/$verb-${names[$i]}.log"
      failed=1
    fi
  done
  return "$failed"
}
say "orderers: each from its own bundle, in its own namespace"
up_hosts orderer up-orderer
say "departments: each from its own bundle, in its own namespace"
up_hosts department up-department
"$dir/bin/multihost" view -dir "$dir" -out "$dir/view" -secrets "$dir/bootstrap-secrets.json"
"$dir/bin/multihost" ready -dir "$dir/view"
say "consortium up on ${#hosts[@]} hosts"

# Results, skips with their reasons and failures with their output; the
# whole of each run in $dir/logs (kept on failure).
gotest() {
  local log="$1"
  shift
  # shellcheck disable=SC2086 # the flags are lists
  go test -json -count=1 -p 1 ${GO_TEST_FLAGS:-} "$@" | tee "$log" | "$dir/bin/multihost" report ${REPORT_FLAGS:-}
}
export MULTIHOST_DIR="$dir"
say "integration suite through each department's own gateway"
GOVSHARE_RUN="$dir/view" CONSORTIUM="$root/scripts/multihost.sh node" \
  gotest "$dir/logs/integration.json" -tags integration -timeout 25m ./network/e2e/... ./network/attack/...
say "a department's link cut and restored"
GOVSHARE_RUN="$dir/view" REPORT_FLAGS=-all gotest "$dir/logs/link.json" -tags multihost -timeout 10m ./network/multihost/...
say "multihost: passed"
