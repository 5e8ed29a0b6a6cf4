#!/bin/bash
# A join acknowledged is durable: a manager and a worker killed with -9
# right after `docker swarm join` returns come back after a restart as
# the same nodes of the same swarm (their key, certificate, root CA and
# docker-state.json were on disk before the answer), with no node added
# twice; the manager is a reachable voter again.
. "$(dirname "$0")/lib.sh"

# Ports 25000-25179.
P=$((25000 + RANDOM % 60 * 3))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }

join() { # join NAME TOKEN
    dk "$1" swarm join --token "$2" --advertise-addr "$(addr "$1")" \
        --listen-addr "$(addr "$1")" "$(addr n1)"
}
node_ls() {
    dk n1 node ls --format '{{.ID}} {{.Status}} {{.ManagerStatus}}' | sort
}
shows() { [ "$(node_ls)" = "$1" ]; }

start_node n1
start_node n2
start_node n3
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
manager=$(dk n1 swarm join-token -q manager)
worker=$(dk n1 swarm join-token -q worker)
cluster=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')
n1_id=$(dk n1 info -f '{{.Swarm.NodeID}}')

log "a worker killed right after its join returns"
run_ok join n3 "$worker"
kill9_node n3
# Last: with n2 down, n1 alone is no quorum until n2 is back.
log "a manager killed right after its join returns"
run_ok join n2 "$manager"
kill9_node n2

for n in n2 n3; do
    for f in certificates/swarm-root-ca.crt certificates/swarm-node.crt \
        certificates/swarm-node.key docker-state.json; do
        [ -s "$(node_dir $n)/root/swarm/$f" ] || fail "$n lacks swarm/$f"
    done
done

log "both restart as the nodes they were"
start_node n2
start_node n3
wait_for 200 0.05 "n2 to be active" \
    eval '[ "$(dk n2 info -f "{{.Swarm.LocalNodeState}}")" = active ]'
wait_for 200 0.05 "n3 to be active" \
    eval '[ "$(dk n3 info -f "{{.Swarm.LocalNodeState}}")" = active ]'
n2_id=$(dk n2 info -f '{{.Swarm.NodeID}}')
n3_id=$(dk n3 info -f '{{.Swarm.NodeID}}')
n2_info=$(dk n2 info -f '{{.Swarm.Cluster.ID}} {{.Swarm.ControlAvailable}}')
expect_eq "$n2_info" "$cluster true" "n2's swarm"
expect_eq "$(dk n3 info -f '{{.Swarm.ControlAvailable}}')" false "n3's role"
want=$(printf '%s\n' "$n1_id Ready Leader" "$n2_id Ready Reachable" \
    "$n3_id Ready " | sort)
wait_for 200 0.05 "n1 to show n2 reachable, n3 ready" shows "$want"
expect_eq "$(node_ls)" "$want" "node ls after the restarts"
wait_for 200 0.05 "n2 to serve node ls" \
    eval '[ "$(dk n2 node ls -q | wc -l)" -eq 3 ]'

for n in n1 n2 n3; do check_node_log "$n"; done
log "passed"
