#!/bin/bash
# docker swarm join on loopback: a second manager and workers join the
# swarm of n1 through the cluster port (root CA pinned by the token's
# digest, the server's chain verified against it, admission by ca.join on
# the same connection), with Docker's texts for a wrong token, a token for
# another CA, an impostor serving our root, an unreachable manager and a
# node already in a swarm; shoal's CLI joins too; a shutdown in the middle
# of a join is clean.
. "$(dirname "$0")/lib.sh"

# Ports apart from t3100's 24100-24699.
P1=24901 P2=24902 P3=24903 P4=24904 P5=24905 P6=24906 PDEAD=24999 PHOLE=24998

# join NAME PORT ARGS...: docker swarm join with loopback addresses.
join() {
    local name=$1 port=$2
    shift 2
    dk "$name" swarm join --listen-addr "127.0.0.1:$port" \
        --advertise-addr "127.0.0.1:$port" "$@"
}

swarm_empty() {
    [ -z "$(ls -A "$(node_dir "$1")/root/swarm")" ]
}

node_count() {
    [ "$(dk "$1" node ls -q | wc -l)" -eq "$2" ]
}

start_node n1
start_node n2
start_node n3
run_ok dk n1 swarm init --listen-addr 127.0.0.1:$P1 --advertise-addr 127.0.0.1:$P1
manager=$(dk n1 swarm join-token -q manager)
worker=$(dk n1 swarm join-token -q worker)
n1_id=$(dk n1 info -f '{{.Swarm.NodeID}}')

log "refusals: bad request, bad token, wrong token, other CA, unreachable"
expect_fail join n2 $P2 --token "$worker" ""
expect_eq "$OUT" 'Error response from daemon: invalid remoteAddr "": invalid empty address' "empty remote"
expect_eq "$(api n2 POST /swarm/join '{"JoinToken":"x","RemoteAddrs":[]}')" \
    '400 {"message":"at least 1 RemoteAddr is required to join"}' "no remote"
expect_fail join n2 $P2 --token SWMTKN-1-nope 127.0.0.1:$P1
expect_eq "$OUT" "Error response from daemon: invalid join token" "malformed token"
expect_fail join n2 $P2 --token "${worker%-*}-0000000000000000000000000" 127.0.0.1:$P1
expect_eq "$OUT" "Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster" "wrong token"
expect_eq "$(dk n2 info -f '{{.Swarm.LocalNodeState}}')" inactive "state after a refused join"
swarm_empty n2 || fail "a refused join left files in swarm/: $(ls -R "$(node_dir n2)/root/swarm")"

start_node n4
run_ok dk n4 swarm init --listen-addr 127.0.0.1:$P4 --advertise-addr 127.0.0.1:$P4
other=$(dk n4 swarm join-token -q worker)
other_digest=$(sha256sum <"$(node_dir n4)/root/swarm/certificates/swarm-root-ca.crt" | cut -d' ' -f1)
expect_fail join n2 $P2 --token "$other" 127.0.0.1:$P1
expect_eq "$OUT" "Error response from daemon: remote CA does not match fingerprint. Expected: $other_digest" "token of another CA"
swarm_empty n2 || fail "a pinning failure left files in swarm/"

# An impostor: n4 hands out n1's root (its ca.root reads the file) but
# proves only its own certificate: the join stops before ca.join, so the
# token never reaches it (n4 would answer ca.join with "A valid join token
# is necessary...").
n4_root=$(node_dir n4)/root/swarm/certificates/swarm-root-ca.crt
cp "$n4_root" "$TMP/n4-root.crt"
cp "$(node_dir n1)/root/swarm/certificates/swarm-root-ca.crt" "$n4_root"
expect_fail join n2 $P2 --token "$manager" 127.0.0.1:$P4
expect_contains "$OUT" "could not join the swarm through 127.0.0.1:$P4: TLS handshake with 127.0.0.1:$P4: certificate signed by unknown authority" "impostor refused"
expect_not_contains "$OUT" "join token" "no ca.join sent to the impostor"
expect_eq "$(dk n2 info -f '{{.Swarm.LocalNodeState}}')" inactive "state after an impostor"
swarm_empty n2 || fail "an impostor left files in swarm/"
cp "$TMP/n4-root.crt" "$n4_root"

expect_fail join n2 $P2 --token "$manager" 127.0.0.1:$PDEAD
expect_contains "$OUT" "127.0.0.1:$PDEAD" "unreachable manager named"
expect_contains "$OUT" "connection refused" "unreachable manager cause"
expect_contains "$OUT" "--advertise-addr" "unreachable manager hint"
expect_eq "$(dk n2 info -f '{{.Swarm.LocalNodeState}}')" inactive "state after an unreachable manager"

expect_fail dk n2 swarm join --listen-addr 127.0.0.1:$P1 --advertise-addr 127.0.0.1:$P1 \
    --token "$manager" 127.0.0.1:$P1
