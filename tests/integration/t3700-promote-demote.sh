#!/bin/bash
# docker node promote / demote on three nodes joined as workers: the
# promoted node renews its certificate as a manager, joins Raft and serves
# the API; the demoted one renews as a worker and stops its manager. The
# last manager cannot be demoted, nor a manager whose removal would lose
# quorum.
. "$(dirname "$0")/lib.sh"

P=$((25300 + RANDOM % 60 * 3))
NODES_ALL=(n1 n2 n3)
port_of() { local i; for i in "${!NODES_ALL[@]}"; do [ "${NODES_ALL[$i]}" = "$1" ] && echo $((P + i)); done; }
addr() { echo "127.0.0.1:$(port_of "$1")"; }
cert_ou() { openssl x509 -noout -subject -nameopt multiline -in "$(node_dir "$1")/root/swarm/certificates/swarm-node.crt" | awk -F' = ' '/organizationalUnitName/ {print $2}'; }
status_of() { dk n1 node inspect -f '{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{else}}none{{end}}' "$2" 2>/dev/null | grep -qx "$1"; }
managers_ok() { [ "$(dk "$1" node ls --format '{{.ManagerStatus}}' 2>/dev/null | grep -c -E '^(Leader|Reachable)$')" = "$2" ]; }
is_ou() { [ "$(cert_ou "$1")" = "$2" ]; }
worker_refused() { ! dk "$1" node ls >"$TMP/wr.out" 2>&1 && grep -q "Worker nodes can't be used to view or modify cluster state" "$TMP/wr.out"; }

for n in "${NODES_ALL[@]}"; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
wtoken=$(dk n1 swarm join-token -q worker)
for n in n2 n3; do
    run_ok dk "$n" swarm join --token "$wtoken" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n1)"
    expect_eq "$OUT" "This node joined a swarm as a worker." "join $n"
done
n1id=$(dk n1 info -f '{{.Swarm.NodeID}}')
n2id=$(dk n2 info -f '{{.Swarm.NodeID}}')
n3id=$(dk n3 info -f '{{.Swarm.NodeID}}')
expect_eq "$(cert_ou n2)" swarm-worker "n2 starts as a worker"

log "promote n2"
run_ok dk n1 node promote "$n2id"
expect_eq "$OUT" "Node $n2id promoted to a manager in the swarm." "promote message"
wait_for 400 0.05 "n2 to be Reachable" status_of reachable "$n2id"
wait_for 400 0.05 "node ls through n2" managers_ok n2 2
expect_eq "$(cert_ou n2)" swarm-manager "n2 certificate OU after promotion"
expect_eq "$(dk n2 info -f '{{.Swarm.ControlAvailable}}')" true "n2 has control"
run_ok dk n2 node update --label-add via-n2=1 "$n3id"

log "demote n2"
run_ok dk n1 node demote "$n2id"
expect_eq "$OUT" "Manager $n2id demoted in the swarm." "demote message"
wait_for 400 0.05 "n2 certificate OU swarm-worker" is_ou n2 swarm-worker
wait_for 400 0.05 "node ls through n2 refused" worker_refused n2
expect_contains "$(cat "$TMP/wr.out")" "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state." "worker text"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Role}} {{if .ManagerStatus}}member{{else}}none{{end}}' "$n2id")" "worker none" "n2 is a worker again"
wait_for 400 0.05 "one manager" managers_ok n1 1
wait_for 400 0.05 "n2 heartbeats as a worker" status_of none "$n2id"
expect_eq "$(dk n1 node inspect -f '{{.Status.State}}' "$n2id")" ready "n2 ready"

log "the last manager cannot be demoted"
expect_fail dk n1 node demote "$n1id"
expect_contains "$OUT" "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm" "last manager text"

log "quorum: three managers, one killed, the live follower stays"
run_ok dk n1 node promote "$n2id"
run_ok dk n1 node promote "$n3id"
wait_for 600 0.05 "three managers" managers_ok n1 3
wait_for 400 0.05 "n3 certificate OU swarm-manager" is_ou n3 swarm-manager
kill9_node n3
wait_for 400 0.05 "n3 unreachable" status_of unreachable "$n3id"
expect_fail dk n1 node demote "$n2id"
expect_contains "$OUT" "rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum" "quorum text"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Role}}' "$n2id")" manager "n2 still a manager"
run_ok dk n2 node ls

log "the leader demotes itself: it hands leadership over, the new leader removes it from Raft"
start_node n3
wait_for 600 0.05 "n3 reachable again" status_of reachable "$n3id"
expect_eq "$(dk n1 node inspect -f '{{.ManagerStatus.Leader}}' "$n1id")" true "n1 leads"
run_ok dk n1 node demote "$n1id"
expect_eq "$OUT" "Manager $n1id demoted in the swarm." "self-demote message"
new_leader() { dk n2 node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null | grep -E ' Leader$' | grep -qv "^$n1id "; }
wait_for 400 0.05 "a new leader among n2, n3" new_leader
wait_for 400 0.05 "two managers" managers_ok n2 2
wait_for 400 0.05 "n1 certificate OU swarm-worker" is_ou n1 swarm-worker
wait_for 400 0.05 "node ls through n1 refused" worker_refused n1
expect_eq "$(dk n2 node inspect -f '{{.Spec.Role}} {{if .ManagerStatus}}member{{else}}none{{end}}' "$n1id")" "worker none" "n1 is a worker"
run_ok dk n3 node update --label-add after-self-demote=1 "$n1id"
for n in n1 n2 n3; do check_node_log "$n"; done
log "passed"
