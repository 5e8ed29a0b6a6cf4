#!/bin/bash
# The simulated fleet (`shoal bench agents N`): 50 simulated workers join a
# drained manager for real (their own keys and certificates, Hostname
# sim-<i>), all show Ready in node ls; tasks created in one batch on the
# debug route and spread over them reach running in GET /tasks (the real
# agent and executor over the fleet's engine, no containers), and desired
# state shutdown is honoured. The fleet stops cleanly on SIGTERM (sanitizer
# build: no leak, no report), and a rerun with the same --data restores the
# same 50 nodes instead of joining again.
. "$(dirname "$0")/lib.sh"

N=50
P=$((24900 + RANDOM % 90))
ADDR=127.0.0.1:$P
FLEET_PID=""

start_fleet() {
    "$SHOAL" bench agents "$N" --token "$TOKEN" --manager "$ADDR" \
        --data "$TMP/fleet" >"$TMP/fleet.out" 2>"$TMP/fleet.err" &
    FLEET_PID=$!
}
# stop_fleet: SIGTERM, a bounded wait; prints the exit status.
stop_fleet() {
    local i rc
    [ -n "$FLEET_PID" ] || return 0
    kill -TERM "$FLEET_PID" 2>/dev/null
    for ((i = 0; i < 400; i++)); do
        kill -0 "$FLEET_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$FLEET_PID" 2>/dev/null; then
        kill -KILL "$FLEET_PID" 2>/dev/null
        log "the fleet did not stop on SIGTERM"
    fi
    wait "$FLEET_PID"
    rc=$?
    FLEET_PID=""
    return "$rc"
}
trap 'rc=$?; stop_fleet >/dev/null 2>&1; (exit $rc); cleanup' EXIT

ready_count() {
    dk n1 node ls --format '{{.Hostname}} {{.Status}}' | grep -c '^sim-[0-9]* Ready$'
}
all_ready() { [ "$(ready_count)" = "$N" ]; }
# tasks_in STATE COUNT: COUNT tasks of the batch are in STATE in GET /tasks.
tasks_in() {
    local out
    out=$(api n1 GET /tasks)
    [ "${out%% *}" = 200 ] || return 1
    [ "$(printf '%s' "${out#* }" | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)
          if t.get("Name") == "fleet" and t["Status"]["State"] == sys.argv[1]))
' "$1")" = "$2" ]
}
task_state_is() { # task_state_is ID STATE
    local out
    out=$(api n1 GET "/tasks/$1")
    [ "$(printf '%s' "${out#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Status"]["State"])')" = "$2" ]
}

start_node n1
run_ok dk n1 swarm init --advertise-addr "$ADDR" --listen-addr "$ADDR"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
run_ok dk n1 node update --availability drain "$(dk n1 info -f '{{.Swarm.NodeID}}')"
TOKEN=$(dk n1 swarm join-token -q worker)

log "bad arguments are refused"
expect_fail "$SHOAL" bench agents 0 --token "$TOKEN" --manager "$ADDR"
expect_contains "$OUT" 'invalid number of agents "0"' "N = 0"
expect_fail "$SHOAL" bench agents 3 --token SWMTKN-1-bogus --manager "$ADDR" --data "$TMP/bad"
expect_contains "$OUT" "invalid join token" "bad token"

log "$N simulated nodes join and are Ready"
start_fleet
wait_for 300 0.1 "$N simulated nodes Ready" all_ready
wait_for 50 0.1 "the fleet's report" grep -q "all $N nodes in the swarm ($N joined, 0 restored, 0 failed)" "$TMP/fleet.out"
expect_eq "$(dk n1 node ls -q | wc -l)" "$((N + 1))" "nodes listed"
expect_eq "$(dk n1 node ls --format '{{.Hostname}}' | grep -c '^sim-')" "$N" "sim- hostnames"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Role}} {{.Status.Addr}}' "$(dk n1 node ls --filter name=sim-7 -q)")" \
    "worker 127.0.0.1" "a simulated node's role and address"

log "a batch of tasks on the debug route, spread over the nodes"
out=$(api n1 POST /_shoal/debug/tasks '[]')
expect_eq "${out%% *}" 400 "empty batch"
out=$(api n1 POST /_shoal/debug/tasks '[1]')
expect_eq "${out%% *}" 400 "batch of non-objects"
body=$(dk n1 node ls --format '{{.ID}} {{.Hostname}}' | awk '$2 ~ /^sim-/ { print $1 }' | python3 -c '
import json, sys
ids = sys.stdin.read().split()
print(json.dumps([{"Name": "fleet", "Slot": i + 1, "NodeID": ids[i % len(ids)],
                   "ServiceAnnotations": {"Name": "fleet"},
                   "Spec": {"ContainerSpec": {"Image": "busybox"}}}
                  for i in range(2 * len(ids))]))')
out=$(api n1 POST /_shoal/debug/tasks "$body")
expect_eq "${out%% *}" 201 "batch created"
expect_eq "$(printf '%s' "${out#* }" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" \
    "$((2 * N))" "IDs answered"
first=$(printf '%s' "${out#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ID"])')
wait_for 300 0.1 "$((2 * N)) tasks running" tasks_in running "$((2 * N))"
out=$(api n1 GET "/tasks/$first")
expect_contains "$out" '"Message":"started"' "running message"
expect_contains "$out" '"ContainerID":"' "container ID reported"
wait_for 50 0.1 "the fleet counts $((2 * N)) running" grep -q "$((2 * N)) tasks running" "$TMP/fleet.out"

log "desired state shutdown"
out=$(api n1 POST "/_shoal/debug/tasks/$first/update" '{"DesiredState":"shutdown"}')
expect_eq "${out%% *}" 200 "update desired state"
wait_for 100 0.1 "task $first shut down" task_state_is "$first" shutdown

log "SIGTERM stops the fleet cleanly"
stop_fleet || fail "the fleet exited with $? (stderr: $(tail -5 "$TMP/fleet.err"))"
grep -q '^fleet: stopped$' "$TMP/fleet.out" || fail "no clean stop: $(tail -3 "$TMP/fleet.out")"
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP/fleet.err"; then
    sed -n '1,60p' "$TMP/fleet.err"
    fail "sanitizer report from the fleet"
fi

down_count() {
    dk n1 node ls --format '{{.Hostname}} {{.Status}}' | grep -c '^sim-[0-9]* Down$'
}
all_down() { [ "$(down_count)" = "$N" ]; }
wait_for 150 0.1 "the stopped nodes Down" all_down

log "a rerun restores the same nodes"
start_fleet
wait_for 100 0.1 "the fleet's report" grep -q "all $N nodes in the swarm (0 joined, $N restored, 0 failed)" "$TMP/fleet.out"
wait_for 300 0.1 "$N simulated nodes Ready again" all_ready
expect_eq "$(dk n1 node ls -q | wc -l)" "$((N + 1))" "no new node"
stop_fleet || fail "the second fleet exited with $?"
check_node_log n1
log "PASS"
