#!/bin/bash
# A service larger than one Raft entry (the store takes at most 200
# actions an entry): created with 300 replicas and scaled to 450 on a
# drained single manager, every task exists (pending: no node may run
# them), then rm removes them all. Before the orchestration loop split a
# decision across entries, such a service never got a single task.
. "$(dirname "$0")/lib.sh"

P=$((24400 + RANDOM % 50 * 2))
tasks_of() {
    dk n1 service ps -q "$1" 2>/dev/null | wc -l
}
tasks_is() { [ "$(tasks_of "$1")" = "$2" ]; }
pending_reason() {
    dk n1 service ps --no-trunc --format '{{.Error}}' "$1" | sort -u
}

start_node n1
run_ok dk n1 swarm init --advertise-addr "127.0.0.1:$P" --listen-addr "127.0.0.1:$P"
nid=$(dk n1 node inspect -f '{{.ID}}' self)
run_ok dk n1 node update --availability drain "$nid"

log "create 300 replicas: all 300 tasks exist, pending"
run_ok dk n1 service create --detach --name big --replicas 300 busybox sleep 300
wait_for 300 0.1 "300 tasks of big" tasks_is big 300
expect_eq "$(dk n1 service ls --filter name=big --format '{{.Replicas}}')" "0/300" "service ls"
expect_contains "$(pending_reason big)" "no suitable node" "pending reason"

log "scale to 450"
run_ok dk n1 service scale --detach big=450
wait_for 300 0.1 "450 tasks of big" tasks_is big 450

log "rm removes every task"
run_ok dk n1 service rm big
gone() { [ "$(api n1 GET /tasks)" = "200 []" ]; }
wait_for 300 0.1 "no task left" gone
check_node_log n1
log "passed"
