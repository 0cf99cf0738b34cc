# Sourced by the build scripts: `step NAME CMD...` runs CMD with its output
# (the Go tool's "go: downloading ..." and the like) appended to $BUILD_LOG
# and prints NAME with the time since $BUILD_START, the way the consortium
# command prints its steps; on failure it prints the log's last lines.
: "${BUILD_LOG:?BUILD_LOG must name the build log}"
: "${BUILD_START:=$EPOCHREALTIME}"
mkdir -p "$(dirname "$BUILD_LOG")"

# since T prints the seconds since T (an $EPOCHREALTIME), one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%6.1f", b - a }'; }

# stepf prints one progress line.
stepf() { printf '[%ss] %s\n' "$(since "$BUILD_START")" "$*"; }

step() {
  local name="$1" t0="$EPOCHREALTIME"
  shift
  stepf "$name ..."
  printf '\n== %s %s\n$ %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >>"$BUILD_LOG"
  if ! "$@" >>"$BUILD_LOG" 2>&1; then
    stepf "$name FAILED; the last lines of $BUILD_LOG:" >&2
    tail -n 25 "$BUILD_LOG" >&2
    return 1
  fi
  stepf "$name done ($(since "$t0" | tr -d ' ')s)"
}
