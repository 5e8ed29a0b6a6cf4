#!/bin/bash
# kill -9 and a clean restart bring back the same swarm: cluster ID, node
# ID, tokens, certificates and every acknowledged change.
. "$(dirname "$0")/lib.sh"

snapshot() {
    dk n1 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.Cluster.ID}} {{.Swarm.NodeID}} {{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}'
    dk n1 swarm join-token -q worker
    dk n1 swarm join-token -q manager
    dk n1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'
    dk n1 node inspect self -f '{{.Spec.Availability}} {{.Spec.Labels}}'
    dk n1 network ls --filter driver=overlay --format '{{.ID}} {{.Name}}'
    sha256sum "$(node_dir n1)"/root/swarm/certificates/*
}

start_node n1
run_ok dk n1 swarm init --advertise-addr 127.0.0.1
node_id=$(dk n1 info -f '{{.Swarm.NodeID}}')
# Acknowledged changes right before the crash.
run_ok dk n1 swarm join-token --rotate worker
run_ok dk n1 node update --availability pause --label-add k=v "$node_id"
run_ok dk n1 swarm update --task-history-limit 9
before=$(snapshot)

log "kill -9, restart"
kill9_node n1
start_node n1
wait_for 100 0.05 "the restored manager to serve node ls" dk n1 node ls
after=$(snapshot)
expect_eq "$after" "$before" "state after kill -9"

log "more changes, then a clean restart"
run_ok dk n1 swarm join-token --rotate manager
run_ok dk n1 node update --availability active "$node_id"
before=$(snapshot)
stop_node n1 || fail "clean stop"
start_node n1
wait_for 100 0.05 "the restored manager to serve node ls" dk n1 node ls
expect_eq "$(snapshot)" "$before" "state after SIGTERM restart"

log "many acknowledged writes, then kill -9 in the middle of more"
for i in $(seq 1 30); do
    api n1 POST "/nodes/$node_id/update?version=$(dk n1 node inspect -f '{{.Version.Index}}' "$node_id")" \
        "{\"Role\":\"manager\",\"Availability\":\"active\",\"Labels\":{\"i\":\"$i\"}}" >"$TMP/r"
    expect_eq "$(cut -d' ' -f1 "$TMP/r")" 200 "update $i"
done
kill9_node n1
start_node n1
wait_for 100 0.05 "the restored manager to serve node ls" dk n1 node ls
expect_eq "$(dk n1 node inspect -f '{{index .Spec.Labels "i"}}' "$node_id")" 30 "last acknowledged write survives"

log "a damaged state is reported, not crashed on"
stop_node n1
echo garbage >"$(node_dir n1)/root/swarm/docker-state.json"
start_node n1
expect_eq "$(dk n1 info -f '{{.Swarm.LocalNodeState}}')" error "state error"
expect_contains "$(dk n1 info -f '{{.Swarm.Error}}')" "swarm state could not be restored" "error text"
run_ok dk n1 swarm leave --force
expect_eq "$(dk n1 info -f '{{.Swarm.LocalNodeState}}')" inactive "leave from error state"
check_node_log n1
log "passed"
