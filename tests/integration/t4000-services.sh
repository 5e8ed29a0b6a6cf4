#!/bin/bash
# Services with the real docker CLI on 1 manager + 2 workers: create
# (detached, and --detach=false with its progress display), ls with the
# replica counts, ps with task names and nodes, inspect, scale up and down
# (tasks spread over the nodes, reconciled), a stale version refused as
# out of sequence, rm removing every container.
. "$(dirname "$0")/lib.sh"

# Ports 24000-24179.
P=$((24000 + RANDOM % 60 * 3))
. "$(dirname "$0")/services.sh"
svc_cluster

log "replicated create: 6 tasks running over the 3 nodes"
run_ok dk n1 service create --detach --name web --replicas 6 \
    --stop-grace-period 1s busybox sleep 300
expect_contains "$OUT" "could not be accessed on a registry to record" "digest warning"
sid=$(dk n1 service inspect -f '{{.ID}}' web)
expect_eq "${#sid}" 25 "service ID"
wait_for 300 0.1 "6 tasks of web running" running_is web 6
wait_for 100 0.1 "ls shows 6/6" replicas_is web 6/6
for n in n1 n2 n3; do
    expect_eq "$(containers "$n" web)" 2 "containers of web on $n"
done
out=$(dk n1 service ps --format '{{.Name}} {{.Node}} {{.DesiredState}}' web | sort)
expect_contains "$out" "web.1 " "task name web.1"
expect_contains "$out" "web.6 " "task name web.6"
expect_contains "$out" "Running" "desired state"
expect_eq "$(dk n1 service ls --format '{{.Name}} {{.Mode}} {{.Image}}')" \
    "web replicated busybox:latest" "service ls"
expect_eq "$(dk n1 service inspect -f '{{.Spec.Mode.Replicated.Replicas}} {{.Spec.TaskTemplate.ContainerSpec.Image}}' web)" \
    "6 busybox:latest" "inspect"
dk n2 ps --format '{{.Names}}' | grep -qE '^web\.[1-6]\.[a-z0-9]{25}$' ||
    fail "container names on n2: $(dk n2 ps --format '{{.Names}}')"

log "scale up and down"
run_ok dk n1 service scale --detach web=9
wait_for 300 0.1 "9 tasks of web running" running_is web 9
for n in n1 n2 n3; do
    expect_eq "$(containers "$n" web)" 3 "containers of web on $n after scale 9"
done
run_ok dk n1 service scale --detach web=2
wait_for 300 0.1 "2 tasks of web running" running_is web 2
wait_for 300 0.1 "7 containers gone" total_is web 2
wait_for 100 0.1 "ls shows 2/2" replicas_is web 2/2

log "a stale version is out of sequence"
v=$(dk n1 service inspect -f '{{.Version.Index}}' web)
spec=$(curl -s --unix-socket "$(node_sock n1)" "http://shoal/services/web" |
    python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["Spec"]))')
out=$(api n1 POST "/services/web/update?version=$((v - 1))" "$spec")
expect_eq "${out%% *}" 500 "stale update status"
expect_contains "$out" "update out of sequence" "stale update"
out=$(api n1 POST "/services/web/update?version=$v" "$spec")
expect_eq "${out%% *}" 200 "update status"

log "--detach=false shows the progress and converges"
run_ok dk n1 service create --detach=false --name prog --replicas 3 \
    --stop-grace-period 1s busybox sleep 300
expect_contains "$OUT" "overall progress: 3 out of 3 tasks" "progress"
expect_contains "$OUT" "verify: Service" "converged"
expect_eq "$(running prog)" 3 "prog running"

log "service logs: every task's output with its task name"
run_ok dk n1 service create --detach --name lg --replicas 3 \
    --stop-grace-period 1s busybox sh -c 'echo "out of $(hostname)"; echo to-stderr >&2; sleep 300'
wait_for 300 0.1 "3 tasks of lg running" running_is lg 3
logs_have() {
    [ "$(dk "$1" service logs lg 2>&1 | grep -c '| out of')" = 3 ]
}
wait_for 100 0.1 "3 lines in the logs" logs_have n1
out=$(dk n1 service logs lg 2>&1)
for i in 1 2 3; do
    expect_contains "$out" "lg.$i." "task name lg.$i"