expect_eq "$OUT" "Error response from daemon: failed to listen on remote API address: listen tcp 127.0.0.1:$P1: bind: address already in use" "busy listen address"
expect_eq "$(dk n1 node ls -q | wc -l)" 1 "no node admitted by refused joins"

log "n2 joins as a manager"
run_ok join n2 $P2 --token "$manager" 127.0.0.1:$P1
expect_eq "$OUT" "This node joined a swarm as a manager." "manager join message"
n2_id=$(dk n2 info -f '{{.Swarm.NodeID}}')
[ ${#n2_id} -eq 25 ] && [ "$n2_id" != "$n1_id" ] || fail "n2 node ID [$n2_id]"
expect_eq "$(dk n2 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Cluster.ID}}')" \
    "active true $(dk n1 info -f '{{.Swarm.Cluster.ID}}')" "n2 info"
for f in swarm-root-ca.crt swarm-node.crt swarm-node.key; do
    [ -f "$(node_dir n2)/root/swarm/certificates/$f" ] || fail "n2 lacks $f"
done
expect_eq "$(stat -c %a "$(node_dir n2)/root/swarm/certificates/swarm-node.key")" 600 "node key mode"
cmp -s "$(node_dir n1)/root/swarm/certificates/swarm-root-ca.crt" \
    "$(node_dir n2)/root/swarm/certificates/swarm-root-ca.crt" || fail "n2's root CA is not n1's"
expect_fail join n2 $P2 --token "$manager" 127.0.0.1:$P1
expect_eq "$OUT" 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.' "second join"

log "n3 joins as a worker"
run_ok join n3 $P3 --token "$worker" 127.0.0.1:$P1
expect_eq "$OUT" "This node joined a swarm as a worker." "worker join message"
run_ok dk n3 info
grep -qxF "  Is Manager: false" <<<"$OUT" || fail "docker info on n3: $OUT"
grep -qxF " Swarm: active" <<<"$OUT" || fail "docker info on n3 (state): $OUT"
n3_id=$(dk n3 info -f '{{.Swarm.NodeID}}')

log "n5 joins as a worker with shoal's CLI, through the follower n2"
start_node n5
run_ok sh_ n5 swarm join --listen-addr 127.0.0.1:$P5 --advertise-addr 127.0.0.1:$P5 \
    --token "$worker" 127.0.0.1:$P2
expect_eq "$OUT" "This node joined a swarm as a worker." "shoal join message"
n5_id=$(sh_ n5 info -f '{{.Swarm.NodeID}}' 2>/dev/null || dk n5 info -f '{{.Swarm.NodeID}}')

log "node ls on both managers"
for m in n1 n2; do
    wait_for 100 0.05 "4 nodes on $m" node_count $m 4
    got=$(dk $m node ls --format '{{.ID}} {{.Status}} {{.ManagerStatus}}' | sort)
    want=$(printf '%s\n' "$n1_id Ready Leader" "$n2_id Ready Reachable" \
        "$n3_id Ready " "$n5_id Ready " | sort)
    expect_eq "$got" "$want" "node ls on $m"
done
expect_eq "$(dk n2 node ls --format '{{.Self}} {{.ID}}' | grep '^true')" "true $n2_id" "n2 marks itself"
expect_eq "$(dk n1 node inspect "$n3_id" -f '{{.Spec.Role}}')" worker "n3's role"

log "restarts: the joined manager and worker come back"
stop_node n2 || fail "n2 stop"
stop_node n3 || fail "n3 stop"
start_node n2
start_node n3
wait_for 200 0.05 "n2 to serve node ls again" node_count n2 4
expect_eq "$(dk n2 info -f '{{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}')" "$n2_id true" "n2 after restart"
expect_eq "$(dk n3 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}')" \
    "active $n3_id false" "n3 after restart"

log "a shutdown in the middle of a join is clean"
start_node n6
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
conns = []
end = time.time() + 30
while time.time() < end:
    s.settimeout(0.5)
    try: conns.append(s.accept()[0])
    except socket.timeout: pass
' $PHOLE &
hole=$!
wait_for 200 0.05 "the black hole to listen" \
    eval '[ -n "$(ss -Htln "sport = :$PHOLE")" ]'
join n6 $P6 --token "$manager" 127.0.0.1:$PHOLE >"$TMP/n6-join.out" 2>&1 &
joiner=$!
sleep 1
expect_eq "$(dk n6 info -f '{{.Swarm.LocalNodeState}}')" pending "n6 while its join hangs"
stop_node n6 || fail "n6 did not stop cleanly during a join"
wait "$joiner" && fail "the hung join reported success: $(cat "$TMP/n6-join.out")"
kill "$hole" 2>/dev/null
wait "$hole" 2>/dev/null
check_node_log n6

for n in n1 n2 n3 n4 n5; do check_node_log "$n"; done
log "passed"
