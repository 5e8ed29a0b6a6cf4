#!/bin/bash
# `shoal service create/update/scale/rollback` wait for the service to
# converge and show docker's progress: the same `service create --replicas
# 3` and `service update --env-add` run with the docker CLI and with
# shoal's, stdout to a file (not a terminal), and the lines that do not
# depend on timing compared: the ID (or name) first, the initial block,
# "overall progress: 3 out of 3 tasks", the verify countdown and the final
# "verify: Service <ref> converged". The tasks run when the command
# returns. -q prints only the ID and still waits; -d returns at once.
. "$(dirname "$0")/lib.sh"

# Ports 27600-27719.
P=$((27600 + RANDOM % 60 * 2))
start_node n1
export SHOAL_HOST="unix://$(node_sock n1)"
run_ok dk n1 swarm init --advertise-addr "127.0.0.1:$P" --listen-addr "127.0.0.1:$P"
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox

# running SERVICE: its tasks running (desired running).
running() {
    dk n1 service ps -q --filter desired-state=running \
        --format '{{.CurrentState}}' "$1" | grep -c '^Running'
}
running_is() { [ "$(running "$1")" = "$2" ]; }

# check_wait FILE REF FIRST WHAT: the progress docker prints off a
# terminal for a 3-replica service, REF in the last line.
check_wait() {
    local f=$1 ref=$2 first=$3 what=$4
    expect_eq "$(sed -n 1p "$f")" "$first" "$what: first line"
    expect_eq "$(sed -n 2,5p "$f")" "$(printf 'overall progress: 0 out of 3 tasks\n1/3:  \n2/3:  \n3/3:  ')" "$what: initial block"
    grep -qx 'overall progress: 3 out of 3 tasks' "$f" || fail "$what: no 3 out of 3 in $(cat "$f")"
    grep -qx 'verify: Waiting 1 seconds to verify that tasks are stable...' "$f" ||
        fail "$what: no verify countdown in $(cat "$f")"
    expect_eq "$(tail -n 1 "$f")" "verify: Service $ref converged" "$what: last line"
    # nothing but these lines
    if grep -vxE '[a-z0-9]{25}|[a-z0-9]+|overall progress: [0-3] out of 3 tasks|[1-3]/3:  |verify: Waiting [1-5] seconds to verify that tasks are stable...|verify: Service [a-z0-9]+ converged' "$f"; then
        fail "$what: unexpected lines"
    fi
}

log "create --replicas 3: docker's and shoal's progress"
"$DOCKER" -H "$SHOAL_HOST" service create --name d1 --replicas 3 busybox sleep 1d \
    >"$TMP/d1.out" 2>"$TMP/d1.err" || fail "docker service create: $(cat "$TMP/d1.out" "$TMP/d1.err")"
expect_eq "$(running d1)" 3 "docker create returned with 3 running"
d1=$(sed -n 1p "$TMP/d1.out")
expect_eq "${#d1}" 25 "docker printed the ID first"
check_wait "$TMP/d1.out" "$d1" "$d1" "docker create"
"$SHOAL" service create --name s1 --replicas 3 busybox sleep 1d \
    >"$TMP/s1.out" 2>"$TMP/s1.err" || fail "shoal service create: $(cat "$TMP/s1.out" "$TMP/s1.err")"
expect_eq "$(running s1)" 3 "shoal create returned with 3 running"
s1=$(sed -n 1p "$TMP/s1.out")
expect_eq "$s1" "$(dk n1 service inspect -f '{{.ID}}' s1)" "shoal printed the ID first"
check_wait "$TMP/s1.out" "$s1" "$s1" "shoal create"
grep -qx 'verify: Waiting 5 seconds to verify that tasks are stable...' "$TMP/s1.out" ||
    fail "shoal create: the default monitor is 5 s"

log "update --env-add: the name first, then the rolling update"
UFLAGS=(--env-add A=1 --update-parallelism 3 --update-monitor 1s)
"$DOCKER" -H "$SHOAL_HOST" service update "${UFLAGS[@]}" d1 >"$TMP/d2.out" 2>&1 ||
    fail "docker service update: $(cat "$TMP/d2.out")"
check_wait "$TMP/d2.out" d1 d1 "docker update"
"$SHOAL" service update "${UFLAGS[@]}" s1 >"$TMP/s2.out" 2>&1 ||
    fail "shoal service update: $(cat "$TMP/s2.out")"
check_wait "$TMP/s2.out" s1 s1 "shoal update"
expect_eq "$(running s1)" 3 "shoal update returned with 3 running"
if grep -q 'verify: Waiting [2-5] seconds' "$TMP/s2.out"; then
    fail "shoal update: the monitor is UpdateConfig.Monitor (1 s)"
fi

log "scale: the line of docker, then the wait"
run_ok "$SHOAL" service scale s1=1
expect_eq "$(head -n 1 <<<"$OUT")" "s1 scaled to 1" "scale first line"
expect_eq "$(tail -n 1 <<<"$OUT")" "verify: Service s1 converged" "scale last line"
expect_eq "$(running s1)" 1 "scale returned with 1 running"

