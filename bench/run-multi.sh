#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called indirectly (trap, start_$target)
# bench/run-multi.sh - shoal against the reference dockerd, side by side, on a swarm of
# 3 managers and 1 worker.  `make bench` runs it after the single-node benchmark
# (bench/run.sh calls it; `run.sh --no-multi` skips it).  See bench/README.md.
#
# usage: bench/run-multi.sh [--runs N] [--api-calls N] [--writers P] [--writes N]
#                           [--fo-timeout S] [--shoal-only] [--no-deps] [--no-build]
#                           [--out DIR] [--only LIST] [--no-own]
#
#   --runs N        fresh-cluster runs per daemon (default 3); the table shows medians
#   --api-calls N   sequential calls for api_nodes_follower_ms (default 50)
#   --writers P     concurrent writers for write_per_s (default 4)
#   --writes N      writes in all for write_per_s (default 1000)
#   --fo-timeout S  bound of every wait: swarm-bench --timeout and the failover_write
#                   loop (default 60)
#   --shoal-only    do not start the reference dockerd
#   --no-deps       skip `SHOAL_BENCH=1 ./scripts/install-deps.sh`
#   --no-build      do not run make; use the existing binary
#   --out DIR       results directory (default bench/results/<UTC timestamp>-multi)
#   --only LIST     swarm-bench's metrics in cycle 1 (default init,join,failover);
#                   issue 5's node-failure rescheduling: init,join,nodedown,failover
#   --no-own        skip cycle 2 (follower reads, writes, failover_write)
#
# Environment: as bench/run.sh (SHOAL_BENCH_HARNESS, SHOAL_BENCH_BUILD,
# SHOAL_BENCH_CFLAGS, SHOAL_BENCH_BIN, SHOAL_BENCH_PREFIX, DOCKER_CLI).
#
# Exit status: 0 when every goal metric was measured on both daemons (whether or not
# the goals are met), 1 on a fatal error or when a shoal goal metric is error/timeout,
# 2 when the reference dockerd could not be measured (shoal was still measured).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
HARNESS=${SHOAL_BENCH_HARNESS:-$ROOT/../shared/bench}
BUILD_DIR=${SHOAL_BENCH_BUILD:-build-bench}
BENCH_CFLAGS=${SHOAL_BENCH_CFLAGS:--O2}
AB_PREFIX=${SHOAL_BENCH_PREFIX:-sbench}
export AB_PREFIX
DOCKER=${DOCKER_CLI:-/usr/local/bin/docker}
RUNS=3; API_CALLS=50; WRITERS=4; WRITES=1000; FO_TIMEOUT=60
SHOAL_ONLY=0; DEPS=1; BUILD=1; OUT=""; ONLY=init,join,failover; OWN_CYCLE=1
# The same for both daemons (and the same as bench/run.sh).
INIT_ARGS="--default-addr-pool 198.19.0.0/17"
CREATE_ARGS="--stop-grace-period 0s"
NODES=4; MANAGERS=3     # swarm-bench's default roles: nodes 1-3 managers, node 4 a worker
START_TIMEOUT=30        # s, daemon start -> /_ping
STOP_TIMEOUT=20         # s, SIGTERM -> exit, then SIGKILL
READY_TIMEOUT=60        # s, untimed init + joins -> every node ready, managers reachable
POLL=0.02               # s, failover_write poll interval (swarm-bench's --poll-ms 20)

while (( $# )); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --api-calls) API_CALLS=$2; shift 2 ;;
    --writers) WRITERS=$2; shift 2 ;;
    --writes) WRITES=$2; shift 2 ;;
    --fo-timeout) FO_TIMEOUT=$2; shift 2 ;;
    --shoal-only) SHOAL_ONLY=1; shift ;;
    --no-deps) DEPS=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --no-own) OWN_CYCLE=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run-multi.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in RUNS API_CALLS WRITERS WRITES FO_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "run-multi.sh: ${v,,} must be a positive integer" >&2; exit 2; }
done
[[ $ONLY =~ ^[a-z]+(,[a-z]+)*$ ]] || { echo "run-multi.sh: --only takes a comma list of swarm-bench metrics" >&2; exit 2; }