done
expect_eq "$(grep -c '| to-stderr' <<<"$out")" 3 "stderr lines"
grep -qE "^lg\.1\.[a-z0-9]{12}@$(hostname) +\| out of" <<<"$out" || fail "log line format: $out"
out=$(dk n1 service logs --no-task-ids --timestamps --no-trunc lg 2>/dev/null)
grep -qE '^[0-9T:.-]+Z lg\.2@' <<<"$out" || fail "timestamps: $out"
expect_eq "$(dk n1 service logs --tail 0 lg 2>&1)" "" "tail 0"
run_ok dk n1 service rm lg

log "service logs -f streams new lines until the containers stop"
run_ok dk n1 service create --detach --name tk --replicas 2 --stop-grace-period 1s \
    busybox sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'
wait_for 300 0.1 "2 tasks of tk running" running_is tk 2
( "$DOCKER" -H "unix://$(node_sock n1)" service logs -f tk >"$TMP/follow.out" 2>&1
  echo $? >"$TMP/follow.rc" ) &
follow_has() { grep -q "tk\.$1\.[a-z0-9]*@.*| tick $2\$" "$TMP/follow.out"; }
t0=$(grep -c 'tick' <<<"$(dk n1 service logs tk 2>&1)")
wait_for 200 0.1 "tick $((t0 + 10)) of tk.1 streamed" follow_has 1 $((t0 + 10))
follow_has 2 $((t0 + 5)) || fail "tk.2 not streamed"
run_ok dk n1 service rm tk
wait_for 300 0.1 "logs -f ended with the containers" test -s "$TMP/follow.rc"
expect_eq "$(cat "$TMP/follow.rc")" 0 "logs -f exit status"

log "shoal service: the same tables and texts as docker's"
run_ok sh_ n1 service create --name sw --replicas 2 --stop-grace-period 1s \
    busybox sh -c 'echo from-shoal; sleep 300'
wait_for 300 0.1 "2 tasks of sw running" running_is sw 2
expect_eq "$(sh_ n1 service ls)" "$(dk n1 service ls)" "shoal service ls"
expect_eq "$(sh_ n1 service ps --format '{{.Name}} {{.Node}} {{.DesiredState}}' sw)" \
    "$(dk n1 service ps --format '{{.Name}} {{.Node}} {{.DesiredState}}' sw)" "shoal service ps"
expect_eq "$(sh_ n1 service inspect -f '{{.ID}} {{.Spec.Name}}' sw)" \
    "$(dk n1 service inspect -f '{{.ID}} {{.Spec.Name}}' sw)" "shoal service inspect"
run_ok sh_ n1 service scale sw=3
expect_eq "$(head -n 1 <<<"$OUT")" "sw scaled to 3" "shoal service scale"
expect_eq "$(tail -n 1 <<<"$OUT")" "verify: Service sw converged" "shoal service scale waits"
expect_eq "$(running sw)" 3 "3 tasks of sw running once scale returned"
wait_for 100 0.1 "3 lines in sw's logs" \
    bash -c "[ \$('$SHOAL' -H unix://$(node_sock n1) service logs sw | grep -c '| from-shoal') = 3 ]"
expect_eq "$(sh_ n1 service logs sw | sort)" "$(dk n1 service logs sw 2>&1 | sort)" "shoal service logs"
run_ok sh_ n1 service update -d --env-add X=1 sw
expect_eq "$(dk n1 service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Env}}' sw)" "[X=1]" "shoal service update"
run_ok sh_ n1 service rollback -d sw
expect_eq "$(dk n1 service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Env}}' sw)" "[]" "shoal service rollback"
expect_fail sh_ n1 service rm nosuch
expect_contains "$OUT" "service nosuch not found" "shoal service rm of nothing"
run_ok sh_ n1 service rm sw
expect_eq "$OUT" "sw" "shoal service rm"
wait_for 300 0.1 "sw's containers removed" no_containers sw

log "service rm removes every container"
run_ok dk n1 service rm web prog
expect_eq "$(dk n1 service ls -q)" "" "no services left"
wait_for 300 0.1 "web's containers removed" no_containers web
wait_for 300 0.1 "prog's containers removed" no_containers prog
wait_for 100 0.1 "tasks deleted" \
    bash -c "[ \"\$(curl -s --unix-socket '$(node_sock n1)' http://shoal/tasks)\" = '[]' ]"
expect_fail dk n1 service inspect web
expect_contains "$OUT" "no such service: web" "inspect after rm"

log "ok"
