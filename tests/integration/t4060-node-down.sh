#!/bin/bash
# Node failure with a 60 s heartbeat period (expiry alone: 3 minutes, far
# beyond these polls): kill -9 of a worker's daemon closes its connection
# to the leader without a goodbye, so the leader puts it Down after the
# 1 s connection-loss grace and its tasks run on the other nodes at once
# (no restart delay for tasks lost with their node); restarted, it is
# Ready again and its stale containers are stopped (kept as the tasks'
# history, as Docker does). A worker stopped with SIGTERM says goodbye
# first: it is not marked Down while away and its tasks stay its own
# across the restart. Speed lives in bench/ (node_down_ms); this
# test asserts outcomes only.
. "$(dirname "$0")/lib.sh"

# Ports 27200-27439.
P=$((27200 + RANDOM % 60 * 4))
. "$(dirname "$0")/services.sh"

for n in n1 n2 n3; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)" \
    --dispatcher-heartbeat 60s
expect_eq "$(dk n1 info -f '{{.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}}')" \
    1m0s "heartbeat period"
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox
dk n1 info -f '{{.Swarm.NodeID}}' >"$TMP/n1.id"
for n in n2 n3; do svc_join "$n"; done
LEADER_LOG=$(node_dir n1)/daemon.log

# ids_on NODE SERVICE: the IDs of the service's tasks on NODE that should
# run, sorted.
ids_on() {
    dk n1 service ps -q --no-trunc --filter desired-state=running \
        --filter "node=$(id_of "$1")" "$2" | sort
}
has_tasks_on() { [ -n "$(ids_on "$1" "$2")" ]; }

log "kill -9 of a worker: Down after the connection-loss grace, tasks moved"
run_ok dk n1 service create --detach --name web --replicas 6 \
    --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "6 tasks of web running" running_is web 6
expect_eq "$(containers n3 web)" 2 "web on n3 before the kill"
kill9_node n3
wait_for 300 0.1 "n3 Down" node_status_is n3 down
expect_eq "$(dk n1 node inspect -f '{{.Status.Message}}' "$(id_of n3)")" \
    "heartbeat failure" "n3's message"
grep -q "node $(id_of n3): connection lost without a goodbye" "$LEADER_LOG" ||
    fail "the leader did not see n3's connection go"
wait_for 300 0.1 "6 tasks of web running on n1 and n2" total_is2 web 6
wait_for 300 0.1 "6 tasks of web running" running_is web 6
node_status_is n2 ready || fail "n2 not Ready"

log "the killed worker comes back: Ready, its stale containers stopped"
start_node n3
wait_for 300 0.1 "n3 Ready again" node_status_is n3 ready
wait_for 300 0.1 "n3's stale containers stopped" bash -c \
    "[ \$(DOCKER_HOST=unix://$(node_sock n3) $DOCKER ps -q | wc -l) = 0 ]"
expect_eq "$(running web)" 6 "still 6 running"
expect_eq "$(has_tasks_on n3 web || echo none)" none "no web task on n3"

log "SIGTERM of a worker: goodbye, not Down, tasks kept across the restart"
run_ok dk n1 service create --detach --name calm --replicas 3 \
    --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "3 tasks of calm running" running_is calm 3
wait_for 100 0.1 "a task of calm on n2" has_tasks_on n2 calm
before_calm=$(ids_on n2 calm)
before_web=$(ids_on n2 web)
[ -n "$before_web" ] || fail "no web task on n2"
stop_node n2 || fail "n2 did not stop on SIGTERM"
grep -q "agent: told the leader we leave for a restart" "$(node_dir n2)/daemon.log" ||
    fail "n2's agent did not say goodbye"
wait_for 100 0.1 "the leader saw n2 leave for a restart" \
    grep -q "node $(id_of n2) left for a restart" "$LEADER_LOG"
# Let more than the 1 s grace pass in the leader, observed rather than
# slept: a task of "tick" exits at once and its one restart waits the
# 1.5 s restart delay, measured by the leader's clock from the first
# task's exit, which comes after n2's connection closed (logged above).
# Both tasks complete only once that delay has passed.
run_ok dk n1 service create --detach --name tick --constraint node.role==manager \
    --restart-condition any --restart-max-attempts 1 --restart-delay 1500ms \
    busybox true
completed_is() {
    [ "$(dk n1 service ps --format '{{.CurrentState}}' "$1" | grep -c '^Complete')" = "$2" ]
}
wait_for 300 0.1 "both tasks of tick completed" completed_is tick 2
expect_eq "$(dk n1 node inspect -f '{{.Status.State}}' "$(id_of n2)")" ready \
    "n2 not marked down while away"
expect_eq "$(ids_on n2 calm)" "$before_calm" "calm's tasks on n2 not replaced"
expect_eq "$(ids_on n2 web)" "$before_web" "web's tasks on n2 not replaced"
expect_eq "$(dk n1 service ps -q calm | wc -l)" 3 "no replacement task of calm"
start_node n2
wait_for 300 0.1 "n2 Ready" node_status_is n2 ready
wait_for 300 0.1 "3 tasks of calm running" running_is calm 3
wait_for 300 0.1 "6 tasks of web running" running_is web 6
expect_eq "$(ids_on n2 calm)" "$before_calm" "the same calm tasks on n2"
expect_eq "$(ids_on n2 web)" "$before_web" "the same web tasks on n2"
expect_eq "$(dk n1 service ps -q calm | wc -l)" 3 "still no replacement of calm"
if grep -q "node $(id_of n2) is down" "$LEADER_LOG"; then
    fail "n2 was marked down"
fi

run_ok dk n1 service rm web calm tick
all_gone() { no_containers web && no_containers calm && no_containers tick; }
wait_for 300 0.1 "the services' containers removed" all_gone
for n in n1 n2 n3; do check_node_log "$n"; done
log "ok"
