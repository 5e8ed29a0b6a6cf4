#!/bin/bash
# Five managers and two workers on loopback, driven by the real docker CLI:
# joins, node ls from every manager, leave rules for managers and workers,
# node rm, and quorum: losing it gives Docker's no-leader error on writes,
# and the cluster recovers by itself when quorum returns.
. "$(dirname "$0")/lib.sh"

P=$((24400 + RANDOM % 30 * 8))
NODES_ALL=(n1 n2 n3 n4 n5 w1 w2)
port_of() { local i; for i in "${!NODES_ALL[@]}"; do [ "${NODES_ALL[$i]}" = "$1" ] && echo $((P + i)); done; }
addr() { echo "127.0.0.1:$(port_of "$1")"; }
digest() { curl -sf --max-time 5 --unix-socket "$(node_sock "$1")" http://shoal/_shoal/debug/store-digest | jq -r .Digest; }
converged() {
    local n d first=""
    for n in "$@"; do
        d=$(digest "$n") || return 1
        [ -z "$first" ] && first=$d
        [ "$d" = "$first" ] || return 1
    done
}
managers_ok() { # NODE WANT: WANT managers Leader/Reachable seen through NODE
    [ "$(dk "$1" node ls --format '{{.ManagerStatus}}' 2>/dev/null | grep -c -E '^(Leader|Reachable)$')" = "$2" ]
}

for n in "${NODES_ALL[@]}"; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
mtoken=$(dk n1 swarm join-token -q manager)
wtoken=$(dk n1 swarm join-token -q worker)
for n in n2 n3 n4 n5; do
    run_ok dk "$n" swarm join --token "$mtoken" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n1)"
done
for n in w1 w2; do
    run_ok dk "$n" swarm join --token "$wtoken" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n2)"
    expect_eq "$OUT" "This node joined a swarm as a worker." "join $n"
done
wait_for 400 0.05 "five managers" managers_ok n1 5

log "node ls from every manager: 7 nodes, 5 managers"
ref=$(dk n1 node ls --format '{{.ID}} {{.Hostname}} {{.ManagerStatus}}' | sort)
expect_eq "$(wc -l <<<"$ref")" 7 "seven nodes"
for n in n2 n3 n4 n5; do
    expect_eq "$(dk "$n" node ls --format '{{.ID}} {{.Hostname}} {{.ManagerStatus}}' | sort)" "$ref" "node ls through $n"
done
expect_eq "$(dk w1 info -f '{{.Swarm.ControlAvailable}}')" false "worker has no control"
expect_fail dk w1 node ls
expect_contains "$OUT" "Worker nodes can't be used to view or modify cluster state" "node ls on a worker"

log "leave rules"
expect_fail dk n3 swarm leave
expect_contains "$OUT" "You are attempting to leave the swarm on a node that is participating as a manager." "manager leave refused"
expect_contains "$OUT" "--force-new-cluster" "manager leave hint"
w2id=$(dk w2 info -f '{{.Swarm.NodeID}}')
run_ok dk w2 swarm leave
expect_eq "$OUT" "Node left the swarm." "worker leaves without --force"
expect_eq "$(dk w2 info -f '{{.Swarm.LocalNodeState}}')" inactive "w2 inactive"
run_ok dk n1 node rm --force "$w2id"
expect_fail dk n1 node inspect "$w2id"

log "the worker that left joins again: a new node ID"
run_ok dk w2 swarm join --token "$wtoken" --advertise-addr "$(addr w2)" --listen-addr "$(addr w2)" "$(addr n3)"
w2new=$(dk w2 info -f '{{.Swarm.NodeID}}')
[ -n "$w2new" ] && [ "$w2new" != "$w2id" ] || fail "rejoined with node ID [$w2new], was [$w2id]"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Role}}' "$w2new")" worker "rejoined as a worker"

log "promote a worker to a sixth manager, demote it again"
w1id=$(dk w1 info -f '{{.Swarm.NodeID}}')
run_ok dk n2 node promote "$w1id"
expect_eq "$OUT" "Node $w1id promoted to a manager in the swarm." "promote message"
wait_for 600 0.05 "six managers" managers_ok n1 6
wait_for 600 0.05 "node ls through the promoted worker" dk w1 node ls
run_ok dk n3 node demote "$w1id"
expect_eq "$OUT" "Manager $w1id demoted in the swarm." "demote message"
wait_for 600 0.05 "five managers again" managers_ok n1 5
wait_for 600 0.05 "the demoted node to be a worker again" \
    bash -c "! '$DOCKER' -H unix://$(node_sock w1) node ls >/dev/null 2>&1"
run_ok dk n1 node rm --force "$w2new"

log "a manager leaves with --force: out of Raft, removable"
n5id=$(dk n5 info -f '{{.Swarm.NodeID}}')
run_ok dk n5 swarm leave --force
expect_eq "$(dk n5 info -f '{{.Swarm.LocalNodeState}}')" inactive "n5 inactive"
wait_for 400 0.05 "four managers" managers_ok n1 4
expect_eq "$(dk n1 node inspect -f '{{if .ManagerStatus}}member{{else}}none{{end}}' "$n5id")" none "n5 out of raft"
run_ok dk n1 node rm --force "$n5id"
n1id=$(dk n1 info -f '{{.Swarm.NodeID}}')
expect_fail dk n1 node rm --force "$n1id"
expect_contains "$OUT" "is a cluster manager and is a member of the raft cluster" "rm of a raft member refused"
run_ok dk n2 node update --label-add after-leave=1 "$n1id"
wait_for 400 0.05 "the four managers to converge" converged n1 n2 n3 n4

log "quorum: 4 voters survive one loss, not two; recovery is automatic"
leader_name() {
    local n id
    id=$(dk "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2 == "Leader" {print $1}')
    for n in n1 n2 n3 n4; do [ "$(dk "$n" info -f '{{.Swarm.NodeID}}' 2>/dev/null)" = "$id" ] && echo "$n"; done
}
kill9_node n4
wait_for 400 0.05 "a write with 3 of 4 managers" dk n1 node update --label-add q3=1 "$n1id"
kill9_node n3
nl_err() {
    ! dk n1 node update --label-add q2=1 "$n1id" >"$TMP/q2.out" 2>&1 &&
        grep -q "The swarm does not have a leader" "$TMP/q2.out"
}
wait_for 400 0.05 "Docker's no-leader error with 2 of 4 managers" nl_err
expect_contains "$(cat "$TMP/q2.out")" "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online." "no-leader text"
start_node n3
wait_for 600 0.05 "writes to work again when quorum returns" dk n2 node update --label-add q-back=1 "$n1id"
start_node n4
wait_for 600 0.05 "all four managers to converge" converged n1 n2 n3 n4
for n in n1 n2 n3 n4 n5 w1 w2; do check_node_log "$n"; done
log "passed"
