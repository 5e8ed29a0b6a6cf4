#!/bin/bash
# Placement with the real docker CLI: a global service runs one task on
# every node, and on a node that joins later; constraints
# (node.role==worker, node.labels.x==y) and --placement-pref
# spread=node.labels.zone are honoured; replicated and global jobs run to
# completion with the CLI's job progress display.
. "$(dirname "$0")/lib.sh"

# Ports 24750-24989.
P=$((24750 + RANDOM % 60 * 4))
. "$(dirname "$0")/services.sh"
svc_cluster

# on NODE SERVICE N: N containers of the service run on NODE.
on() { [ "$(containers "$1" "$2")" = "$3" ]; }

log "global service: one task per node"
run_ok dk n1 service create --detach --name g --mode global \
    --stop-grace-period 1s busybox sleep 300
for n in n1 n2 n3; do wait_for 300 0.1 "g on $n" on "$n" g 1; done
wait_for 100 0.1 "ls shows 3/3" replicas_is g 3/3
expect_eq "$(dk n1 service ls --filter mode=global --format '{{.Name}} {{.Mode}}')" "g global" "mode filter"
out=$(dk n1 service ps --format '{{.Name}}' g | sort)
expect_contains "$out" "g.$(id_of n2)" "global task name"

log "a node that joins later gets the global task"
start_node n4
svc_join n4
wait_for 300 0.1 "g on n4" on n4 g 1
wait_for 100 0.1 "ls shows 4/4" replicas_is g 4/4
run_ok dk n1 service rm g

log "constraints"
run_ok dk n1 service create --detach --name w --replicas 4 \
    --constraint node.role==worker --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "4 tasks of w running" running_is w 4
expect_eq "$(containers n1 w)" 0 "no worker task on the manager"
run_ok dk n1 node update --label-add x=y "$(id_of n3)"
run_ok dk n1 service create --detach --name l --replicas 3 \
    --constraint node.labels.x==y --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "3 tasks of l running" running_is l 3
expect_eq "$(containers n3 l)" 3 "every l task on n3"
run_ok dk n1 service create --detach --name none --constraint node.labels.x==z \
    busybox sleep 300
wait_for 100 0.1 "no suitable node" bash -c "DOCKER_HOST=unix://$(node_sock n1) $DOCKER service ps --no-trunc --format '{{.Error}}' none | grep -q 'no suitable node'"
run_ok dk n1 service rm w l none

log "placement preference spread=node.labels.zone"
run_ok dk n1 node update --label-add zone=a "$(id_of n1)"
for n in n2 n3 n4; do run_ok dk n1 node update --label-add zone=b "$(id_of "$n")"; done
run_ok dk n1 service create --detach --name s --replicas 4 \
    --placement-pref spread=node.labels.zone --stop-grace-period 1s busybox sleep 300
wait_for 300 0.1 "4 tasks of s running" running_is s 4
expect_eq "$(containers n1 s)" 2 "half of s in zone a"
run_ok dk n1 service rm s
for s in w l s; do wait_for 300 0.1 "$s's containers removed" no_containers "$s"; done

log "jobs"
run_ok timeout 60 "$DOCKER" -H "unix://$(node_sock n1)" service create --name job \
    --mode replicated-job --replicas 5 --max-concurrent 2 busybox sh -c 'echo done'
expect_contains "$OUT" "job complete" "replicated job progress"
expect_eq "$(dk n1 service ps --format '{{.CurrentState}}' job | grep -c '^Complete')" 5 "5 completions"
expect_eq "$(dk n1 service ls --filter name=job --format '{{.Replicas}}')" "0/0 (5/5 completed)" "job replicas"
run_ok timeout 60 "$DOCKER" -H "unix://$(node_sock n1)" service create --name gjob \
    --mode global-job busybox true
expect_contains "$OUT" "job complete" "global job progress"
expect_eq "$(dk n1 service ps --format '{{.CurrentState}}' gjob | grep -c '^Complete')" 4 "one completion per node"
expect_eq "$(dk n1 service ls --filter name=gjob --format '{{.Replicas}}')" "0/0 (4/4 completed)" "global job replicas"
run_ok dk n1 service rm job gjob
log "ok"