log() { printf '[bench-multi %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=bench/shoal-leftovers.sh
. "$BENCH/shoal-leftovers.sh"

# ------------------------------------------------------------------ state + cleanup
TMP=""; LOCK=""; OWN_LOCK=0; CHILD=""; FO_READER=""; ANCHOR_USED=0
SHOAL_DIR=""; SHOAL_PIDS=(); SHOAL_SOCKS=()
PROBLEMS=(); NOTES=()

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
wait_gone() {  # pid timeout_s -> 0 when the process is gone within the deadline
  local p=$1 end=$((SECONDS + $2))
  while pid_alive "$p" && (( SECONDS < end )); do sleep 0.05; done
  ! pid_alive "$p"
}
now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$t"; }
ms_since() { local t=${EPOCHREALTIME//[!0-9]/}; echo $(( (t - $1 + 500) / 1000 )); }

our_shoal() {  # k -> 0 when SHOAL_PIDS[k] is alive and is the daemon on SHOAL_SOCKS[k]
  local p=${SHOAL_PIDS[$1]:-}
  pid_alive "$p" && tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF -- "unix://${SHOAL_SOCKS[$1]} "
}
stop_shoals() {  # SIGTERM every shoal we started (pid checked against its socket), bounded
  local k p
  for k in "${!SHOAL_PIDS[@]}"; do our_shoal "$k" && kill -TERM "${SHOAL_PIDS[$k]}" 2>/dev/null; done
  for k in "${!SHOAL_PIDS[@]}"; do
    p=${SHOAL_PIDS[$k]}
    [[ -z $p ]] && continue
    if our_shoal "$k" && ! wait_gone "$p" "$STOP_TIMEOUT"; then
      log "shoal node$((k + 1)) pid $p still alive ${STOP_TIMEOUT}s after SIGTERM; SIGKILL"
      PROBLEMS+=("shoal node$((k + 1)) did not exit within ${STOP_TIMEOUT}s of SIGTERM (pid $p); killed")
      kill -9 "$p" 2>/dev/null; wait_gone "$p" 5
    fi
  done
  SHOAL_PIDS=()
}

anchor() { "$HARNESS/anchor-dockerd" "$@"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if pid_alive "$CHILD"; then
    kill -TERM "$CHILD" 2>/dev/null
    wait_gone "$CHILD" 60 || kill -9 "$CHILD" 2>/dev/null
  fi
  pid_alive "$FO_READER" && kill -TERM "$FO_READER" 2>/dev/null
  stop_shoals
  if (( ANCHOR_USED )); then anchor stop >>"${ANCHOR_LOG:-/dev/null}" 2>&1 || log "anchor-dockerd stop failed"; fi
  [[ -n $TMP && -d $TMP ]] && { shoal_leftovers "$TMP"/shoal-*; rm -rf "$TMP"; }
  if [[ -n ${OUT:-} && -d $OUT && ! -e $OUT/summary.md ]]; then
    printf '# incomplete run\n\nrun-multi.sh stopped early with status %s; only raw/ has results.\n' "$rc" > "$OUT/summary.md"
  fi
  (( OWN_LOCK )) && [[ $(cat "$LOCK" 2>/dev/null) == "$$" ]] && rm -f "$LOCK"
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
# bench/run.sh holds the lock itself when it calls this script (SHOAL_BENCH_LOCK_HELD=1).
LOCK=/tmp/shoal-bench-$AB_PREFIX.lock
if [[ ${SHOAL_BENCH_LOCK_HELD:-} == 1 && $(tr -dc '0-9' < "$LOCK" 2>/dev/null) == "$PPID" ]]; then
  :
else
  for _ in 1 2; do
    if (set -C; echo "$$" > "$LOCK") 2>/dev/null; then break; fi
    other=$(tr -dc '0-9' < "$LOCK" 2>/dev/null)
    if [[ -n $other ]] && pid_alive "$other" && tr '\0' ' ' < "/proc/$other/cmdline" 2>/dev/null | grep -qE 'run(-multi)?\.sh'; then
      die "another bench run (pid $other) is in progress"
    fi
    log "removing stale lock $LOCK (pid ${other:-?} is gone)"; rm -f "$LOCK"
  done
  [[ $(cat "$LOCK" 2>/dev/null) == "$$" ]] || die "could not take the lock $LOCK"
  OWN_LOCK=1
fi

TMP=$(mktemp -d /tmp/shoal-bench-multi.XXXXXX)
[[ -z $OUT ]] && OUT=$BENCH/results/$(date -u +%Y%m%dT%H%M%SZ)-multi
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

# ------------------------------------------------------------------ build
BUILD_NOTE=""
if [[ -n ${SHOAL_BENCH_BIN:-} ]]; then
  [[ -x $SHOAL_BENCH_BIN ]] || die "SHOAL_BENCH_BIN=$SHOAL_BENCH_BIN is not executable"
  SHOAL_BIN=$SHOAL_BENCH_BIN; BUILD_NOTE="$SHOAL_BIN (SHOAL_BENCH_BIN)"
else
  SHOAL_BIN=$ROOT/$BUILD_DIR/shoal
  if (( ! BUILD )); then
    [[ -x $SHOAL_BIN ]] || die "--no-build: $SHOAL_BIN does not exist"
    BUILD_NOTE="$BUILD_DIR/shoal (existing build)"
  else
    log "build: make BUILD=$BUILD_DIR EXTRA_CFLAGS='$BENCH_CFLAGS' $BUILD_DIR/shoal"
    if make -C "$ROOT" -j"$(nproc)" BUILD="$BUILD_DIR" "EXTRA_CFLAGS=$BENCH_CFLAGS" "$BUILD_DIR/shoal" "$BUILD_DIR/shoal-monitor" >"$RAW/build.log" 2>&1; then
      BUILD_NOTE="$BUILD_DIR/shoal (make BUILD=$BUILD_DIR EXTRA_CFLAGS='$BENCH_CFLAGS')"
    else
      tail -n 25 "$RAW/build.log" >&2
      die "build failed (full log: $RAW/build.log)"
    fi
  fi
fi

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

# Per-target connection details, set by start_<target>:
#   SOCKS[k]   the API socket of node k+1
#   ADDRS[k]   its swarm address (IP, or IP:PORT that is also the --listen-addr)
#   PIDFILES[k]
SOCKS=(); ADDRS=(); PIDFILES=(); LAST_START_ERROR=""

start_dockerd() {  # tag
  local spec
  ANCHOR_USED=1
  if ! anchor start -n "$NODES" >>"$RAW/anchor.log" 2>&1; then
    LAST_START_ERROR="anchor-dockerd start -n $NODES failed: $(tail -n 3 "$RAW/anchor.log" | tr '\n' ' ')"
    anchor stop >>"$RAW/anchor.log" 2>&1
    return 1
  fi
  SOCKS=(); ADDRS=()
  for spec in $(anchor nodes); do SOCKS+=("${spec%%@*}"); ADDRS+=("${spec#*@}"); done
  IFS=, read -r -a PIDFILES <<<"$(anchor pidfiles)"
  (( ${#SOCKS[@]} == NODES && ${#PIDFILES[@]} == NODES )) ||
    { LAST_START_ERROR="anchor-dockerd nodes/pidfiles did not list $NODES nodes"; anchor stop >>"$RAW/anchor.log" 2>&1; return 1; }
  return 0
}
stop_dockerd() {  # tag
  local k
  anchor stop >>"$RAW/anchor.log" 2>&1 || PROBLEMS+=("anchor-dockerd stop failed (see raw/anchor.log)")
  for ((k = 1; k <= NODES; k++)); do
    cp -f "/var/lib/$AB_PREFIX/last-logs/node$k.log" "$RAW/dockerd-$1-node$k.daemon.log" 2>/dev/null
  done
  return 0
}

free_ports() {  # n -> n distinct free TCP ports on 127.0.0.1 for shoal's swarm listeners
  local n=$1 p got=()
  for ((p = 23770; p < 24000 && ${#got[@]} < n; p++)); do
    [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] && got+=("$p")
  done
  (( ${#got[@]} == n )) && echo "${got[*]}"
}

start_shoal() {  # tag
  local ports k d end ok
  SHOAL_DIR=$TMP/shoal-$1; mkdir -p "$SHOAL_DIR"
  ports=$(free_ports "$NODES") || { LAST_START_ERROR="not $NODES free TCP ports in 23770-23999 on 127.0.0.1"; return 1; }
  read -r -a ports <<<"$ports"
  SOCKS=(); ADDRS=(); PIDFILES=(); SHOAL_PIDS=(); SHOAL_SOCKS=()
  for ((k = 0; k < NODES; k++)); do
    d=$SHOAL_DIR/node$((k + 1)); mkdir -p "$d"
    SOCKS[k]=$d/shoal.sock; SHOAL_SOCKS[k]=$d/shoal.sock
    ADDRS[k]=127.0.0.1:${ports[k]}
    PIDFILES[k]=$d/shoal.pid
    "$SHOAL_BIN" daemon --data-root "$d/data" -H "unix://${SOCKS[k]}" -p "${PIDFILES[k]}" \
      >"$d/shoal.log" 2>&1 </dev/null &
    SHOAL_PIDS[k]=$!
    # no job-status message when a kill -9 test ends it; it is still our child (pid_alive)
    disown "${SHOAL_PIDS[k]}"
  done
  end=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < end )); do
    ok=0
    for ((k = 0; k < NODES; k++)); do
      if ! pid_alive "${SHOAL_PIDS[k]}"; then
        LAST_START_ERROR="shoal node$((k + 1)) exited at start: $(tail -n 5 "$SHOAL_DIR/node$((k + 1))/shoal.log")"
        stop_shoals; return 1
      fi
      curl -sf --max-time 2 --unix-socket "${SOCKS[k]}" http://localhost/_ping >/dev/null 2>&1 &&
        [[ $(tr -dc '0-9' < "${PIDFILES[k]}" 2>/dev/null) == "${SHOAL_PIDS[k]}" ]] && ok=$((ok + 1))
    done
    (( ok == NODES )) && return 0
    sleep 0.05
  done
  LAST_START_ERROR="not every shoal daemon answered /_ping within ${START_TIMEOUT}s"
  stop_shoals
  return 1
}
stop_shoal() {  # tag
  local k
  stop_shoals
  for ((k = 1; k <= NODES; k++)); do
    cp -f "$SHOAL_DIR/node$k/shoal.log" "$RAW/shoal-$1-node$k.daemon.log" 2>/dev/null
  done
  shoal_leftovers "$SHOAL_DIR"
  rm -rf "$SHOAL_DIR"
}

start_target() { LAST_START_ERROR=""; "start_$1" "$2"; }
stop_target() { "stop_$1" "$2"; }

cpu_busy() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
env_file() {  # file l0 b0 t0 -> the load and CPU use of one cycle
  local b1 t1
  read -r b1 t1 < <(cpu_busy)
  printf 'loadavg_before %s\nloadavg_after %s\ncpu_busy_pct %s\n' "$2" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(awk -v b=$((b1 - $3)) -v t=$((t1 - $4)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }')" >> "$1"
}

api() { local s=$1; shift; curl -sf --max-time "${CURL_MAX:-10}" --unix-socket "$s" "$@"; }
dk() { local s=$1; shift; timeout 60 "$DOCKER" -H "unix://$s" "$@"; }
addr_args() {  # k -> swarm-bench's --advertise-addr [--listen-addr] for node k+1
  local a=${ADDRS[$1]}
  printf -- '--advertise-addr\n%s\n' "$a"
  [[ $a == *:* ]] && printf -- '--listen-addr\n%s\n' "$a"
}
remote_of() { local a=$1; [[ $a == *:* ]] && echo "$a" || echo "$a:2377"; }
node_id() { api "$1" http://localhost/info | jq -r '.Swarm.NodeID // empty' 2>/dev/null; }
leader_other_than() {  # sock dead-id -> the leader's ID if GET /nodes names one that is not dead-id
  CURL_MAX=5 api "$1" http://localhost/nodes | jq -r --arg d "$2" \
    '[.[] | select(.ManagerStatus.Leader == true and .ID != $d) | .ID][0] // empty' 2>/dev/null
}
cluster_ready() {  # sock -> NODES nodes ready, MANAGERS reachable managers, one leader
  api "$1" http://localhost/nodes | jq -e --argjson n "$NODES" --argjson m "$MANAGERS" '
    length == $n and all(.[]; .Status.State == "ready") and
    ([.[] | select(.ManagerStatus.Reachability == "reachable")] | length) == $m and
    ([.[] | select(.ManagerStatus.Leader == true)] | length) == 1' >/dev/null 2>&1
}

# untimed: init on node 1, managers 2-3 and worker 4 join, all ready
form_cluster() {  # target run -> IDS[], LEADER (index); 1 on failure (PROBLEMS set)
  local t=$1 i=$2 k args=() mtok wtok tok end
  mapfile -t args < <(addr_args 0)
  # shellcheck disable=SC2086
  if ! dk "${SOCKS[0]}" swarm init "${args[@]}" $INIT_ARGS >"$TMP/init.out" 2>&1; then
    PROBLEMS+=("$t run $i: untimed swarm init failed: $(tr '\n' ' ' < "$TMP/init.out")"); return 1
  fi
  mtok=$(dk "${SOCKS[0]}" swarm join-token -q manager 2>/dev/null)
  wtok=$(dk "${SOCKS[0]}" swarm join-token -q worker 2>/dev/null)
  for ((k = 1; k < NODES; k++)); do
    tok=$wtok; (( k < MANAGERS )) && tok=$mtok
    mapfile -t args < <(addr_args "$k")
    if ! dk "${SOCKS[k]}" swarm join --token "$tok" "${args[@]}" "$(remote_of "${ADDRS[0]}")" >"$TMP/join.out" 2>&1; then
      PROBLEMS+=("$t run $i: untimed swarm join of node$((k + 1)) failed: $(tr '\n' ' ' < "$TMP/join.out")"); return 1
    fi
  done
  end=$((SECONDS + READY_TIMEOUT))
  until cluster_ready "${SOCKS[0]}"; do
    (( SECONDS < end )) || { PROBLEMS+=("$t run $i: $NODES nodes not ready with $MANAGERS reachable managers within ${READY_TIMEOUT}s"); return 1; }
    sleep 0.05
  done
  IDS=(); LEADER=""
  local lid; lid=$(leader_other_than "${SOCKS[0]}" -)
  for ((k = 0; k < NODES; k++)); do
    IDS[k]=$(node_id "${SOCKS[k]}")
    [[ -n ${IDS[k]} && ${IDS[k]} == "$lid" ]] && LEADER=$k
  done
  [[ -n $LEADER ]] || { PROBLEMS+=("$t run $i: the leader ($lid) is not one of our nodes"); return 1; }
  return 0
}

# kill -9 of the leader, then two loops side by side, each polling every POLL s through
# every surviving manager in turn, both bounded by FO_TIMEOUT:
#  * writes: `docker node update --label-add fo=N <worker>`, until one returns 0
#    (failover_write_ms).  A call that blocks until there is a leader again counts when
#    it returns.
#  * reads: GET /nodes, until it names a leader other than the killed node
#    (failover_write_leader_ms: swarm-bench's failover_leader_ms, in this cycle)
failover_write() {  # target run file
  local t=$1 i=$2 f=$3 p k lid target t0 deadline done_ms="" attempt=0 via="" msg lead
  lid=${IDS[LEADER]}; target=${IDS[NODES - 1]}
  p=$(tr -dc '0-9' < "${PIDFILES[LEADER]}" 2>/dev/null)
  if ! pid_alive "$p"; then
    PROBLEMS+=("$t run $i: failover_write: leader pid '$p' from ${PIDFILES[LEADER]} is not alive")
    echo "failover_write_leader_ms error"; echo "failover_write_ms error"; return
  fi
  : > "$f.fo"; rm -f "$TMP/fo.leader"
  kill -9 "$p"
  t0=$(now_us); deadline=$((t0 + FO_TIMEOUT * 1000000))
  echo "killed node$((LEADER + 1)) (leader $lid) pid $p; writes on $target" >> "$f.fo"
  (
    while (( ${EPOCHREALTIME//[!0-9]/} <= deadline )); do
      for ((k = 0; k < MANAGERS; k++)); do
        (( k == LEADER )) && continue
        nl=$(leader_other_than "${SOCKS[k]}" "$lid")
        [[ -n $nl ]] && { echo "$(ms_since "$t0") ms: node$((k + 1)) reports leader $nl" > "$TMP/fo.leader"; exit 0; }
      done
      sleep "$POLL"
    done
  ) </dev/null &
  FO_READER=$!
  while :; do
    for ((k = 0; k < MANAGERS; k++)); do
      (( k == LEADER )) && continue
      attempt=$((attempt + 1))
      if timeout 10 "$DOCKER" -H "unix://${SOCKS[k]}" node update --label-add "fo=$attempt" "$target" >"$TMP/fo.out" 2>&1; then
        done_ms=$(ms_since "$t0"); via=$k; break 2
      fi
      # every distinct failure, verbatim, with the time it was first seen
      msg=$(tr '\n' ' ' < "$TMP/fo.out")
      grep -qF -- "$msg" "$f.fo" 2>/dev/null ||
        echo "$(ms_since "$t0") ms: attempt $attempt via node$((k + 1)): docker node update --label-add fo=$attempt $target -> rc != 0: $msg" >> "$f.fo"
    done
    (( ${EPOCHREALTIME//[!0-9]/} > deadline )) && break
    sleep "$POLL"
  done
  [[ -n $via ]] && echo "$done_ms ms: write succeeded through node$((via + 1)) (attempt $attempt)" >> "$f.fo"
  [[ -z $done_ms ]] && PROBLEMS+=("$t run $i: no write through a surviving manager within ${FO_TIMEOUT}s of killing the leader (raw/$t-run-$i.fo)")
  wait_gone "$FO_READER" $((FO_TIMEOUT + 15)) || kill -TERM "$FO_READER" 2>/dev/null
  wait "$FO_READER" 2>/dev/null; FO_READER=""
  lead=""
  if [[ -s $TMP/fo.leader ]]; then cat "$TMP/fo.leader" >> "$f.fo"; lead=$(cut -d' ' -f1 "$TMP/fo.leader"); fi
  echo "failover_write_leader_ms ${lead:-timeout} ${lead:+ms}"
  echo "failover_write_ms ${done_ms:-timeout} ${done_ms:+ms}"
  echo "failover_write_attempts $attempt count"
}

# swarm-bench's failover_ms ends with `docker service create`: when it did not succeed,
# show verbatim what that command and its request get from a surviving manager
probe_service_create() {  # target run file
  local t=$1 i=$2 f=$3 k s="" out rc body
  for ((k = 0; k < MANAGERS; k++)); do (( k != LEADER )) && { s=${SOCKS[k]}; break; }; done
  [[ -n $s ]] || return 0
  # shellcheck disable=SC2086
  out=$(dk "$s" service create --detach --name bench-probe $CREATE_ARGS bench/busybox:1 sleep 3600 2>&1); rc=$?
  body='{"Name":"bench-probe","TaskTemplate":{"ContainerSpec":{"Image":"bench/busybox:1","Args":["sleep","3600"]}}}'
  {
    echo "\$ docker -H unix://$s service create --detach --name bench-probe $CREATE_ARGS bench/busybox:1 sleep 3600"
    echo "$out"; echo "(exit status $rc)"; echo
    echo "> POST /services/create HTTP/1.1   (Content-Type: application/json)"
    echo "> $body"
    curl -sS -i --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary "$body" \
      --unix-socket "$s" http://localhost/services/create 2>&1
    echo
  } > "$f.service-create.response"
  NOTES+=("$t run $i: failover_ms is not a number: it needs \`docker service create\`, which answers (through node$((k + 1)), after the failover): $(tr '\n' ' ' <<<"$out")(exit status $rc); POST /services/create -> $(grep -m 1 '^HTTP/' "$f.service-create.response" | tr -d '\r') $(tail -n 2 "$f.service-create.response" | tr -d '\r\n') (raw/$t-run-$i.service-create.response)")
}

HARNESS_METRICS="init_ms join_manager2_ms join_manager2_ready_ms join_manager3_ms join_manager3_ready_ms join_worker4_ms join_worker4_ready_ms failover_leader_ms failover_ms node_down_detect_ms node_down_ms"
OWN_METRICS="api_nodes_follower_ms api_nodes_follower_max_ms api_ping_follower_ms api_nodes_leader_ms write_per_s write_post_ms write_ok write_retries write_errors write_ceiling_per_s failover_write_leader_ms failover_write_ms"

bench_target() {  # target run
  local t=$1 i=$2 f=$RAW/$1-run-$2 b0 t0 l0 m k rc specs=()
  : > "$f.txt"
  # ---- cycle 1: swarm-bench --only $ONLY (default init,join,failover), fresh cluster
  log "run $i/$RUNS $t: swarm-bench --only $ONLY ($NODES nodes)"
  if start_target "$t" "run-$i-bench"; then
    for ((k = 0; k < NODES; k++)); do specs+=("${SOCKS[k]}@${ADDRS[k]}"); done
    read -r b0 t0 < <(cpu_busy); l0=$(cut -d' ' -f1-3 /proc/loadavg)
    run_child "$f.bench" "$f.bench.err" "$HARNESS/swarm-bench" --only "$ONLY" \
      --managers "$MANAGERS" --pidfiles "$(IFS=,; echo "${PIDFILES[*]}")" \
      --init-args "$INIT_ARGS" --create-args "$CREATE_ARGS" --timeout "$FO_TIMEOUT" --max-runtime 900 \
      --docker "$DOCKER" "${specs[@]}"
    rc=$?
    printf 'swarm_bench_rc %s\nspecs %s\npidfiles %s\n' "$rc" "${specs[*]}" "${PIDFILES[*]}" > "$f.bench.env"
    env_file "$f.bench.env" "$l0" "$b0" "$t0"
    (( rc )) && PROBLEMS+=("$t run $i: swarm-bench exited $rc (raw/$t-run-$i.bench.err)")
    cat "$f.bench" >> "$f.txt"
    stop_target "$t" "run-$i-bench"
  else
    log "run $i $t: start failed: $LAST_START_ERROR"
    [[ $t == shoal ]] && PROBLEMS+=("shoal run $i: $LAST_START_ERROR")
    for m in $HARNESS_METRICS; do echo "$m error" >> "$f.txt"; done
    [[ $t == dockerd ]] && return 1
  fi
  (( OWN_CYCLE )) || return 0
  # ---- cycle 2: follower reads, writes through the leader, write-based failover
  log "run $i/$RUNS $t: follower GET /nodes, $WRITES writes, failover_write"
  if start_target "$t" "run-$i-own"; then
    read -r b0 t0 < <(cpu_busy); l0=$(cut -d' ' -f1-3 /proc/loadavg)
    : > "$f.own.env"
    if form_cluster "$t" "$i"; then
      local fol=""
      for ((k = 0; k < MANAGERS; k++)); do (( k != LEADER )) && { fol=$k; break; }; done
      printf 'leader node%s %s\nfollower node%s %s\nids %s\n' "$((LEADER + 1))" "${IDS[LEADER]}" \
        "$((fol + 1))" "${IDS[fol]}" "${IDS[*]}" >> "$f.own.env"
      # GET /nodes through a follower (and /_ping there: the method's floor), then the leader
      run_child "$f.api" "$f.api.err" "$BENCH/api-latency" --calls "$API_CALLS" --raw "$f.api-follower.d" "${SOCKS[fol]}" nodes _ping
      sed -E 's/^api_(nodes|ping)_/api_\1_follower_/' "$f.api" >> "$f.txt"
      run_child "$f.api" "$f.api.err2" "$BENCH/api-latency" --calls "$API_CALLS" --raw "$f.api-leader.d" "${SOCKS[LEADER]}" nodes
      sed -E 's/^api_nodes_/api_nodes_leader_/' "$f.api" >> "$f.txt"
      cat "$f.api.err2" >> "$f.api.err"; rm -f "$f.api.err2"
      [[ -s $f.api.err ]] && PROBLEMS+=("$t run $i: $(tr '\n' ' ' < "$f.api.err")")
      # writes through the leader, one writer per node
      run_child "$f.write" "$f.write.err" "$BENCH/write-throughput" --writers "$WRITERS" --writes "$WRITES" \
        --timeout "$FO_TIMEOUT" --raw "$f.write.d" "${SOCKS[LEADER]}" "${IDS[@]}"
      [[ -s $f.write.err ]] && PROBLEMS+=("$t run $i: $(tr '\n' ' ' < "$f.write.err")")
      cat "$f.write" >> "$f.txt"
      run_child "$f.ceil" "$f.ceil.err" "$BENCH/write-throughput" --ceiling --writers "$WRITERS" --writes "$WRITES" \
        --timeout "$FO_TIMEOUT" "${SOCKS[LEADER]}" "${IDS[@]}"
      cat "$f.ceil" >> "$f.txt"
      failover_write "$t" "$i" "$f" >> "$f.txt"
      grep -qE '^failover_ms [0-9]' "$f.bench" 2>/dev/null || probe_service_create "$t" "$i" "$f"
    else
      for m in $OWN_METRICS; do echo "$m error" >> "$f.txt"; done
    fi
    env_file "$f.own.env" "$l0" "$b0" "$t0"
    stop_target "$t" "run-$i-own"
  else
    log "run $i $t: start failed: $LAST_START_ERROR"
    [[ $t == shoal ]] && PROBLEMS+=("shoal run $i: $LAST_START_ERROR")
    for m in $OWN_METRICS; do echo "$m error" >> "$f.txt"; done
    [[ $t == dockerd ]] && return 1
  fi
  return 0
}

# ------------------------------------------------------------------ facts
{
  echo "# shoal bench (multi-node) $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "runs: $RUNS (fresh clusters for every measurement cycle)"
  echo "nodes: $NODES ($MANAGERS managers, $((NODES - MANAGERS)) worker)"
  echo "api_calls: $API_CALLS"
  echo "writes: $WRITES by $WRITERS writers"
  echo "fo_timeout: $FO_TIMEOUT s"
  echo "harness: $HARNESS"
  echo "init_args: $INIT_ARGS"
  echo "create_args: $CREATE_ARGS"
  echo "shoal_binary: $BUILD_NOTE"
  echo "shoal_version: $("$SHOAL_BIN" daemon --version 2>&1)"
  echo "shoal_tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) + $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed/untracked paths"
  echo "dockerd: $( [[ -z $DOCKERD_WHY ]] && dockerd --version 2>&1 || echo "not measured: $DOCKERD_WHY")"
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
  awk -v m="$2" '$1 == m { if ($3 != "-") print $3; else { o = ""; for (i = 6; i <= NF; i++) o = o (o ? " " : "") $i; gsub(/ x[0-9]+/, "", o); print (o == "" ? "n/a" : o) } found = 1 }
    END { if (!found) print "n/a" }' "$f"
}
rng() {  # target metric -> " [min..max]" when the runs differ, else nothing
  local f=$TMP/sum-$1
  [[ -s $f ]] || return 0
  awk -v m="$2" '$1 == m && $2 > 1 && $4 != $5 { printf " [%s..%s]", $4, $5 }' "$f"
}
isnum() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
# how many times better shoal is: dockerd/shoal for times, shoal/dockerd for rates
gain() {  # d s kind
  if ! isnum "$1" || ! isnum "$2"; then echo "-"; return; fi
  if [[ $3 == rate ]]; then awk -v a="$2" -v b="$1" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'
  else awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; fi
}
withunit() { local v=$1 u=$2; isnum "$v" || { echo "$v"; return; }; [[ $u == count ]] && echo "$v" || echo "$v $u"; }

# metric | unit | goal text | kind: time5 (goal dockerd/shoal >= 5), time, rate, count
ROWS=(
  "join_manager2_ms|ms|dockerd/shoal >= 5|time5"
  "join_manager2_ready_ms|ms|dockerd/shoal >= 5|time5"
  "join_manager3_ms|ms|dockerd/shoal >= 5|time5"
  "join_manager3_ready_ms|ms|dockerd/shoal >= 5|time5"
  "join_worker4_ms|ms|dockerd/shoal >= 5|time5"
  "join_worker4_ready_ms|ms|dockerd/shoal >= 5|time5"
  "failover_leader_ms|ms|dockerd/shoal >= 5|time5"
  "failover_write_ms|ms|dockerd/shoal >= 5|time5"
  "node_down_ms|ms|dockerd/shoal >= 3|time3"
  "failover_ms|ms|dockerd/shoal >= 3|time3"
  "node_down_detect_ms|ms|-|time"
  "api_nodes_follower_ms|ms|-|time"
  "write_per_s|/s|-|rate"
  "init_ms|ms|-|time"
  "failover_write_leader_ms|ms|-|time"
  "api_ping_follower_ms|ms|-|time"
  "api_nodes_follower_max_ms|ms|-|time"
  "api_nodes_leader_ms|ms|-|time"
  "write_post_ms|ms|-|time"
  "write_post_p90_ms|ms|-|time"
  "write_post_mean_ms|ms|-|time"
  "write_ceiling_per_s|/s|-|rate"
  "write_retries|count|-|count"
  "write_errors|count|-|count"
)
TABLE=$TMP/table; MISSED=0; SHOAL_ERR=0
: > "$TABLE"
for row in "${ROWS[@]}"; do
  IFS='|' read -r m u goal kind <<<"$row"
  d=$(med dockerd "$m"); s=$(med shoal "$m")
  [[ -n $DOCKERD_WHY ]] && d="n/a"
  # a metric this run did not ask for (--only, --no-own) gets no row
  [[ $d == n/a && $s == n/a ]] && continue
  r=$(gain "$d" "$s" "$kind"); [[ $kind == count ]] && r="-"
  met="-"
  if [[ $kind == time5 || $kind == time3 ]]; then
    if isnum "$d" && isnum "$s"; then
      if awk -v a="$d" -v b="$s" -v g="${kind#time}" 'BEGIN { exit !(b > 0 && a / b >= g) }'; then met=yes; else met=NO; MISSED=1; fi
    else met="n/a"; fi
    isnum "$s" || SHOAL_ERR=1
  fi
  dv=$(withunit "$d" "$u"); sv=$(withunit "$s" "$u")
  if [[ $u != count ]]; then
    isnum "$d" && dv+=$(rng dockerd "$m")
    isnum "$s" && sv+=$(rng shoal "$m")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$dv" "$sv" "$r" "$goal" "$met" >> "$TABLE"
done

print_table() {
  printf '%-26s %-28s %-28s %-8s %-20s %s\n' metric dockerd shoal ratio goal "met?"
  while IFS=$'\t' read -r m d s r g x; do
    printf '%-26s %-28s %-28s %-8s %-20s %s\n' "$m" "$d" "$s" "$r" "$g" "$x"
  done < "$TABLE"
}

# harness steps that failed, verbatim (the first distinct lines)
for t in dockerd shoal; do
  compgen -G "$RAW/$t-run-*.bench.err" >/dev/null || continue
  while IFS= read -r line; do NOTES+=("$t: swarm-bench: $line"); done < <(
    sed -n 's/^\[swarm-bench [0-9:]*\] //p' "$RAW/$t"-run-*.bench.err | grep -E 'failed|ERROR|WARNING|non-200|timeout|needs' |
      sed -E 's/bench-fo[0-9]+/bench-foN/; s/rc=[0-9]+/rc=N/; s/node[0-9]+/nodeK/' | sort -u | head -n 6)
done
# first failed write of the failover_write loop of each daemon, verbatim
for t in dockerd shoal; do
  compgen -G "$RAW/$t-run-*.fo" >/dev/null || continue
  line=$(grep -h -m 1 'rc != 0' "$RAW/$t"-run-*.fo | head -n 1)
  [[ -n $line ]] && NOTES+=("$t: failover_write, first failed write after the kill: $line")
done

{
  echo "# shoal vs dockerd: 3 managers + 1 worker"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $RUNS run(s), medians [min..max over the runs]; ratio = how many times better shoal is (dockerd/shoal for times, shoal/dockerd for rates)."
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
echo "== shoal vs dockerd, 3 managers + 1 worker: medians of $RUNS run(s) [min..max]; ratio = how many times better shoal is =="
print_table
[[ -n $DOCKERD_WHY ]] && echo && echo "dockerd NOT measured: $DOCKERD_WHY"
if (( ${#PROBLEMS[@]} )); then echo; echo "problems:"; printf '  - %s\n' "${PROBLEMS[@]}"; fi
if (( ${#NOTES[@]} )); then echo; echo "notes:"; printf '  - %s\n' "${NOTES[@]}"; fi
echo
echo "results: $OUT (summary.md, commands.txt, raw/)"
(( MISSED )) && log "some goals are not met (see the table)"

if (( SHOAL_ERR )); then exit 1; fi
if [[ -n $DOCKERD_WHY ]]; then exit 2; fi
exit 0
