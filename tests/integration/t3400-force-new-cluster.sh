#!/bin/bash
# Quorum lost for good (two of three managers dead): `swarm init
# --force-new-cluster` on the survivor rebuilds a one-manager cluster with
# its data, which new managers can join.
. "$(dirname "$0")/lib.sh"

P=$((24600 + RANDOM % 25 * 4))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }
digest() { curl -sf --max-time 5 --unix-socket "$(node_sock "$1")" http://shoal/_shoal/debug/store-digest | jq -r .Digest; }
converged() { local a b; a=$(digest "$1") && b=$(digest "$2") && [ "$a" = "$b" ]; }
managers_ok() { [ "$(dk "$1" node ls --format '{{.ManagerStatus}}' 2>/dev/null | grep -c -E '^(Leader|Reachable)$')" = "$2" ]; }

for n in n1 n2 n3 n4; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
token=$(dk n1 swarm join-token -q manager)
for n in n2 n3; do
    run_ok dk "$n" swarm join --token "$token" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n1)"
done
wait_for 400 0.05 "three managers" managers_ok n1 3
n1id=$(dk n1 info -f '{{.Swarm.NodeID}}')
cluster_id=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')
run_ok dk n2 node update --label-add before=1 "$n1id"

log "two of three managers die: no leader"
kill9_node n2
kill9_node n3
nl() { ! dk n1 node update --label-add x=1 "$n1id" >"$TMP/o" 2>&1 && grep -q "does not have a leader" "$TMP/o"; }
wait_for 400 0.05 "the no-leader error" nl

log "init --force-new-cluster on the survivor"
expect_fail dk n1 swarm init --advertise-addr "$(addr n1)"
expect_contains "$OUT" "This node is already part of a swarm" "plain init refused"
run_ok dk n1 swarm init --force-new-cluster --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
expect_contains "$OUT" "Swarm initialized: current node ($n1id) is now a manager." "init message"
expect_eq "$(dk n1 info -f '{{.Swarm.Cluster.ID}}')" "$cluster_id" "same cluster"
expect_eq "$(dk n1 node inspect -f '{{index .Spec.Labels "before"}}' "$n1id")" 1 "data kept"
expect_eq "$(dk n1 node ls --format '{{.ManagerStatus}}' | grep -c -E '^(Leader|Reachable|Unreachable)$')" 1 "one manager left in raft"
run_ok dk n1 node update --label-add after=1 "$n1id"

log "a new manager joins the recovered cluster"
run_ok dk n4 swarm join --token "$(dk n1 swarm join-token -q manager)" --advertise-addr "$(addr n4)" --listen-addr "$(addr n4)" "$(addr n1)"
wait_for 400 0.05 "two managers" managers_ok n1 2
wait_for 400 0.05 "n4 to converge" converged n1 n4
run_ok dk n4 node update --label-add via-n4=1 "$n1id"
for n in n1 n4; do check_node_log "$n"; done
log "passed"
