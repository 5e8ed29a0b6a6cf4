#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called indirectly (trap, start_$target)
# bench/run.sh - shoal against the reference dockerd, side by side, on a single-node
# swarm, then (bench/run-multi.sh) on 3 managers + 1 worker.  `make bench` runs this
# script.  See bench/README.md.
#
# usage: bench/run.sh [--runs N] [--api-calls N] [--shoal-only] [--no-deps] [--no-build]
#                     [--out DIR] [--no-multi | --multi-only] [--only LIST] [--no-api]
#                     [--converge] [--only-own LIST] [--replicas N]
#
#   --runs N        fresh-daemon runs per daemon (default 3); the table shows medians
#   --api-calls N   sequential calls per endpoint for api_* (default 50)
#   --shoal-only    do not start the reference dockerd
#   --no-deps       skip `SHOAL_BENCH=1 ./scripts/install-deps.sh`
#   --no-build      do not run make; use the existing binary
#   --out DIR       results directory (default bench/results/<UTC timestamp>); the
#                   multi-node results go to DIR/multi
#   --no-multi      only the single-node benchmark
#   --multi-only    only the multi-node one (= bench/run-multi.sh with these options)
#   --only LIST     swarm-bench's metrics in cycle 1 (default init,rss); issue 5's
#                   services: init,rss,converge,scale,update (run-multi.sh takes
#                   its own --only; run.sh passes it on only with --multi-only)
#   --no-api        skip cycle 2 (GET /nodes and /info latency)
#   --converge      also run cycle 3: bench/converge (converge_100_ms, issue 5) on
#                   another fresh daemon, swarm and image set up untimed
#   --only-own LIST only our own cycles in LIST (api, converge): no swarm-bench
#                   cycle 1 and no multi-node run; `--only-own converge` measures
#                   converge_100_ms alone
#   --replicas N    replicas for cycle 3 (default 100): the metric is converge_N_ms
#
# Environment:
#   SHOAL_BENCH_HARNESS  the shared harness (default <repo>/../shared/bench)
#   SHOAL_BENCH_BUILD    build directory for the bench binary (default build-bench)
#   SHOAL_BENCH_CFLAGS   EXTRA_CFLAGS for it (default "-O2")
#   SHOAL_BENCH_BIN      use this shoal binary instead of building one
#   SHOAL_BENCH_PREFIX   AB_PREFIX of the reference instance (default sbench)
#   DOCKER_CLI           docker CLI that the harness drives (default /usr/local/bin/docker)
#
# Exit status: 0 when every metric was measured on both daemons (whether or not the
# goals are met), 1 on a fatal error or when a shoal metric is error/timeout, 2 when
# the reference dockerd could not be measured (shoal was still measured).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
HARNESS=${SHOAL_BENCH_HARNESS:-$ROOT/../shared/bench}
BUILD_DIR=${SHOAL_BENCH_BUILD:-build-bench}
BENCH_CFLAGS=${SHOAL_BENCH_CFLAGS:--O2}
AB_PREFIX=${SHOAL_BENCH_PREFIX:-sbench}
export AB_PREFIX
DOCKER=${DOCKER_CLI:-/usr/local/bin/docker}
RUNS=3; API_CALLS=50; SHOAL_ONLY=0; DEPS=1; BUILD=1; OUT=""; MULTI=1
ONLY=init,rss; ONLY_SET=0; API_CYCLE=1
BENCH_CYCLE=1; CONV_CYCLE=0; REPLICAS=100; ONLY_OWN=""
INIT_ARGS="--default-addr-pool 198.19.0.0/17"
# Same for both daemons.  Only the untimed rss_100 load creates services; without a
# grace period its cleanup does not wait 10 s per task (see the harness README).
CREATE_ARGS="--stop-grace-period 0s"
START_TIMEOUT=30        # s, shoal start -> /_ping
STOP_TIMEOUT=20         # s, SIGTERM -> exit, then SIGKILL
READY_TIMEOUT=60        # s, untimed swarm init -> node ready (API cycle)

while (( $# )); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --api-calls) API_CALLS=$2; shift 2 ;;
    --shoal-only) SHOAL_ONLY=1; shift ;;
    --no-deps) DEPS=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    --no-multi) MULTI=0; shift ;;
    --multi-only) MULTI=2; shift ;;
    --only) ONLY=$2; ONLY_SET=1; shift 2 ;;
    --no-api) API_CYCLE=0; shift ;;
    --converge) CONV_CYCLE=1; shift ;;
    --only-own) ONLY_OWN=$2; shift 2 ;;
    --replicas) REPLICAS=$2; shift 2 ;;
    -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs must be a positive integer" >&2; exit 2; }