log "rollback: the manual rollback shown, then the wait"
run_ok "$SHOAL" service rollback s1
expect_eq "$(head -n 2 <<<"$OUT")" "$(printf 's1\nrollback: manually requested rollback')" "rollback first lines"
expect_contains "$OUT" "overall progress: rolling back update: 3 out of 3 tasks" "rollback progress"
expect_eq "$(tail -n 2 <<<"$OUT")" "$(printf 'verify: Service s1 converged\nrollback: rollback completed')" "rollback last lines"
expect_eq "$(running s1)" 3 "rollback returned with 3 running"

log "-q: only the ID, still waiting; -d: at once"
run_ok "$SHOAL" service create -q --name s3 --replicas 2 busybox sleep 1d
expect_eq "$OUT" "$(dk n1 service inspect -f '{{.ID}}' s3)" "-q prints only the ID"
expect_eq "$(running s3)" 2 "-q returned with 2 running"
start=$(date +%s%N)
run_ok "$SHOAL" service create -d --name s4 --replicas 2 busybox sleep 1d
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_eq "$OUT" "$(dk n1 service inspect -f '{{.ID}}' s4)" "-d prints only the ID"
# a wait takes at least the 5 s monitor
[ "$elapsed" -lt 4000 ] || fail "-d took $elapsed ms"
wait_for 300 0.1 "2 tasks of s4 running" running_is s4 2

log "on a terminal: lines redrawn in place with docker's escapes"
# tty_run FILE CMD: CMD's output on a 150-column terminal, without the
# ID line and the lines script(1) adds.
tty_run() {
    local f=$1
    shift
    script -qfc "stty cols 150; $*" "$f.raw" >/dev/null </dev/null || fail "tty run of $*"
    sed '1,2d;$d' "$f.raw" >"$f"
}
tty_run "$TMP/dt" "$DOCKER" -H "$SHOAL_HOST" service create --name dt --replicas 2 \
    --update-monitor 1s --no-resolve-image busybox sleep 1d
tty_run "$TMP/st" "$SHOAL" service create --name st --replicas 2 \
    --update-monitor 1s busybox sleep 1d
for f in dt st; do
    head -c 200 "$TMP/$f" >"$TMP/$f.head"
    grep -qF "$(printf '1/2: running   [==================================================>] \r')" "$TMP/$f" ||
        fail "$f: no running bar in $(cat -A "$TMP/$f")"
    grep -qF "$(printf 'verify: Service %s converged \r\033[1B' "$(dk n1 service inspect -f '{{.ID}}' $f)")" "$TMP/$f" ||
        fail "$f: no converged line in $(cat -A "$TMP/$f")"
done
cmp "$TMP/dt.head" "$TMP/st.head" || fail "terminal output differs: $(cat -A "$TMP/dt.head") vs $(cat -A "$TMP/st.head")"

log "jobs: the counts, then \"job complete\" (no verify phase)"
for who in docker shoal; do
    if [ $who = docker ]; then cli=("$DOCKER" -H "$SHOAL_HOST"); else cli=("$SHOAL"); fi
    "${cli[@]}" service create --name "${who}j" --mode replicated-job --replicas 3 \
        --max-concurrent 2 busybox true >"$TMP/$who-job.out" 2>/dev/null ||
        fail "$who replicated job: $(cat "$TMP/$who-job.out")"
    expect_eq "$(sed -n 2,5p "$TMP/$who-job.out")" "$(printf 'active tasks: 0 out of 2 tasks\n1/3:  \n2/3:  \n3/3:  ')" "$who job: initial block"
    expect_eq "$(tail -n 2 "$TMP/$who-job.out")" "$(printf 'active tasks: 0 out of 0 tasks\njob complete')" "$who job: last lines"
    expect_eq "$(dk n1 service ps --format '{{.CurrentState}}' "${who}j" | grep -c '^Complete')" 3 "$who job: 3 complete on return"
    "${cli[@]}" service create --name "${who}g" --mode global-job busybox true \
        >"$TMP/$who-gjob.out" 2>/dev/null || fail "$who global job: $(cat "$TMP/$who-gjob.out")"
    expect_eq "$(tail -n 1 "$TMP/$who-gjob.out")" "job complete" "$who global job: last line"
done

log "a task's error on its line; SIGINT leaves the wait"
timeout -s INT 4 "$SHOAL" service create --name bad --replicas 2 nosuchimage >"$TMP/bad.out" 2>&1
rc=$?
expect_eq "$rc" 124 "interrupted by the timeout's SIGINT"
grep -qx '1/2: No such image: nosuchimage:latest' "$TMP/bad.out" || fail "no error line in $(cat "$TMP/bad.out")"
expect_eq "$(tail -n 2 "$TMP/bad.out")" "$(printf 'Operation continuing in background.\nUse `shoal service ps %s` to check progress.' "$(head -n 1 "$TMP/bad.out")")" "SIGINT texts"
check_node_log n1
log "PASS"
