#!/bin/bash
# Self-healing services on 1 manager + 2 workers with the real docker CLI:
# a crashing container is restarted per --restart-condition and
# --restart-max-attempts, then left alone; node update --availability
# drain moves a node's tasks to the others; kill -9 of a worker's daemon
# gets its tasks rescheduled once it is Down, and its containers are
# stopped when it comes back.
. "$(dirname "$0")/lib.sh"

# Ports 24250-24489.
P=$((24250 + RANDOM % 60 * 4))
. "$(dirname "$0")/services.sh"
svc_cluster

# tasks_is SERVICE N: N tasks in the service's history.
tasks_is() { [ "$(dk n1 service ps -q "$1" | wc -l)" = "$2" ]; }
# failed_is SERVICE N: N of its tasks failed.
failed_is() {
    [ "$(dk n1 service ps --format '{{.CurrentState}}' "$1" | grep -c '^Failed')" = "$2" ]
}

log "a crashing container is restarted on failure, twice at most"
run_ok dk n1 service create --detach --name crash --restart-condition on-failure \
    --restart-max-attempts 2 --restart-delay 100ms busybox sh -c 'sleep 0.3; exit 3'
wait_for 300 0.1 "3 tasks of crash" tasks_is crash 3
wait_for 300 0.1 "3 tasks of crash failed" failed_is crash 3
out=$(dk n1 service ps --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' crash)
expect_eq "$(grep -c 'Failed .*task: non-zero exit (3)' <<<"$out")" 3 "three failures: $out"
expect_eq "$(dk n1 service ps -q crash | wc -l)" 3 "no fourth attempt"
expect_contains "$(dk n1 service ps crash)" '\_ crash.1' "history lines"
run_ok dk n1 service rm crash

log "restart-condition any replaces a container that exits"
run_ok dk n1 service create --detach --name flap --restart-delay 100ms \
    --stop-grace-period 1s busybox sh -c 'sleep 1; exit 0'
wait_for 300 0.1 "flap restarted twice" \
    bash -c "[ \$(DOCKER_HOST=unix://$(node_sock n1) $DOCKER service ps -q flap | wc -l) -ge 3 ]"
run_ok dk n1 service rm flap

log "healthchecks: running once healthy, failed and replaced when unhealthy"
run_ok dk n1 service create --detach --name hc --restart-delay 100ms \
    --stop-grace-period 1s --health-cmd 'test -f /tmp/ok' \
    --health-interval 200ms --health-retries 2 \
    busybox sh -c 'touch /tmp/ok; sleep 3; rm /tmp/ok; sleep 300'
wait_for 300 0.1 "hc running (healthy)" running_is hc 1
# the engine checks it: the node's ps shows its health
hc_healthy_in_ps() {
    local n
    for n in n1 n2 n3; do
        dk "$n" ps --format '{{.Names}} {{.Status}}' --filter health=healthy |
            grep -q '^hc\.1\..*(healthy)$' && return 0
    done
    return 1
}
wait_for 50 0.1 "hc's container (healthy) in a node's ps" hc_healthy_in_ps
wait_for 300 0.1 "hc failed as unhealthy" bash -c \
    "DOCKER_HOST=unix://$(node_sock n1) $DOCKER service ps --no-trunc --format '{{.Error}}' hc | grep -q 'task: non-zero exit (1[34][37]): dockerexec: unhealthy container'"
wait_for 300 0.1 "hc replaced" running_is hc 1
run_ok dk n1 service create --detach --name sick --health-cmd false \
    --health-interval 200ms --health-start-period 1m busybox sleep 300
starting() {
    [ "$(dk n1 service ps --format '{{.CurrentState}}' sick)" != "" ] &&
        dk n1 service ps --format '{{.CurrentState}}' sick | grep -q '^Starting' &&
        total_is sick 1
}
wait_for 300 0.1 "sick starting with its container up" starting
expect_eq "$(running sick)" 0 "never healthy: not running"
run_ok dk n1 service rm hc sick

log "drain empties a node"
run_ok dk n1 service create --detach --name web --replicas 6 \
    --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "6 tasks of web running" running_is web 6
expect_eq "$(containers n2 web)" 2 "web on n2 before the drain"
run_ok dk n1 node update --availability drain "$(id_of n2)"
wait_for 300 0.1 "n2 drained" bash -c "[ \$(DOCKER_HOST=unix://$(node_sock n2) $DOCKER ps -q | wc -l) = 0 ]"
wait_for 300 0.1 "6 tasks of web running again" running_is web 6
expect_eq "$(containers n1 web) $(containers n3 web)" "3 3" "web moved to n1 and n3"
run_ok dk n1 node update --availability active "$(id_of n2)"

log "kill -9 of a worker: its tasks move once it is Down"
kill9_node n3
wait_for 100 0.1 "n3 Down" node_status_is n3 down
wait_for 300 0.1 "6 tasks of web running on n1 and n2" total_is2 web 6
wait_for 300 0.1 "6 tasks of web running" running_is web 6
start_node n3
wait_for 200 0.1 "n3 Ready again" node_status_is n3 ready
wait_for 300 0.1 "n3's old containers stopped" bash -c "[ \$(DOCKER_HOST=unix://$(node_sock n3) $DOCKER ps -q | wc -l) = 0 ]"
expect_eq "$(running web)" 6 "still 6 running"
run_ok dk n1 service rm web
wait_for 300 0.1 "web's containers removed" no_containers web
log "ok"