[[ $API_CALLS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --api-calls must be a positive integer" >&2; exit 2; }
[[ $ONLY =~ ^[a-z]+(,[a-z]+)*$ ]] || { echo "run.sh: --only takes a comma list of swarm-bench metrics" >&2; exit 2; }
[[ $REPLICAS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --replicas must be a positive integer" >&2; exit 2; }
if [[ -n $ONLY_OWN ]]; then
  [[ $ONLY_OWN =~ ^(api|converge)(,(api|converge))*$ ]] ||
    { echo "run.sh: --only-own takes a comma list of: api, converge" >&2; exit 2; }
  (( MULTI == 2 )) && { echo "run.sh: --only-own and --multi-only exclude each other" >&2; exit 2; }
  BENCH_CYCLE=0; MULTI=0; API_CYCLE=0; CONV_CYCLE=0
  [[ ,$ONLY_OWN, == *,api,* ]] && API_CYCLE=1
  [[ ,$ONLY_OWN, == *,converge,* ]] && CONV_CYCLE=1
fi
if (( CONV_CYCLE && BENCH_CYCLE )) && [[ ,$ONLY, == *,converge,* && $REPLICAS =~ ^(1|10|50)$ ]]; then
  echo "run.sh: --replicas $REPLICAS: swarm-bench's converge gives converge_${REPLICAS}_ms too" >&2; exit 2
fi
if (( MULTI == 2 )); then
  args=(--runs "$RUNS" --api-calls "$API_CALLS")
  (( SHOAL_ONLY )) && args+=(--shoal-only)
  (( DEPS )) || args+=(--no-deps)
  (( BUILD )) || args+=(--no-build)
  [[ -n $OUT ]] && args+=(--out "$OUT")
  (( ONLY_SET )) && args+=(--only "$ONLY")
  (( API_CYCLE )) || args+=(--no-own)
  exec "$(dirname "${BASH_SOURCE[0]}")/run-multi.sh" "${args[@]}"
fi

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
# shellcheck source=bench/shoal-leftovers.sh
. "$BENCH/shoal-leftovers.sh"
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------ state + cleanup
TMP=""; LOCK=""; CHILD=""; ANCHOR_USED=0
SHOAL_PID=""; SHOAL_SOCK=""; SHOAL_DIR=""
PROBLEMS=(); NOTES=()

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
wait_gone() {  # pid timeout_s -> 0 when the process is gone within the deadline
  local p=$1 end=$((SECONDS + $2))
  while pid_alive "$p" && (( SECONDS < end )); do sleep 0.05; done
  ! pid_alive "$p"
}

stop_shoal() {  # SIGTERM the shoal we started (pid checked against its socket), bounded
  local p=$SHOAL_PID
  [[ -z $p ]] && return 0
  if pid_alive "$p" && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "unix://$SHOAL_SOCK"; then
    kill -TERM "$p" 2>/dev/null
    if ! wait_gone "$p" "$STOP_TIMEOUT"; then
      log "shoal pid $p still alive ${STOP_TIMEOUT}s after SIGTERM; SIGKILL"
      PROBLEMS+=("shoal did not exit within ${STOP_TIMEOUT}s of SIGTERM (pid $p); killed")
      kill -9 "$p" 2>/dev/null; wait_gone "$p" 5
    fi
  fi
  wait "$p" 2>/dev/null
  SHOAL_PID=""
}

anchor() { "$HARNESS/anchor-dockerd" "$@"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if pid_alive "$CHILD"; then
    kill -TERM "$CHILD" 2>/dev/null
    wait_gone "$CHILD" 60 || kill -9 "$CHILD" 2>/dev/null
  fi
  stop_shoal
  if (( ANCHOR_USED )); then anchor stop >>"${ANCHOR_LOG:-/dev/null}" 2>&1 || log "anchor-dockerd stop failed"; fi
  [[ -n $TMP && -d $TMP ]] && { shoal_leftovers "$TMP"/shoal-*; rm -rf "$TMP"; }
  if [[ -n ${OUT:-} && -d $OUT && ! -e $OUT/summary.md ]]; then
    printf '# incomplete run\n\nrun.sh stopped early with status %s; only raw/ has results.\n' "$rc" > "$OUT/summary.md"
  fi
  [[ -n $LOCK && $(cat "$LOCK" 2>/dev/null) == "$$" ]] && rm -f "$LOCK"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# Run a command in the background so that a signal reaches the trap at once.
run_child() {  # out err cmd...
  local out=$1 err=$2 rc; shift 2
  "$@" >"$out" 2>"$err" </dev/null &
  CHILD=$!
  wait "$CHILD"; rc=$?
  CHILD=""
  return "$rc"
}

# ------------------------------------------------------------------ lock (one run at a time)
LOCK=/tmp/shoal-bench-$AB_PREFIX.lock
for _ in 1 2; do
  if (set -C; echo "$$" > "$LOCK") 2>/dev/null; then break; fi
  other=$(tr -dc '0-9' < "$LOCK" 2>/dev/null)
  if [[ -n $other ]] && pid_alive "$other" && tr '\0' ' ' < "/proc/$other/cmdline" 2>/dev/null | grep -q 'run\.sh'; then
    LOCK=""; die "another bench run (pid $other) is in progress"
  fi
  log "removing stale lock $LOCK (pid ${other:-?} is gone)"; rm -f "$LOCK"
done
[[ $(cat "$LOCK" 2>/dev/null) == "$$" ]] || { LOCK=""; die "could not take the lock /tmp/shoal-bench-$AB_PREFIX.lock"; }

TMP=$(mktemp -d /tmp/shoal-bench.XXXXXX)
[[ -z $OUT ]] && OUT=$BENCH/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT/raw" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd); RAW=$OUT/raw; ANCHOR_LOG=$RAW/anchor.log
export DOCKER_CONFIG=$TMP/docker-config DOCKER_CLI_HINTS=false
mkdir -p "$DOCKER_CONFIG"
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
log "results: $OUT"

# ------------------------------------------------------------------ dependencies
if (( DEPS )); then
  log "dependencies: SHOAL_BENCH=1 ./scripts/install-deps.sh"
  if ! (cd "$ROOT" && SHOAL_BENCH=1 ./scripts/install-deps.sh) >"$RAW/install-deps.log" 2>&1; then
    log "WARNING: install-deps.sh failed (see $RAW/install-deps.log):"
    tail -n 5 "$RAW/install-deps.log" >&2
    NOTES+=("install-deps.sh failed: $(tail -n 1 "$RAW/install-deps.log")")
  fi
fi
[[ -x $HARNESS/swarm-bench && -x $HARNESS/bench-summary ]] ||
  die "harness not found at $HARNESS (set SHOAL_BENCH_HARNESS)"
HARNESS=$(cd "$HARNESS" && pwd)
for t in curl jq timeout ss make cc; do command -v "$t" >/dev/null || die "$t not found"; done
if [[ ! -x $DOCKER ]]; then
  if command -v docker >/dev/null; then
    NOTES+=("docker CLI $DOCKER not found; using $(command -v docker)")
    DOCKER=$(command -v docker)
  else
    die "docker CLI not found at $DOCKER (the harness drives it; set DOCKER_CLI)"
  fi
fi
export DOCKER_CLI=$DOCKER

# the image of cycle 3, built once (untimed): the harness's bench/busybox:1
CONV_IMAGE=bench/busybox:1; CONV_TAR=$TMP/rootfs.tar
if (( CONV_CYCLE )); then
  "$HARNESS/mkrootfs-tar" "$CONV_TAR" >"$RAW/mkrootfs-tar.log" 2>&1 ||
    die "mkrootfs-tar failed: $(tail -n 3 "$RAW/mkrootfs-tar.log")"
fi

# ------------------------------------------------------------------ build
BUILD_NOTE=""
build_shoal() {
  if [[ -n ${SHOAL_BENCH_BIN:-} ]]; then
    [[ -x $SHOAL_BENCH_BIN ]] || die "SHOAL_BENCH_BIN=$SHOAL_BENCH_BIN is not executable"
    SHOAL_BIN=$SHOAL_BENCH_BIN; BUILD_NOTE="$SHOAL_BIN (SHOAL_BENCH_BIN)"; return
  fi
  SHOAL_BIN=$ROOT/$BUILD_DIR/shoal
  if (( ! BUILD )); then
    [[ -x $SHOAL_BIN ]] || die "--no-build: $SHOAL_BIN does not exist"
    BUILD_NOTE="$BUILD_DIR/shoal (existing build)"; return
  fi
  local mk=(make -C "$ROOT" -j"$(nproc)" BUILD="$BUILD_DIR" "EXTRA_CFLAGS=$BENCH_CFLAGS")
  log "build: make BUILD=$BUILD_DIR EXTRA_CFLAGS='$BENCH_CFLAGS' $BUILD_DIR/shoal"
  if "${mk[@]}" "$BUILD_DIR/shoal" "$BUILD_DIR/shoal-monitor" >"$RAW/build.log" 2>&1; then
    BUILD_NOTE="$BUILD_DIR/shoal (make BUILD=$BUILD_DIR EXTRA_CFLAGS='$BENCH_CFLAGS')"; return
  fi
  tail -n 25 "$RAW/build.log" >&2
  die "build failed (full log: $RAW/build.log)"
}
build_shoal

# ------------------------------------------------------------------ the reference dockerd
DOCKERD_WHY=""
if (( SHOAL_ONLY )); then DOCKERD_WHY="--shoal-only was given"
elif [[ $(id -u) != 0 ]]; then DOCKERD_WHY="anchor-dockerd needs root; this is uid $(id -u)"
elif [[ ! -x $HARNESS/anchor-dockerd ]]; then DOCKERD_WHY="$HARNESS/anchor-dockerd not found"
elif ! command -v dockerd >/dev/null; then DOCKERD_WHY="dockerd is not installed (docker.io; SHOAL_BENCH=1 ./scripts/install-deps.sh should install it)"
else
  for t in ip nsenter unshare; do command -v "$t" >/dev/null || { DOCKERD_WHY="$t not found (anchor-dockerd needs it)"; break; }; done
fi
if [[ -z $DOCKERD_WHY && -n $(anchor status 2>/dev/null) ]]; then
  # we hold the lock for this prefix, so these are leftovers of an interrupted run
  log "stopping leftover reference instance (AB_PREFIX=$AB_PREFIX)"
  anchor stop >>"$RAW/anchor.log" 2>&1
fi

TARGETS=(shoal)
[[ -z $DOCKERD_WHY ]] && TARGETS=(dockerd shoal)

# Per-target connection details, set by start_<target>.
SOCK=""; SPEC=""; RSS_ARGS=(); ADDR_ARGS=()

start_dockerd() {  # tag
  ANCHOR_USED=1
  if ! anchor start -n 1 >>"$RAW/anchor.log" 2>&1; then
    local why
    why=$(grep -v '^\[anchor-dockerd\] node1: netns' "$RAW/anchor.log" | tail -n 25)
    anchor stop >>"$RAW/anchor.log" 2>&1
    LAST_START_ERROR="anchor-dockerd start -n 1 failed: $why"
    return 1
  fi
  local nodes; nodes=$(anchor nodes)
  SPEC=${nodes%% *}; SOCK=${SPEC%%@*}
  local a=${SPEC#*@}
  ADDR_ARGS=(--advertise-addr "$a")
  read -r -a RSS_ARGS <<<"$(anchor rss-args 1)"
  # without a tracking cgroup: dockerd and its descendants (containerd, shims)
  [[ ${RSS_ARGS[0]:-} == --rss-cgroup && -d ${RSS_ARGS[1]:-} ]] || RSS_ARGS=(--rss-pidfile "$(anchor pidfiles)")
  return 0
}
stop_dockerd() {  # tag
  anchor stop >>"$RAW/anchor.log" 2>&1 || PROBLEMS+=("anchor-dockerd stop failed (see raw/anchor.log)")
  cp -f "/var/lib/$AB_PREFIX/last-logs/node1.log" "$RAW/dockerd-$1.daemon.log" 2>/dev/null
  return 0
}

free_port() {  # a free TCP port on 127.0.0.1 for shoal's swarm listener
  local p
  for ((p = 23770; p < 24000; p++)); do
    [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return 0; }
  done
  return 1
}

start_shoal() {  # tag
  local port end
  SHOAL_DIR=$TMP/shoal-$1; mkdir -p "$SHOAL_DIR"
  SHOAL_SOCK=$SHOAL_DIR/shoal.sock
  port=$(free_port) || { LAST_START_ERROR="no free TCP port in 23770-23999 on 127.0.0.1"; return 1; }
  "$SHOAL_BIN" daemon --data-root "$SHOAL_DIR/data" -H "unix://$SHOAL_SOCK" \
    -p "$SHOAL_DIR/shoal.pid" >"$SHOAL_DIR/shoal.log" 2>&1 </dev/null &
  SHOAL_PID=$!
  end=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < end )); do
    if ! pid_alive "$SHOAL_PID"; then
      wait "$SHOAL_PID"; LAST_START_ERROR="shoal daemon exited with status $? at start: $(tail -n 5 "$SHOAL_DIR/shoal.log")"
      SHOAL_PID=""; return 1
    fi
    if curl -sf --max-time 2 --unix-socket "$SHOAL_SOCK" http://localhost/_ping >/dev/null 2>&1 &&
       [[ $(tr -dc '0-9' < "$SHOAL_DIR/shoal.pid" 2>/dev/null) == "$SHOAL_PID" ]]; then
      SOCK=$SHOAL_SOCK
      # With a port, swarm-bench also passes it as --listen-addr, so the swarm port
      # is one that is free on this host's loopback.
      SPEC="$SHOAL_SOCK@127.0.0.1:$port"
      ADDR_ARGS=(--advertise-addr "127.0.0.1:$port" --listen-addr "127.0.0.1:$port")
      RSS_ARGS=(--rss-pidfile "$SHOAL_DIR/shoal.pid")
      return 0
    fi
    sleep 0.05
  done
  LAST_START_ERROR="shoal did not answer /_ping within ${START_TIMEOUT}s: $(tail -n 5 "$SHOAL_DIR/shoal.log")"
  stop_shoal
  return 1
}
stop_shoal_target() {  # tag
  stop_shoal
  cp -f "$SHOAL_DIR/shoal.log" "$RAW/shoal-$1.daemon.log" 2>/dev/null
  shoal_leftovers "$SHOAL_DIR"
  rm -rf "$SHOAL_DIR"
}

start_target() { LAST_START_ERROR=""; "start_$1" "$2"; }
stop_target() { if [[ $1 == shoal ]]; then stop_shoal_target "$2"; else stop_dockerd "$2"; fi; }

cpu_busy() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

api() { curl -sf --max-time 10 --unix-socket "$SOCK" "http://localhost$1"; }

wait_ready() {  # after an untimed init: swarm active and the node ready, bounded
  local end=$((SECONDS + READY_TIMEOUT))
  while (( SECONDS < end )); do
    if [[ $(api /info | jq -r '.Swarm.LocalNodeState // empty' 2>/dev/null) == active ]] &&
       api /nodes | jq -e 'length >= 1 and all(.[]; .Status.State == "ready")' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

check_api() {  # target run: the fields the harness and the CLI read
  local t=$1 i=$2 body
  body=$(api /info) || { PROBLEMS+=("$t run $i: GET /info failed after the timed calls (see raw/$t-run-$i.api.d/info.response)"); }
  if [[ -n $body ]] && ! jq -e '.Swarm.LocalNodeState == "active" and (.Swarm.NodeID | type == "string" and length > 0)' <<<"$body" >/dev/null 2>&1; then
    PROBLEMS+=("$t run $i: GET /info lacks Swarm.LocalNodeState=active or Swarm.NodeID (raw/$t-run-$i.api.d/info.response)")
  fi
  body=$(api /nodes) || { PROBLEMS+=("$t run $i: GET /nodes failed after the timed calls (see raw/$t-run-$i.api.d/nodes.response)"); }
  if [[ -n $body ]] && ! jq -e 'length == 1 and .[0].Status.State == "ready" and .[0].ManagerStatus.Leader == true and (.[0].ID | length > 0)' <<<"$body" >/dev/null 2>&1; then
    PROBLEMS+=("$t run $i: GET /nodes is not one ready leader node (raw/$t-run-$i.api.d/nodes.response)")
  fi
}

BENCH_METRICS="init_ms rss_idle_kb pss_idle_kb rss_idle_procs rss_100_kb pss_100_kb rss_100_procs"
CONV_METRICS="converge_${REPLICAS}_ms converge_${REPLICAS}_cli_ms converge_${REPLICAS}_cleanup_ms"
API_METRICS="cli_version_ms api_nodes_ms api_nodes_max_ms api_nodes_non200 api_info_ms api_info_max_ms api_info_non200 api_ping_ms api_ping_max_ms api_ping_non200"

# The docker CLI's own cost, which is part of init_ms: the median wall time of a
# command that makes two small requests (/_ping, /version) and nothing else.
cli_floor() {
  local k t0 t1 vals=()
  for ((k = 0; k < 10; k++)); do
    t0=${EPOCHREALTIME//[!0-9]/}
    timeout 60 "$DOCKER" -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1 || { echo "cli_version_ms error"; return; }
    t1=${EPOCHREALTIME//[!0-9]/}
    vals+=($(( (t1 - t0 + 500) / 1000 )))
  done
  printf '%s\n' "${vals[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "cli_version_ms %s ms\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# cycle 1: swarm-bench --only $ONLY (default init,rss) on a fresh daemon
cycle_bench() {  # target run -> 1 when dockerd did not start
  local t=$1 i=$2 f=$RAW/$1-run-$2 b0 t0 b1 t1 l0 m
  log "run $i/$RUNS $t: swarm-bench --only $ONLY"
  if start_target "$t" "run-$i-bench"; then
    read -r b0 t0 < <(cpu_busy); l0=$(cut -d' ' -f1-3 /proc/loadavg)
    run_child "$f.bench" "$f.bench.err" "$HARNESS/swarm-bench" --only "$ONLY" \
      --init-args "$INIT_ARGS" --create-args "$CREATE_ARGS" --timeout 120 --max-runtime 900 \
      --docker "$DOCKER" "${RSS_ARGS[@]}" "$SPEC"
    local rc=$?
    read -r b1 t1 < <(cpu_busy)
    printf 'swarm_bench_rc %s\nloadavg_before %s\nloadavg_after %s\ncpu_busy_pct %s\nspec %s\nrss_args %s\n' \
      "$rc" "$l0" "$(cut -d' ' -f1-3 /proc/loadavg)" \
      "$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }')" \
      "$SPEC" "${RSS_ARGS[*]}" > "$f.bench.env"
    (( rc )) && PROBLEMS+=("$t run $i: swarm-bench exited $rc (raw/$t-run-$i.bench.err)")
    # rss_100 describes the daemon with 111 running tasks; without them it is n/a
    if grep -q 'setup: [^ ]*-c50 100 running' "$f.bench.err" || grep -qE '^scale_ms [0-9]' "$f.bench"; then
      cat "$f.bench" >> "$f.txt"
    else awk '$1 ~ /^(rss|pss)_100_(kb|procs)$/ { print $1, "n/a"; next } { print }' "$f.bench" >> "$f.txt"; fi
    stop_target "$t" "run-$i-bench"
  else
    log "run $i $t: start failed: $LAST_START_ERROR"
    [[ $t == shoal ]] && PROBLEMS+=("shoal run $i: $LAST_START_ERROR")
    for m in $BENCH_METRICS; do echo "$m error" >> "$f.txt"; done
    [[ $t == dockerd ]] && return 1
  fi
  return 0
}

# Untimed `docker swarm init` with the same arguments as cycle 1, then wait until the
# node is ready.  On failure: a problem noted, INIT_OUTCOME = error or timeout.
INIT_OUTCOME=""
init_untimed() {  # target run outfile what
  local t=$1 i=$2 out=$3 what=$4
  # shellcheck disable=SC2086
  if ! timeout 60 "$DOCKER" -H "unix://$SOCK" swarm init "${ADDR_ARGS[@]}" $INIT_ARGS >"$out" 2>&1; then
    PROBLEMS+=("$t run $i: untimed swarm init for $what failed: $(tr '\n' ' ' < "$out")")
    INIT_OUTCOME=error; return 1
  fi
  if ! wait_ready; then
    PROBLEMS+=("$t run $i: swarm not active with a ready node within ${READY_TIMEOUT}s after init ($what)")
    INIT_OUTCOME=timeout; return 1
  fi
  return 0
}

# cycle 2: API latency on another fresh daemon, swarm initialised untimed
cycle_api() {  # target run -> 1 when dockerd did not start
  local t=$1 i=$2 f=$RAW/$1-run-$2 m
  log "run $i/$RUNS $t: GET /nodes and GET /info x $API_CALLS"
  if start_target "$t" "run-$i-api"; then
    if ! init_untimed "$t" "$i" "$f.api.init" "the API cycle"; then
      for m in $API_METRICS; do echo "$m $INIT_OUTCOME" >> "$f.txt"; done
    else
      # GET /_ping: the same method on the cheapest endpoint, i.e. the floor that
      # curl + connect + one HTTP exchange puts under every api_* figure
      run_child "$f.api" "$f.api.err" "$BENCH/api-latency" --calls "$API_CALLS" --raw "$f.api.d" "$SOCK" nodes info _ping
      [[ -s $f.api.err ]] && PROBLEMS+=("$t run $i: $(tr '\n' ' ' < "$f.api.err")")
      cat "$f.api" >> "$f.txt"
      # time above that floor: median(endpoint) - median(/_ping) of this run
      awk '$1 == "api_ping_ms" { p = $2 } $1 == "api_nodes_ms" { n = $2 } $1 == "api_info_ms" { i = $2 }
        END { if (p ~ /^[0-9.]+$/ && n ~ /^[0-9.]+$/) printf "api_nodes_over_ping_ms %.3f ms\n", n - p
              if (p ~ /^[0-9.]+$/ && i ~ /^[0-9.]+$/) printf "api_info_over_ping_ms %.3f ms\n", i - p }' "$f.api" >> "$f.txt"
      check_api "$t" "$i"
      cli_floor >> "$f.txt"
    fi
    stop_target "$t" "run-$i-api"
  else
    log "run $i $t: start failed: $LAST_START_ERROR"
    [[ $t == shoal ]] && PROBLEMS+=("shoal run $i: $LAST_START_ERROR")
    for m in $API_METRICS; do echo "$m error" >> "$f.txt"; done
    [[ $t == dockerd ]] && return 1
  fi
  return 0
}

# cycle 3: bench/converge on another fresh daemon: swarm init and `docker import` of
# the harness's image untimed, then converge_N_ms (create -> N tasks running)
cycle_converge() {  # target run -> 1 when dockerd did not start
  local t=$1 i=$2 f=$RAW/$1-run-$2 m rc b0 t0 b1 t1 l0
  log "run $i/$RUNS $t: bench/converge --replicas $REPLICAS"
  if start_target "$t" "run-$i-conv"; then
    if ! init_untimed "$t" "$i" "$f.conv.init" "the converge cycle"; then
      for m in $CONV_METRICS; do echo "$m $INIT_OUTCOME" >> "$f.txt"; done
    elif ! timeout 120 "$DOCKER" -H "unix://$SOCK" import "$CONV_TAR" "$CONV_IMAGE" >"$f.conv.import" 2>&1; then
      PROBLEMS+=("$t run $i: untimed docker import of $CONV_IMAGE failed: $(tr '\n' ' ' < "$f.conv.import")")
      for m in $CONV_METRICS; do echo "$m error" >> "$f.txt"; done
    else
      read -r b0 t0 < <(cpu_busy); l0=$(cut -d' ' -f1-3 /proc/loadavg)
      run_child "$f.conv" "$f.conv.err" "$BENCH/converge" --replicas "$REPLICAS" \
        --image "$CONV_IMAGE" --docker "$DOCKER" --raw "$f.conv.d" "$SOCK"
      rc=$?
      read -r b1 t1 < <(cpu_busy)
      printf 'converge_rc %s\nloadavg_before %s\nloadavg_after %s\ncpu_busy_pct %s\n' \
        "$rc" "$l0" "$(cut -d' ' -f1-3 /proc/loadavg)" \
        "$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }')" > "$f.conv.env"
      (( rc )) && PROBLEMS+=("$t run $i: bench/converge exited $rc: $(grep -v '^\[converge [0-9:]*\] docker service' "$f.conv.err" | tr '\n' ' ' | cut -c1-300)")
      if grep -q "^converge_${REPLICAS}_ms " "$f.conv"; then cat "$f.conv" >> "$f.txt"
      else for m in $CONV_METRICS; do echo "$m error" >> "$f.txt"; done; fi
      echo "converge_loadavg $(cut -d' ' -f1 <<<"$l0") load" >> "$f.txt"
    fi
    stop_target "$t" "run-$i-conv"
  else
    log "run $i $t: start failed: $LAST_START_ERROR"
    [[ $t == shoal ]] && PROBLEMS+=("shoal run $i: $LAST_START_ERROR")
    for m in $CONV_METRICS; do echo "$m error" >> "$f.txt"; done
    [[ $t == dockerd ]] && return 1
  fi
  return 0
}

bench_target() {  # target run -> 1 when dockerd did not start
  : > "$RAW/$1-run-$2.txt"
  if (( BENCH_CYCLE )); then cycle_bench "$1" "$2" || return 1; fi
  if (( API_CYCLE )); then cycle_api "$1" "$2" || return 1; fi
  if (( CONV_CYCLE )); then cycle_converge "$1" "$2" || return 1; fi
  return 0
}

# ------------------------------------------------------------------ facts
{
  echo "# shoal bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "runs: $RUNS (fresh daemons for every measurement cycle)"
  echo "api_calls: $API_CALLS"
  echo "cycles: $( ((BENCH_CYCLE)) && echo "1:swarm-bench --only $ONLY ")$( ((API_CYCLE)) && echo "2:api-latency ")$( ((CONV_CYCLE)) && echo "3:converge --replicas $REPLICAS --image $CONV_IMAGE")"
  echo "harness: $HARNESS"
  echo "init_args: $INIT_ARGS"
  echo "create_args: $CREATE_ARGS"
  echo "shoal_binary: $BUILD_NOTE"
  echo "shoal_version: $("$SHOAL_BIN" daemon --version 2>&1)"
  echo "shoal_tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) + $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed/untracked paths"
  echo "dockerd: $( [[ -z $DOCKERD_WHY ]] && dockerd --version 2>&1 || echo "not measured: $DOCKERD_WHY")"
  echo "containerd: $(containerd --version 2>/dev/null)"
  echo "docker_cli: $DOCKER ($("$DOCKER" --version 2>/dev/null))"
  echo "nproc: $(nproc)"
  echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel: $(uname -srm)"
  echo "memory: $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
  echo "loadavg_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/commands.txt"

# ------------------------------------------------------------------ runs
[[ -n $DOCKERD_WHY ]] && log "NOTE: the reference dockerd is not measured: $DOCKERD_WHY"
DOCKERD_RAN=0
for ((i = 1; i <= RUNS; i++)); do
  for t in "${TARGETS[@]}"; do
    if bench_target "$t" "$i"; then
      [[ $t == dockerd ]] && DOCKERD_RAN=1
    elif (( ! DOCKERD_RAN )); then
      # dockerd never started: say exactly why, drop it, go on with shoal
      DOCKERD_WHY=$LAST_START_ERROR
      log "NOTE: the reference dockerd is not measured: $DOCKERD_WHY"
      TARGETS=(shoal)
      rm -f "$RAW"/dockerd-run-*.txt
    else
      PROBLEMS+=("dockerd run $i: $LAST_START_ERROR")
    fi
  done
done

# ------------------------------------------------------------------ summary
summary() {  # target -> bench-summary plain output
  compgen -G "$RAW/$1-run-*.txt" >/dev/null || return 0
  "$HARNESS/bench-summary" "$RAW/$1"-run-*.txt
}
summary dockerd > "$TMP/sum-dockerd"
summary shoal > "$TMP/sum-shoal"

med() {  # target metric -> median, or the non-numeric outcome(s), or n/a
  local f=$TMP/sum-$1
  [[ -s $f ]] || { echo "n/a"; return; }
  # (with no numeric value the unit column is empty, so the outcomes start at field 6)
  awk -v m="$2" '$1 == m { if ($3 != "-") print $3; else { o = ""; for (i = 6; i <= NF; i++) o = o (o ? " " : "") $i; gsub(/ x[0-9]+/, "", o); print (o == "" ? "n/a" : o) } found = 1 }
    END { if (!found) print "n/a" }' "$f"
}
rng() {  # target metric -> " [min..max]" when the runs differ, else nothing
  local f=$TMP/sum-$1
  [[ -s $f ]] || return 0
  awk -v m="$2" '$1 == m && $2 > 1 && $4 != $5 { printf " [%s..%s]", $4, $5 }' "$f"
}
isnum() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
ratio() { if isnum "$1" && isnum "$2" && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; else echo "-"; fi; }
withunit() {  # value unit
  local v=$1 u=$2
  isnum "$v" || { echo "$v"; return; }
  case $u in
    kB) awk -v v="$v" 'BEGIN { printf "%d kB (%.1f MiB)", v, v / 1024 }' ;;
    ms) echo "$v ms" ;;
    *) echo "$v" ;;
  esac
}

# metric | unit | goal text | goal kind (ratio10, rss8m, info)
ROWS=(
  "init_ms|ms|dockerd/shoal >= 10|ratio10"
  "rss_idle_kb|kB|shoal < 8 MiB|rss8m"
  "api_nodes_ms|ms|dockerd/shoal >= 10|ratio10"
  "api_info_ms|ms|dockerd/shoal >= 10|ratio10"
  "cli_version_ms|ms|-|info"
  "pss_idle_kb|kB|-|info"
  "rss_idle_procs|count|-|info"
  "api_ping_ms|ms|-|info"
  "api_nodes_over_ping_ms|ms|-|info"
  "api_info_over_ping_ms|ms|-|info"
  "api_nodes_max_ms|ms|-|info"
  "api_info_max_ms|ms|-|info"
  "rss_100_kb|kB|-|info"
  "converge_1_ms|ms|dockerd/shoal >= 3|ratio3"
  "converge_10_ms|ms|dockerd/shoal >= 3|ratio3"
  "converge_50_ms|ms|dockerd/shoal >= 3|ratio3"
  "scale_ms|ms|dockerd/shoal >= 3|ratio3"
  "update_ms|ms|dockerd/shoal >= 3|ratio3"
  "update_completed_ms|ms|-|info"
  "api_services_ms|ms|-|info"
  "api_tasks_ms|ms|-|info"
)
# cycle 3's row, unless the harness has one of that name (--replicas 1, 10 or 50)
[[ " ${ROWS[*]} " == *" converge_${REPLICAS}_ms|"* ]] ||
  ROWS+=("converge_${REPLICAS}_ms|ms|dockerd/shoal >= 3|ratio3")
ROWS+=(
  "converge_${REPLICAS}_cli_ms|ms|-|info"
  "converge_${REPLICAS}_cleanup_ms|ms|-|info"
  "converge_loadavg|load|-|info"
)
TABLE=$TMP/table; MISSED=0; SHOAL_ERR=0
: > "$TABLE"
for row in "${ROWS[@]}"; do
  IFS='|' read -r m u goal kind <<<"$row"
  d=$(med dockerd "$m"); s=$(med shoal "$m")
  [[ -n $DOCKERD_WHY ]] && d="n/a"
  # a metric this run did not ask for (--only, --no-api) gets no row
  [[ $d == n/a && $s == n/a ]] && continue
  r=$(ratio "$d" "$s"); [[ $u == count || $u == load ]] && r="-"
  met="-"
  case $kind in
    ratio3)
      if isnum "$d" && isnum "$s"; then
        if awk -v a="$d" -v b="$s" 'BEGIN { exit !(b > 0 && a / b >= 3) }'; then met=yes; else met=NO; MISSED=1; fi
      else met="n/a"; fi ;;
    ratio10)
      if isnum "$d" && isnum "$s"; then
        if awk -v a="$d" -v b="$s" 'BEGIN { exit !(b > 0 && a / b >= 10) }'; then met=yes; else met=NO; MISSED=1; fi
      else met="n/a"; fi ;;
    rss8m)
      if isnum "$s"; then
        if awk -v b="$s" 'BEGIN { exit !(b < 8192) }'; then met=yes; else met=NO; MISSED=1; fi
      else met="n/a"; fi ;;
  esac
  [[ $kind != info ]] && ! isnum "$s" && SHOAL_ERR=1
  dv=$(withunit "$d" "$u"); sv=$(withunit "$s" "$u")
  if [[ $u == ms ]]; then
    isnum "$d" && dv+=$(rng dockerd "$m")
    isnum "$s" && sv+=$(rng shoal "$m")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$dv" "$sv" "$r" "$goal" "$met" >> "$TABLE"
done

print_table() {
  printf '%-23s %-26s %-26s %-8s %-20s %s\n' metric dockerd shoal ratio goal "met?"
  while IFS=$'\t' read -r m d s r g x; do
    printf '%-23s %-26s %-26s %-8s %-20s %s\n' "$m" "$d" "$s" "$r" "$g" "$x"
  done < "$TABLE"
}

# harness setup steps that failed (for example services on a daemon that has none yet)
for t in dockerd shoal; do
  compgen -G "$RAW/$t-run-*.bench.err" >/dev/null || continue
  while IFS= read -r line; do NOTES+=("$t: swarm-bench: $line"); done < <(
    sed -n 's/^\[swarm-bench [0-9:]*\] //p' "$RAW/$t"-run-*.bench.err | grep -E 'failed|ERROR|WARNING|non-200|timeout' | sort -u | head -n 10)
done

{
  echo "# shoal vs dockerd: single-node swarm"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $RUNS run(s), medians [min..max over the runs]; ratio = dockerd / shoal (of the medians)."
  echo
  echo "| metric | dockerd | shoal | ratio | goal | met? |"
  echo "|---|---|---|---|---|---|"
  while IFS=$'\t' read -r m d s r g x; do echo "| $m | $d | $s | $r | $g | $x |"; done < "$TABLE"
  echo
  [[ -n $DOCKERD_WHY ]] && { echo "**The reference dockerd was not measured:** $DOCKERD_WHY"; echo; }
  if (( ${#PROBLEMS[@]} )); then echo "## Problems"; echo; printf -- '- %s\n' "${PROBLEMS[@]}"; echo; fi
  if (( ${#NOTES[@]} )); then echo "## Notes"; echo; printf -- '- %s\n' "${NOTES[@]}"; echo; fi
  echo "## Setup"; echo; echo '```'; cat "$OUT/commands.txt"; echo '```'; echo
  for t in dockerd shoal; do
    compgen -G "$RAW/$t-run-*.txt" >/dev/null || continue
    echo "## $t, all metrics over $RUNS run(s)"; echo
    "$HARNESS/bench-summary" --md "$RAW/$t"-run-*.txt; echo
  done
} > "$OUT/summary.md"

echo
echo "== shoal vs dockerd, single-node swarm: medians of $RUNS run(s) [min..max]; ratio = dockerd/shoal =="
print_table
[[ -n $DOCKERD_WHY ]] && echo && echo "dockerd NOT measured: $DOCKERD_WHY"
if (( ${#PROBLEMS[@]} )); then echo; echo "problems:"; printf '  - %s\n' "${PROBLEMS[@]}"; fi
if (( ${#NOTES[@]} )); then echo; echo "notes:"; printf '  - %s\n' "${NOTES[@]}"; fi
echo
echo "results: $OUT (summary.md, commands.txt, raw/)"
(( MISSED )) && log "some goals are not met (see the table)"

RC=0
if (( SHOAL_ERR )); then RC=1; elif [[ -n $DOCKERD_WHY ]]; then RC=2; fi

# ------------------------------------------------------------------ multi-node
# bench/run-multi.sh, under this run's lock, with the binary built above
if (( MULTI )); then
  log "multi-node benchmark: bench/run-multi.sh (results in $OUT/multi)"
  margs=(--runs "$RUNS" --api-calls "$API_CALLS" --no-deps --no-build --out "$OUT/multi")
  (( API_CYCLE )) || margs+=(--no-own)
  (( SHOAL_ONLY )) && margs+=(--shoal-only)
  SHOAL_BENCH_LOCK_HELD=1 SHOAL_BENCH_BIN=$SHOAL_BIN SHOAL_BENCH_HARNESS=$HARNESS \
    "$BENCH/run-multi.sh" "${margs[@]}" </dev/null &
  CHILD=$!
  wait "$CHILD"; mrc=$?
  CHILD=""
  # the worse of the two: 1 (fatal / shoal error) over 2 (dockerd not measured) over 0
  if (( mrc == 1 || mrc > 2 )); then RC=1; elif (( mrc == 2 && RC == 0 )); then RC=2; fi
  # summary.md also gets the multi-node table, problems and notes (setup and the
  # per-daemon tables stay in multi/summary.md)
  if [[ -s $OUT/multi/summary.md ]]; then
    { echo; awk '/^## Setup/ { exit } { print }' "$OUT/multi/summary.md"; echo "Details: multi/summary.md, multi/raw/."; } >> "$OUT/summary.md"
  fi
fi
exit "$RC"
