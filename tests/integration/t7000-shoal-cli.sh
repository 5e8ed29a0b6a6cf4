#!/bin/bash
# The single-node scenarios through shoal's own CLI: -H and SHOAL_HOST,
# init, info, node ls/inspect/update, join tokens, networks, errors and exit
# codes, restart, leave. The output is compared with the docker CLI's
# against the same daemon where the two should agree.
. "$(dirname "$0")/lib.sh"

start_node n1
export SHOAL_HOST="unix://$(node_sock n1)"

log "before init: Docker's error and exit code 1"
expect_fail "$SHOAL" node ls
expect_eq "$OUT" 'Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.' "node ls before init"
"$SHOAL" node ls >/dev/null 2>&1
expect_eq "$?" 1 "exit code of a daemon error"
expect_eq "$("$SHOAL" info --format '{{.Swarm.LocalNodeState}}')" inactive "info before init"

log "unreachable daemon"
expect_fail "$SHOAL" -H "unix://$TMP/nothing.sock" node ls
expect_contains "$OUT" "Cannot connect to the shoal daemon at unix://$TMP/nothing.sock" "no daemon"

log "shoal swarm init"
run_ok "$SHOAL" swarm init --advertise-addr 127.0.0.1
init_out=$OUT
node_id=$(dk n1 info -f '{{.Swarm.NodeID}}')
worker=$(dk n1 swarm join-token -q worker)
expect_eq "$init_out" "Swarm initialized: current node ($node_id) is now a manager.

To add a worker to this swarm, run the following command:

    shoal swarm join --token $worker 127.0.0.1:2377

To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions." "init message"
expect_fail "$SHOAL" swarm init --advertise-addr 127.0.0.1
expect_eq "$OUT" 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.' "second init"

log "shoal info: the Swarm section matches docker's"
sw_docker=$(dk n1 info 2>/dev/null | sed -n '/^ Swarm: /,/^  Manager Addresses:/p')
sw_shoal=$("$SHOAL" info 2>/dev/null | sed -n '/^ Swarm: /,/^  Manager Addresses:/p')
[ -n "$sw_shoal" ] || fail "shoal info has no Swarm section"
expect_eq "$sw_shoal" "$sw_docker" "Swarm section of info"
"$SHOAL" info | grep -qxF "   127.0.0.1:2377" || fail "manager address missing from shoal info"

log "node ls / inspect / update / rm"
expect_eq "$("$SHOAL" node ls)" "$(dk n1 node ls)" "node ls same as docker's"
expect_eq "$("$SHOAL" node ls -q)" "$node_id" "node ls -q"
expect_eq "$("$SHOAL" node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}')" "$(hostname) Ready Leader" "node ls --format"
expect_eq "$("$SHOAL" node inspect "$node_id" | jq -r '.[0].ID')" "$node_id" "node inspect JSON"
expect_eq "$("$SHOAL" node inspect -f '{{.Spec.Role}}' self)" manager "node inspect self -f"
run_ok "$SHOAL" node update --availability pause --label-add zone=b "$node_id"
expect_eq "$OUT" "$node_id" "node update prints the node"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Availability}} {{index .Spec.Labels "zone"}}' "$node_id")" "pause b" "node update applied"
expect_fail "$SHOAL" node update --availability sleepy "$node_id"
expect_eq "$OUT" 'Error response from daemon: invalid Availability: "sleepy"' "bad availability"
expect_fail "$SHOAL" node demote "$node_id"
expect_contains "$OUT" "attempting to demote the last manager of the swarm" "demote last manager"
expect_fail "$SHOAL" node rm "$node_id"
expect_contains "$OUT" "must be demoted to worker before removal" "rm manager"
expect_fail "$SHOAL" node inspect nosuch
expect_contains "$OUT" "node nosuch not found" "inspect unknown"

log "join tokens"
expect_eq "$("$SHOAL" swarm join-token -q worker)" "$worker" "join-token -q"
run_ok "$SHOAL" swarm join-token manager
manager=$(dk n1 swarm join-token -q manager)
expect_eq "$OUT" "To add a manager to this swarm, run the following command:

    shoal swarm join --token $manager 127.0.0.1:2377" "join-token manager"
run_ok "$SHOAL" swarm join-token --rotate worker
expect_contains "$OUT" "Successfully rotated worker join token." "rotate"
[ "$(dk n1 swarm join-token -q worker)" != "$worker" ] || fail "rotate did not change the token"
expect_fail "$SHOAL" swarm join-token boss
expect_contains "$OUT" "unknown role boss" "unknown role"

log "swarm update"
run_ok "$SHOAL" swarm update --task-history-limit 3 --dispatcher-heartbeat 7s
expect_eq "$OUT" "Swarm updated." "swarm update"
expect_eq "$(dk n1 info -f '{{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}} {{.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}}')" "3 7s" "update applied"

log "networks"
expect_eq "$("$SHOAL" network ls)" "$(dk n1 network ls)" "network ls same as docker's"
expect_eq "$("$SHOAL" network inspect ingress | jq -r '.[0].Name')" ingress "network inspect"

log "version"
run_ok "$SHOAL" version
expect_contains "$OUT" "Server:" "version server block"
expect_contains "$OUT" "1.51" "version API"

log "restart keeps everything; -H works like SHOAL_HOST"
before=$("$SHOAL" node ls; "$SHOAL" swarm join-token -q manager)
kill9_node n1
start_node n1
wait_for 100 0.05 "restored manager" "$SHOAL" node ls
after=$(env -u SHOAL_HOST "$SHOAL" -H "unix://$(node_sock n1)" node ls; "$SHOAL" swarm join-token -q manager)
expect_eq "$after" "$before" "state after kill -9"

log "leave"
expect_fail "$SHOAL" swarm leave
expect_contains "$OUT" "Removing the last manager erases all current state of the swarm" "leave without force"
run_ok "$SHOAL" swarm leave --force
expect_eq "$OUT" "Node left the swarm." "leave"
expect_eq "$("$SHOAL" info --format '{{.Swarm.LocalNodeState}}')" inactive "inactive after leave"
check_node_log n1
log "passed"
