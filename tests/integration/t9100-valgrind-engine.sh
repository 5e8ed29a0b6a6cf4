#!/bin/bash
# The engine under valgrind (a plain build, no sanitizer, with the test
# routes): image import/tag/save/rmi/load; containers run attached, run -d,
# logs -f, exec, stop, rm; a container running across a clean daemon
# restart (SIGTERM, then recovered by the next daemon); and, with a second
# daemon as worker (under valgrind too), tasks assigned through the test
# route, running and shut down, on the worker and on the manager itself,
# then running when the manager stops, the worker last. Each daemon run
# under valgrind must end with exit 0 (its loop closed: daemon.c), no
# error and no definite or indirect leak in valgrind's summary.
. "$(dirname "$0")/lib.sh"

# The valgrind build: make BUILD=build-vg EXTRA_CFLAGS=-DSHOAL_TESTING all
# (make test builds it; brought up to date here, a no-op when it is).
if [ -z "${SHOAL_VG:-}" ]; then
    SHOAL_VG=$ROOT/build-vg/shoal
    make -C "$ROOT" -j2 BUILD=build-vg EXTRA_CFLAGS=-DSHOAL_TESTING \
        all >"$TMP/build.log" 2>&1 ||
        { tail -n 30 "$TMP/build.log"; fail "build-vg did not build"; }
fi
SHOAL=$SHOAL_VG
command -v valgrind >/dev/null || fail "valgrind is not installed"
START_TRIES=600
STOP_TRIES=900

# Ports 29100-29299.
P=$((29100 + RANDOM % 100 * 2))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }

is_up() { [ "$(dk n1 inspect -f '{{.State.Status}}' "$1")" = running ]; }
logs_have() { dk n1 logs "$1" 2>&1 | grep -q -- "$2"; }
id_of() { cat "$TMP/$1.id"; }
task_field() { # task_field ID FIELD: a field of GET /tasks/{id} on n1
    local out
    out=$(api n1 GET "/tasks/$1")
    [ "${out%% *}" = 200 ] || return 1
    printf '%s' "${out#* }" | python3 -c "import json,sys; t=json.load(sys.stdin); print(eval('t' + sys.argv[1]))" "$2"
}
state_is() { [ "$(task_field "$1" "['Status']['State']")" = "$2" ]; }
new_task() { # new_task NODE NAME ARGS-JSON: create a task, print its ID
    local out
    out=$(api n1 POST /_shoal/debug/tasks "{\"Name\":\"$2\",\"NodeID\":\"$(id_of "$1")\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Args\":$3,\"StopGracePeriod\":2000000000}}}")
    [ "${out%% *}" = 201 ] || fail "create task $2: $out"
    printf '%s' "${out#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])'
}
node_ready() {
    [ "$(dk n1 node inspect -f '{{.Status.State}}' "$(id_of "$1")" 2>/dev/null)" = ready ]
}

# vg_start ROUND [NODE]: NODE (n1) under valgrind; its log in
# $TMP/vg-ROUND.<pid>.
vg_start() {
    SHOAL_WRAP="valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --child-silent-after-fork=yes --num-callers=40 --log-file=$TMP/vg-$1.%p" \
        start_node "${2:-n1}"
}

