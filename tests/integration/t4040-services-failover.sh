#!/bin/bash
# Services survive the leader: on 3 managers + 1 worker, kill -9 of the
# leader's daemon; the new leader's orchestration loop resumes from the
# store (its tasks rescheduled once it is Down), and a scale and an
# update served by the new leader converge.
. "$(dirname "$0")/lib.sh"

# Ports 25000-25239.
P=$((25000 + RANDOM % 60 * 4))
. "$(dirname "$0")/services.sh"

# running_on MANAGER SERVICE: running tasks, as that manager sees them.
running_on() {
    dk "$1" service ps -q --filter desired-state=running \
        --format '{{.CurrentState}}' "$2" | grep -c '^Running'
}
running_on_is() { [ "$(running_on "$1" "$2")" = "$3" ]; }
leader_is_not_n1() {
    local l
    l=$(dk n2 node ls --format '{{.Hostname}} {{.ManagerStatus}} {{.ID}}' 2>/dev/null | awk '$2 == "Leader" {print $3}')
    [ -n "$l" ] && [ "$l" != "$(id_of n1)" ]
}

for n in n1 n2 n3 n4; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
busybox_tar "$TMP/busybox.tar"
for n in n1 n2 n3 n4; do run_ok dk "$n" import "$TMP/busybox.tar" busybox; done
dk n1 info -f '{{.Swarm.NodeID}}' >"$TMP/n1.id"
for n in n2 n3; do
    run_ok join "$n" "$(dk n1 swarm join-token -q manager)"
    dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"
done
svc_join n4

log "a service over the four nodes"
run_ok dk n1 service create --detach --name web --replicas 8 \
    --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "8 tasks of web running" running_on_is n1 web 8

log "kill -9 the leader: the new one reschedules its tasks"
kill9_node n1
wait_for 200 0.1 "a new leader" leader_is_not_n1
wait_for 300 0.1 "n1 Down" bash -c "[ \"\$(DOCKER_HOST=unix://$(node_sock n2) $DOCKER node inspect -f '{{.Status.State}}' $(id_of n1))\" = down ]"
wait_for 300 0.1 "8 tasks of web running on the others" running_on_is n2 web 8
out=$(dk n2 service ps --filter desired-state=running --format '{{.Node}} {{.Name}}' web)
expect_eq "$(wc -l <<<"$out")" 8 "8 desired running"

log "the new leader serves scale and update"
run_ok dk n3 service scale --detach web=4
wait_for 300 0.1 "4 tasks of web running" running_on_is n2 web 4
run_ok dk n2 service update --detach --env-add X=1 --update-parallelism 0 \
    --update-monitor 200ms web
wait_for 300 0.1 "update completed" bash -c "[ \"\$(DOCKER_HOST=unix://$(node_sock n2) $DOCKER service inspect -f '{{.UpdateStatus.State}}' web)\" = completed ]"
wait_for 300 0.1 "4 tasks of web running" running_on_is n3 web 4
run_ok dk n2 service rm web
log "ok"
