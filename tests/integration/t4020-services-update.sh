#!/bin/bash
# Rolling updates with the real docker CLI on 1 manager + 2 workers: an
# update with --update-parallelism 2 --update-order start-first
# --update-delay replaces every task (never fewer running than asked for),
# `service rollback` by hand restores the previous spec, a failing update
# with --update-failure-action rollback rolls back on its own, --force
# restarts the tasks with an unchanged spec.
. "$(dirname "$0")/lib.sh"

# Ports 24500-24739.
P=$((24500 + RANDOM % 60 * 4))
. "$(dirname "$0")/services.sh"
svc_cluster

update_state_is() {
    [ "$(dk n1 service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$1")" = "$2" ]
}
# env_running SERVICE: the Env of its running tasks' specs, one line each.
env_running() {
    local t
    for t in $(dk n1 service ps -q --filter desired-state=running "$1"); do
        dk n1 inspect -f '{{.Spec.ContainerSpec.Env}}' "$t"
    done
}

run_ok dk n1 service create --detach --name up --replicas 4 \
    --stop-grace-period 1s --update-parallelism 2 --update-order start-first \
    --update-delay 500ms --update-monitor 1s --rollback-monitor 1s \
    --rollback-parallelism 0 busybox sleep 300
wait_for 300 0.1 "4 tasks of up running" running_is up 4

log "rolling update, 2 at a time, start-first"
run_ok dk n1 service update --detach --env-add X=1 up
low=4
for _ in $(seq 300); do
    st=$(dk n1 service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' up)
    r=$(dk n1 service ps --format '{{.CurrentState}}' up | grep -c '^Running')
    [ "$r" -lt "$low" ] && low=$r
    [ "$st" = completed ] && break
    sleep 0.1
done
expect_eq "$st" completed "update state"
[ "$low" -ge 4 ] || fail "start-first: only $low running at one point"
expect_eq "$(dk n1 service inspect -f '{{.UpdateStatus.Message}}' up)" "update completed" "update message"
wait_for 100 0.1 "4 tasks of up running" running_is up 4
expect_eq "$(env_running up | sort -u)" "[X=1]" "new spec running"
expect_eq "$(dk n1 service ps -q --filter desired-state=shutdown up | wc -l)" 4 "old tasks shut down"

log "rollback by hand"
run_ok dk n1 service rollback --detach up
wait_for 300 0.1 "rollback completed" update_state_is up rollback_completed
wait_for 100 0.1 "4 tasks of up running" running_is up 4
expect_eq "$(env_running up | sort -u)" "[]" "previous spec running"
expect_eq "$(dk n1 service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Env}}' up)" "[]" "spec after rollback"

log "a failing update rolls back automatically"
run_ok dk n1 service update --detach --update-failure-action rollback \
    --args "sh -c 'exit 1'" up
wait_for 400 0.1 "automatic rollback completed" update_state_is up rollback_completed
expect_contains "$(dk n1 service inspect -f '{{.UpdateStatus.Message}}' up)" "rollback completed" "rollback message"
expect_eq "$(dk n1 service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Args}}' up)" "[sleep 300]" "spec rolled back"
wait_for 300 0.1 "4 tasks of up running" running_is up 4
out=$(dk n1 service ps --no-trunc --format '{{.CurrentState}} {{.Error}}' up)
expect_contains "$out" "task: non-zero exit (1)" "the failed task is in the history"

log "--force restarts every task"
before=$(dk n1 service ps -q --filter desired-state=running up | sort)
run_ok dk n1 service update --detach --force up
wait_for 300 0.1 "forced update completed" update_state_is up completed
wait_for 100 0.1 "4 tasks of up running" running_is up 4
after=$(dk n1 service ps -q --filter desired-state=running up | sort)
[ -z "$(comm -12 <(echo "$before") <(echo "$after"))" ] || fail "tasks kept: $before / $after"

run_ok dk n1 service rm up
wait_for 300 0.1 "up's containers removed" no_containers up
log "ok"
