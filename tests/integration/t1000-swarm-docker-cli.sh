#!/bin/bash
# A single-node swarm driven by the real docker CLI: init, info, node ls,
# join tokens and rotation, networks, a second init, node updates, leave.
. "$(dirname "$0")/lib.sh"

start_node n1

log "docker swarm init"
run_ok dk n1 swarm init --advertise-addr 127.0.0.1
init_out=$OUT
node_id=$(dk n1 info -f '{{.Swarm.NodeID}}')
[ ${#node_id} -eq 25 ] || fail "node ID [$node_id] is not 25 characters"
worker=$(dk n1 swarm join-token -q worker)
expected="Swarm initialized: current node ($node_id) is now a manager.

To add a worker to this swarm, run the following command:

    docker swarm join --token $worker 127.0.0.1:2377

To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions."
expect_eq "$init_out" "$expected" "init message"
[[ $worker =~ ^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$ ]] || fail "worker token format: $worker"

log "docker system info"
run_ok dk n1 system info
info=$OUT
cluster_id=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')
for line in " Swarm: active" "  NodeID: $node_id" "  Is Manager: true" \
    "  ClusterID: $cluster_id" "  Managers: 1" "  Nodes: 1" \
    "  Default Address Pool: 10.0.0.0/8  " "  SubnetSize: 24" "  Data Path Port: 4789" \
    "   Task History Retention Limit: 5" "  Raft:" "   Snapshot Interval: 10000" \
    "   Number of Old Snapshots to Retain: 0" "   Heartbeat Tick: 1" "   Election Tick: 10" \
    "  Dispatcher:" "   Heartbeat Period: 5 seconds" "  CA Configuration:" \
    "   Expiry Duration: 3 months" "   Force Rotate: 0" "  Autolock Managers: false" \
    "  Root Rotation In Progress: false" "  Node Address: 127.0.0.1" \
    "  Manager Addresses:" "   127.0.0.1:2377"; do
    grep -qxF -- "$line" <<<"$info" || fail "docker info lacks line [$line]"
done

log "docker node ls"
run_ok dk n1 node ls
expect_eq "$(head -1 <<<"$OUT" | tr -s ' ')" "ID HOSTNAME STATUS AVAILABILITY MANAGER STATUS ENGINE VERSION" "node ls header"
row=$(sed -n 2p <<<"$OUT" | tr -s ' ')
expect_eq "$(wc -l <<<"$OUT")" 2 "one node"
expect_eq "$row" "$node_id * $(hostname) Ready Active Leader 0.1.0" "node ls row"

log "join tokens: manager, quiet, rotate"
run_ok dk n1 swarm join-token manager
manager=$(dk n1 swarm join-token -q manager)
expect_eq "$OUT" "To add a manager to this swarm, run the following command:

    docker swarm join --token $manager 127.0.0.1:2377" "join-token manager"
[ "$manager" != "$worker" ] || fail "manager and worker tokens are equal"
expect_eq "${manager:0:59}" "${worker:0:59}" "both tokens carry the same CA digest"
run_ok dk n1 swarm join-token --rotate manager
expect_contains "$OUT" "Successfully rotated manager join token." "rotate message"
manager2=$(dk n1 swarm join-token -q manager)
[ "$manager2" != "$manager" ] || fail "--rotate did not change the manager token"
expect_eq "$(dk n1 swarm join-token -q worker)" "$worker" "worker token unchanged by manager rotation"
run_ok dk n1 swarm join-token --rotate worker
[ "$(dk n1 swarm join-token -q worker)" != "$worker" ] || fail "--rotate did not change the worker token"

log "networks"
run_ok dk n1 network ls
grep -qE '^[0-9a-z]{12} +ingress +overlay +swarm$' <<<"$OUT" || fail "network ls: $OUT"
expect_eq "$(dk n1 network inspect ingress -f '{{.Ingress}} {{.Scope}} {{(index .IPAM.Config 0).Subnet}}')" "true swarm 10.0.0.0/24" "ingress inspect"

log "a second init is refused"
expect_fail dk n1 swarm init --advertise-addr 127.0.0.1
expect_eq "$OUT" 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.' "second init"

log "node update: availability, labels, last manager demotion refused"
run_ok dk n1 node update --availability drain --label-add zone=a "$node_id"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Availability}} {{index .Spec.Labels "zone"}}' "$node_id")" "drain a" "node update"
run_ok dk n1 node update --availability active --label-rm zone "$node_id"
expect_eq "$(dk n1 node inspect -f '{{.Spec.Availability}} {{len .Spec.Labels}}' "$node_id")" "active 0" "node update back"
expect_fail dk n1 node update --role worker "$node_id"
expect_eq "$OUT" "Error response from daemon: rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm" "demote last manager"
expect_fail dk n1 node rm "$node_id"
expect_contains "$OUT" "is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal" "rm manager"
expect_fail dk n1 node inspect nosuchnode
expect_eq "$OUT" "[]
Error response from daemon: node nosuchnode not found" "inspect unknown node"

log "swarm update keeps tokens and applies the spec"
run_ok dk n1 swarm update --task-history-limit 7 --cert-expiry 48h
expect_eq "$OUT" "Swarm updated." "swarm update"
expect_eq "$(dk n1 info -f '{{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}')" 7 "history limit"
expect_fail dk n1 swarm update --cert-expiry 30m
expect_contains "$OUT" "minimum certificate expiry time is: 1h0m0s" "short expiry refused"

log "leave: refused without --force, then back to inactive"
expect_fail dk n1 swarm leave
expect_contains "$OUT" "Removing the last manager erases all current state of the swarm" "leave without force"
run_ok dk n1 swarm leave --force
expect_eq "$OUT" "Node left the swarm." "leave message"
expect_eq "$(dk n1 info -f '{{.Swarm.LocalNodeState}}')" inactive "inactive after leave"
[ -z "$(ls -A "$(node_dir n1)/root/swarm")" ] || fail "swarm/ not emptied by leave"
expect_fail dk n1 node ls
expect_contains "$OUT" "This node is not a swarm manager." "node ls after leave"

log "init again after leave: a new swarm, with its own address pool"
run_ok dk n1 swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:23777 \
    --default-addr-pool 198.19.0.0/17 --default-addr-pool-mask-length 26
[ "$(dk n1 info -f '{{.Swarm.Cluster.ID}}')" != "$cluster_id" ] || fail "same cluster ID after re-init"
info=$(dk n1 info)
grep -qxF "  Default Address Pool: 198.19.0.0/17  " <<<"$info" || fail "pool line"
grep -qxF "  SubnetSize: 26" <<<"$info" || fail "subnet size line"
grep -qxF "   127.0.0.1:23777" <<<"$info" || fail "manager address follows --listen-addr's port"
expect_eq "$(dk n1 network inspect ingress -f '{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}')" "198.19.0.0/26 198.19.0.1" "ingress from the pool"
check_node_log n1
log "passed"
