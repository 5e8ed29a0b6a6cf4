#!/bin/bash
# The init/restart scenario under valgrind (the plain build, no sanitizer):
# no invalid access, no definite or indirect leak, on a clean exit after
# init and again after a restart that restores the swarm from Raft.
. "$(dirname "$0")/lib.sh"

SHOAL=${SHOAL_PLAIN:-$ROOT/build/shoal}
[ -x "$SHOAL" ] || fail "build/shoal is missing (make all)"
command -v valgrind >/dev/null || fail "valgrind is not installed"
START_TRIES=600
STOP_TRIES=600

run_under_valgrind() {
    local round=$1
    SHOAL_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --log-file=$TMP/vg-$round.log" \
        start_node n1
}

vg_check() {
    local round=$1 pid
    pid=$(cat "$(node_dir n1)/launch.pid")
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -ne 0 ] || [ -s "$TMP/vg-$round.log" ]; then
        cat "$TMP/vg-$round.log"
        fail "valgrind round $round: exit $rc"
    fi
}

log "round 1: init and use a swarm"
run_under_valgrind 1
run_ok dk n1 swarm init --advertise-addr 127.0.0.1
run_ok dk n1 node ls
run_ok dk n1 swarm join-token --rotate worker
run_ok dk n1 node update --availability drain --label-add a=b "$(dk n1 info -f "{{.Swarm.NodeID}}")"
run_ok dk n1 info
expect_fail dk n1 swarm init --advertise-addr 127.0.0.1
api n1 POST /swarm/init '{"bad' >/dev/null
vg_check 1

log "round 2: restart restores the swarm from Raft"
run_under_valgrind 2
wait_for 600 0.05 "restored manager" dk n1 node ls
expect_eq "$(dk n1 node inspect self -f '{{.Spec.Availability}}')" drain "restored state"
run_ok dk n1 network ls
run_ok dk n1 swarm leave --force
vg_check 2
log "passed"
