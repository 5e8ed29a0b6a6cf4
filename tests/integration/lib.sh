# Shared helpers for integration tests: real shoal daemons as separate
# processes (each with its own data root, socket and pidfile), the real
# docker CLI, bounded waits, and a cleanup trap that stops every daemon the
# test started (by PID) whether the test passes or fails.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHOAL=${SHOAL:-$ROOT/build-san/shoal}
DOCKER=${DOCKER:-/usr/local/bin/docker}
TMP=$(mktemp -d /tmp/shoal-it.XXXXXX)
export DOCKER_CONFIG=$TMP/docker-config
mkdir -p "$DOCKER_CONFIG"
# The sanitizer build: fail hard on the first report, and keep leak checks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
NODES=()
TEST_NAME=$(basename "$0" .sh)

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
fail() {
    log "FAIL: $*"
    exit 1
}

node_dir() { echo "$TMP/$1"; }
node_sock() { echo "$TMP/$1/shoal.sock"; }
node_pid() { cat "$TMP/$1/shoal.pid" 2>/dev/null; }

# wait_for TRIES DELAY WHAT CMD...: poll CMD until it succeeds.
wait_for() {
    local tries=$1 delay=$2 what=$3 i
    shift 3
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep "$delay"
    done
    fail "timed out waiting for $what"
}

ping_node() {
    curl -sf --max-time 2 --unix-socket "$(node_sock "$1")" http://shoal/_ping
}

# start_node NAME [daemon args...]: start a daemon and wait until it serves.
start_node() {
    local name=$1 dir
    shift
    dir=$(node_dir "$name")
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    ${SHOAL_WRAP:-} "$SHOAL" daemon --data-root "$dir/root" -H "unix://$(node_sock "$name")" \
        -p "$dir/shoal.pid" "$@" >>"$dir/daemon.log" 2>&1 &
    echo $! >"$dir/launch.pid"
    [[ " ${NODES[*]:-} " == *" $name "* ]] || NODES+=("$name")
    wait_for "${START_TRIES:-200}" 0.05 "daemon $name to answer /_ping" ping_node "$name"
}

node_alive() {
    local pid
    pid=$(cat "$(node_dir "$1")/launch.pid" 2>/dev/null) || return 1
    kill -0 "$pid" 2>/dev/null
}

# stop_node NAME: SIGTERM, wait for a clean exit, SIGKILL as a last resort.
stop_node() {
    local name=$1 pid i
    pid=$(cat "$(node_dir "$name")/launch.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < ${STOP_TRIES:-200}; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        log "daemon $name did not stop on SIGTERM"
        return 1
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# kill9_node NAME: crash the daemon.
kill9_node() {
    local name=$1 pid
    pid=$(cat "$(node_dir "$name")/launch.pid")
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
}

# The sanitizer must not have reported anything in a daemon's log.
check_node_log() {
    local logf
    logf="$(node_dir "$1")/daemon.log"
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logf"; then
        sed -n '1,80p' "$logf"
        fail "sanitizer report in the log of $1"
    fi
}

cleanup() {
    local rc=$? n
    for n in "${NODES[@]:-}"; do
        [ -n "$n" ] || continue
        stop_node "$n" || true
        if [ -f "$(node_dir "$n")/daemon.log" ] &&
            grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$(node_dir "$n")/daemon.log"; then
            log "sanitizer report in $n's log:"
            sed -n '1,60p' "$(node_dir "$n")/daemon.log"
            rc=1
        fi
    done
    if [ "$rc" -ne 0 ]; then
        for n in "${NODES[@]:-}"; do
            [ -n "$n" ] && [ -f "$(node_dir "$n")/daemon.log" ] &&
                { log "--- $n daemon log (tail)"; tail -n 30 "$(node_dir "$n")/daemon.log"; }
        done
    fi
    cleanup_containers
    [ "${KEEP:-0}" = 1 ] || rm -rf "$TMP"
    exit "$rc"
}

# Containers outlive their daemon (a monitor per container): once the
# daemons are stopped, delete what runc still runs under this test's data
# roots (runc state in <root>/runc), stop the monitors this test's daemons
# started (their pidfiles), and unmount whatever is still mounted under
# $TMP, deepest first.
cleanup_containers() {
    local st id pidf m
    for st in "$TMP"/*/root/runc; do
        [ -d "$st" ] || continue
        for id in "$st"/*; do
            [ -d "$id" ] || continue
            runc --root "$st" delete --force "$(basename "$id")" >/dev/null 2>&1 || true
        done
    done
    for pidf in "$TMP"/*/root/containers/*/monitor.pid; do
        [ -f "$pidf" ] || continue
        kill -KILL "$(cat "$pidf")" 2>/dev/null || true
    done
    awk -v t="$TMP/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# busybox_tar FILE: a rootfs tarball of busybox-static (bin/busybox plus a
# link for each applet, /etc/passwd and /etc/group for root and nobody),
# the image the container tests import.
busybox_tar() {
    local out=$1 dir
    dir=$(mktemp -d "$TMP/busybox.XXXXXX")
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root"
    chmod 755 "$dir"
    chmod 1777 "$dir/tmp"
    cp /bin/busybox "$dir/bin/busybox"
    "$dir/bin/busybox" --list | while read -r a; do
        [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
    tar -C "$dir" -cf "$out" .
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dk NAME ARGS...: the real docker CLI against node NAME.
dk() {
    local name=$1
    shift
    "$DOCKER" -H "unix://$(node_sock "$name")" "$@"
}

# sh_ NAME ARGS...: shoal's own CLI against node NAME.
sh_() {
    local name=$1
    shift
    "$SHOAL" -H "unix://$(node_sock "$name")" "$@"
}

# api NAME METHOD PATH [BODY]: raw API call; prints "STATUS BODY".
api() {
    local name=$1 method=$2 path=$3 body=${4-}
    local args=(-s --max-time 10 --unix-socket "$(node_sock "$name")" -X "$method"
        -o "$TMP/api.out" -w '%{http_code}')
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    local code
    code=$(curl "${args[@]}" "http://shoal$path")
    printf '%s %s' "$code" "$(cat "$TMP/api.out")"
}

expect_eq() {
    [ "$1" = "$2" ] || fail "${3:-values differ}: expected [$2], got [$1]"
}
expect_contains() {
    [[ $1 == *"$2"* ]] || fail "${3:-missing text}: [$2] not in [$1]"
}
expect_not_contains() {
    [[ $1 != *"$2"* ]] || fail "${3:-unexpected text}: [$2] in [$1]"
}
# expect_fail CMD...: the command must exit non-zero; its output is in $OUT.
expect_fail() {
    if OUT=$("$@" 2>&1); then
        fail "expected failure: $* (output: $OUT)"
    fi
}
run_ok() {
    OUT=$("$@" 2>&1) || fail "command failed: $* (output: $OUT)"
}