# vg_stop ROUND [NODE]: SIGTERM, then the exit code (0: the loop closed cleanly)
# and valgrind's summary: no error, nothing definitely or indirectly lost.
vg_stop() {
    local round=$1 node=${2:-n1} pid rc=0 i f
    pid=$(cat "$(node_dir "$node")/launch.pid")
    kill -TERM "$pid"
    for ((i = 0; i < STOP_TRIES; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "round $round: no exit 45 s after SIGTERM"
    wait "$pid" || rc=$?
    f=$TMP/vg-$round.$pid
    [ -f "$f" ] || fail "round $round: no valgrind log $f"
    if [ "$rc" -ne 0 ] ||
        ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
        grep -qE '(definitely|indirectly) lost: [1-9]' "$f" ||
        grep -q 'loop closed with open handles' "$(node_dir "$node")/daemon.log"; then
        cat "$f"
        tail -n 20 "$(node_dir "$node")/daemon.log"
        fail "valgrind round $round: exit $rc"
    fi
    grep -qE 'All heap blocks were freed|LEAK SUMMARY' "$f" ||
        fail "round $round: no leak summary in $f"
    log "round $round: $(grep -o 'ERROR SUMMARY: .*' "$f")"
}

log "round 1: images and containers"
vg_start 1
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox:latest
id=$(dk n1 image inspect -f '{{.Id}}' busybox)
run_ok dk n1 tag busybox mine/bb:v1
run_ok dk n1 save -o "$TMP/saved.tar" busybox
run_ok dk n1 rmi busybox
expect_contains "$OUT" "Untagged: busybox:latest"
run_ok dk n1 load -i "$TMP/saved.tar"
expect_eq "$OUT" "Loaded image: busybox:latest" "load -i"
expect_eq "$(dk n1 image inspect -f '{{.Id}}' busybox)" "$id" "same ID after load"
run_ok dk n1 rmi mine/bb:v1
expect_fail dk n1 rmi nosuch
api n1 POST /images/load 'not a tar' >/dev/null

OUT=$(dk n1 run --name hello busybox sh -c "echo to-out; exit 3" 2>&1)
rc=$?; expect_eq "$rc $OUT" "3 to-out" "attached run"
dk n1 run -d --name fx busybox sh -c 'echo first; sleep 1; echo second' >/dev/null ||
    fail "run -d fx"
OUT=$(timeout 60 "$DOCKER" -H "unix://$(node_sock n1)" logs -f fx)
expect_eq "$OUT" "$(printf 'first\nsecond')" "logs -f"
dk n1 run -d --name sleeper busybox sh -c 'while true; do sleep 0.1; done' >/dev/null ||
    fail "run -d sleeper"
OUT=$(dk n1 exec -e X=42 sleeper sh -c 'echo in-exec $X; exit 5')
expect_eq "$?" 5 "exec exit code"
expect_eq "$OUT" "in-exec 42" "exec output"
run_ok dk n1 stop -t 1 sleeper
run_ok dk n1 rm hello fx sleeper
expect_fail dk n1 rm nosuch
expect_fail dk n1 run --rm busybox no-such-command
expect_fail dk n1 run --rm nosuch true
api n1 POST /containers/create '{"Image":' >/dev/null
dk n1 run -d --name survivor busybox sh -c \
    'echo before; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo after; exit 7' >/dev/null ||
    fail "run -d survivor"
wait_for 200 0.05 "survivor to log" logs_have survivor before
vg_stop 1

log "round 2: the running container recovered; tasks on a worker"
vg_start 2
is_up survivor || fail "survivor is not running after the restart"
expect_eq "$(dk n1 logs survivor 2>&1)" before "logs after the restart"
run_ok dk n1 exec survivor touch /tmp/go
expect_eq "$(dk n1 wait survivor)" 7 "survivor's exit after the restart"
run_ok dk n1 rm survivor

vg_start 3 n2
run_ok dk n2 import "$TMP/busybox.tar" busybox:latest
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
run_ok dk n2 swarm join --token "$(dk n1 swarm join-token -q worker)" \
    --advertise-addr "$(addr n2)" --listen-addr "$(addr n2)" "$(addr n1)"
for n in n1 n2; do dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"; done
wait_for 300 0.1 "n2 Ready" node_ready n2

t1=$(new_task n2 remote '["sleep","300"]')
t2=$(new_task n1 local '["sleep","300"]')
t3=$(new_task n2 done '["true"]')
wait_for 300 0.1 "task $t1 running" state_is "$t1" running
wait_for 300 0.1 "task $t2 running" state_is "$t2" running
wait_for 300 0.1 "task $t3 complete" state_is "$t3" complete
for t in "$t1" "$t2"; do
    out=$(api n1 POST "/_shoal/debug/tasks/$t/update" '{"DesiredState":"shutdown"}')
    expect_eq "${out%% *}" 200 "set desired shutdown of $t"
done
wait_for 300 0.1 "task $t1 shutdown" state_is "$t1" shutdown
wait_for 300 0.1 "task $t2 shutdown" state_is "$t2" shutdown
api n1 POST /_shoal/debug/tasks '{"Name":' >/dev/null
t4=$(new_task n2 left '["sleep","300"]')
t5=$(new_task n1 left-here '["sleep","300"]')
wait_for 300 0.1 "task $t4 running" state_is "$t4" running
wait_for 300 0.1 "task $t5 running" state_is "$t5" running
vg_stop 2
vg_stop 3 n2
log "passed"
