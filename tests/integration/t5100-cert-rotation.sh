#!/bin/bash
# Certificate renewal and root CA rotation (SWARM-FACTS 3.4, 3.6).
# 1. A test build may issue certificates shorter than Docker's 1h minimum
#    (SHOAL_TEST_CERT_EXPIRY_MIN, SHOAL_TESTING only): with a 10 s expiry
#    a manager and a worker renew by themselves (new serial, same CN and
#    OU, chaining to the root) and keep working.
# 2. `docker swarm ca --rotate` (the real CLI, waiting for convergence) on
#    3 managers + 2 workers: every node ends with a certificate of the new
#    root and trusts only it; a certificate of the old root is refused at
#    the cluster port; old join tokens are refused with Docker's text and
#    new ones work; node ls works from every manager throughout; a
#    replicated service keeps its tasks running throughout (the same task
#    IDs, all running, before, after and sampled during: none failed nor
#    was replaced); a removed node's certificate is refused.
. "$(dirname "$0")/lib.sh"

P=$((26000 + RANDOM % 60 * 8))
NODES_ALL=(a1 a2 m1 m2 m3 w1 w2)
port_of() { local i; for i in "${!NODES_ALL[@]}"; do [ "${NODES_ALL[$i]}" = "$1" ] && echo $((P + i)); done; }
addr() { echo "127.0.0.1:$(port_of "$1")"; }
certs() { echo "$(node_dir "$1")/root/swarm/certificates"; }
serial() { openssl x509 -noout -serial -in "$(certs "$1")/swarm-node.crt"; }
subject() { openssl x509 -noout -subject -nameopt RFC2253 -in "$(certs "$1")/swarm-node.crt"; }
serial_changed() { [ "$(serial "$1")" != "$2" ]; }
chains_to() { # ROOT NODE: the node's certificate verifies against ROOT only
    openssl verify -CAfile "$1" -untrusted "$(certs "$2")/swarm-node.crt" \
        "$(certs "$2")/swarm-node.crt" >/dev/null 2>&1
}
managers_ok() { [ "$(dk "$1" node ls --format '{{.ManagerStatus}}' 2>/dev/null | grep -c -E '^(Leader|Reachable)$')" = "$2" ]; }

# The cluster port client of t3500 (TLS 1.3, ALPN, RPC frames).
sed -n '/^cat >"$TMP\/client.py" <<.EOF.$/,/^EOF$/p' "$(dirname "$0")/t3500-cluster-port-auth.sh" | sed '1d;$d' >"$TMP/client.py"
[ -s "$TMP/client.py" ] || fail "no client from t3500"
clearkey() { sed '/^[a-z-]*: /d; /^$/d' "$1"; }
call() { # PORT ROOT CERT KEY METHOD
    clearkey "$4" >"$TMP/call.key"
    python3 "$TMP/client.py" --port "$1" --root "$2" --cert "$3" --key "$TMP/call.key" \
        --method "$5" --body '{"SessionID": "x"}' 2>&1
}
outcome() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])["outcome"])' "$1"; }

log "external CAs are refused"
start_node a1
expect_fail dk a1 swarm init --advertise-addr "$(addr a1)" --listen-addr "$(addr a1)" \
    --external-ca "protocol=cfssl,url=https://ca.example"
expect_contains "$OUT" "external CAs are not supported" "init --external-ca refused"
stop_node a1

log "part 1: short certificates renew by themselves"
export SHOAL_TEST_CERT_EXPIRY_MIN=1
start_node a1
start_node a2
unset SHOAL_TEST_CERT_EXPIRY_MIN
run_ok dk a1 swarm init --advertise-addr "$(addr a1)" --listen-addr "$(addr a1)" \
    --dispatcher-heartbeat 1s --cert-expiry 10s
expect_eq "$(dk a1 info -f '{{.Swarm.Cluster.Spec.CAConfig.NodeCertExpiry}}')" 10s "expiry stored"
run_ok dk a2 swarm join --token "$(dk a1 swarm join-token -q worker)" \
    --advertise-addr "$(addr a2)" --listen-addr "$(addr a2)" "$(addr a1)"
for n in a1 a2; do
    s0=$(serial $n)
    sub0=$(subject $n)
    wait_for 300 0.1 "$n to renew its certificate" serial_changed $n "$s0"
    expect_eq "$(subject $n)" "$sub0" "$n: same subject (O, OU, CN) after renewal"
    chains_to "$(certs a1)/swarm-root-ca.crt" $n || fail "$n: renewed certificate does not chain to the root"
    s1=$(serial $n)
    wait_for 300 0.1 "$n to renew again" serial_changed $n "$s1"
done
# The renewed certificates keep working for new connections.
a2id=$(dk a2 info -f '{{.Swarm.NodeID}}')
ready_a2() { [ "$(dk a1 node inspect -f '{{.Status.State}}' "$a2id")" = ready ]; }
wait_for 100 0.1 "a2 ready" ready_a2
run_ok dk a1 node ls
expect_eq "$(grep -c 'renewed its certificate' "$(node_dir a1)/daemon.log" | awk '$1 >= 2 {print "yes"}')" yes "renewals logged"
stop_node a1
stop_node a2

log "part 2: root CA rotation on 3 managers + 2 workers"
for n in m1 m2 m3 w1 w2; do start_node "$n"; done
busybox_tar "$TMP/busybox.tar"
for n in m1 m2 m3 w1 w2; do run_ok dk $n import "$TMP/busybox.tar" busybox; done
run_ok dk m1 swarm init --advertise-addr "$(addr m1)" --listen-addr "$(addr m1)" --dispatcher-heartbeat 1s
mtoken=$(dk m1 swarm join-token -q manager)
wtoken=$(dk m1 swarm join-token -q worker)
for n in m2 m3; do
    run_ok dk $n swarm join --token "$mtoken" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr m1)"
done
wait_for 400 0.05 "three managers" managers_ok m1 3
for n in w1 w2; do
    run_ok dk $n swarm join --token "$wtoken" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr m1)"
done
# tasks M: "ID STATE" of every task of sv (history too), from manager M.
tasks() {
    dk "$1" service ps --no-trunc --format '{{.ID}} {{.CurrentState}}' sv |
        awk '{print $1, $2}' | sort
}
all_running() { [ "$(tasks m1 | grep -c ' Running$')" = 5 ]; }
run_ok dk m1 service create --detach --name sv --replicas 5 \
    --stop-grace-period 1s busybox sleep 600
wait_for 300 0.1 "5 tasks of sv running" all_running
tasks m1 >"$TMP/tasks.before"
expect_eq "$(wc -l <"$TMP/tasks.before")" 5 "5 tasks of sv, no history"

old_root=$(dk m1 swarm ca)
expect_eq "$old_root" "$(sed -e '$!b' -e '/^$/d' "$(certs m1)/swarm-root-ca.crt")" "swarm ca prints the root PEM"
cp "$(certs m1)/swarm-root-ca.crt" "$TMP/old-root.pem"
cp "$(certs w1)/swarm-node.crt" "$TMP/old-w1.crt"
cp "$(certs w1)/swarm-node.key" "$TMP/old-w1.key"

# node ls from every manager, all through the rotation, and sv's tasks
# unchanged.
: >"$TMP/nodels.fail"
(
    while [ ! -f "$TMP/nodels.stop" ]; do
        for n in m1 m2 m3; do
            dk $n node ls >/dev/null 2>>"$TMP/nodels.fail" || echo "node ls on $n failed" >>"$TMP/nodels.fail"
            tasks $n >"$TMP/tasks.during" 2>>"$TMP/nodels.fail"
            cmp -s "$TMP/tasks.during" "$TMP/tasks.before" ||
                echo "sv's tasks on $n: $(cat "$TMP/tasks.during")" >>"$TMP/nodels.fail"
            echo >>"$TMP/tasks.samples"
        done
        sleep 0.2
    done
) &
bg=$!

log "docker swarm ca --rotate"
run_ok timeout 120 "$DOCKER" -H "unix://$(node_sock m1)" swarm ca --rotate
expect_contains "$OUT" "rotated TLS certificates" "TLS progress shown"
expect_contains "$OUT" "rotated CA certificates" "CA progress shown"
new_root=$(dk m1 swarm ca)
[ "$new_root" != "$old_root" ] || fail "the root did not change"
expect_contains "$OUT" "$(head -n 2 <<<"$new_root" | tail -n 1)" "rotate prints the new root"
expect_eq "$(dk m1 info -f '{{.Swarm.Cluster.RootRotationInProgress}}')" false "rotation finished"
touch "$TMP/nodels.stop"
wait "$bg"
[ ! -s "$TMP/nodels.fail" ] || fail "node ls or sv's tasks failed during the rotation: $(head -5 "$TMP/nodels.fail")"
[ "$(wc -l <"$TMP/tasks.samples")" -ge 3 ] || fail "too few samples of sv's tasks"
log "sv's tasks were sampled $(wc -l <"$TMP/tasks.samples") times during the rotation"

printf '%s\n' "$new_root" >"$TMP/new-root.pem"
root_is_new() { cmp -s <(sed -e '$!b' -e '/^$/d' "$(certs "$1")/swarm-root-ca.crt") "$TMP/new-root.pem"; }
for n in m1 m2 m3 w1 w2; do
    wait_for 200 0.1 "$n to trust the new root" root_is_new $n
    chains_to "$TMP/new-root.pem" $n || fail "$n: certificate does not chain to the new root"
done
expect_eq "$(tasks m1)" "$(cat "$TMP/tasks.before")" "sv's tasks after the rotation"
for n in m1 m2 m3 w1 w2; do
    expect_eq "$(dk $n ps -q --filter label=com.docker.swarm.service.name=sv | wc -l)" 1 "sv's container on $n"
done

log "a certificate of the old root is refused at the cluster port"
r=$(call "$(port_of m1)" "$TMP/new-root.pem" "$TMP/old-w1.crt" "$TMP/old-w1.key" dispatcher.heartbeat)
o=$(outcome "$r")
[ "$o" = refused ] || [ "$o" = closed ] || fail "old certificate not refused: $r"
r=$(call "$(port_of m1)" "$TMP/new-root.pem" "$(certs w1)/swarm-node.crt" "$(certs w1)/swarm-node.key" dispatcher.heartbeat)
expect_eq "$(outcome "$r")" response "the new certificate is served"

log "join tokens: old refused, new work"
[ "$(dk m1 swarm join-token -q worker)" != "$wtoken" ] || fail "worker token unchanged"
w2id=$(dk w2 info -f '{{.Swarm.NodeID}}')
cp "$(certs w2)/swarm-node.crt" "$TMP/w2.crt"
cp "$(certs w2)/swarm-node.key" "$TMP/w2.key"
run_ok dk w2 swarm leave
expect_fail dk w2 swarm join --token "$wtoken" --advertise-addr "$(addr w2)" --listen-addr "$(addr w2)" "$(addr m1)"
expect_contains "$OUT" "remote CA does not match fingerprint. Expected: " "old token refused"
run_ok dk w2 swarm join --token "$(dk m1 swarm join-token -q worker)" --advertise-addr "$(addr w2)" --listen-addr "$(addr w2)" "$(addr m1)"
expect_eq "$OUT" "This node joined a swarm as a worker." "new token works"
chains_to "$TMP/new-root.pem" w2 || fail "rejoined w2: certificate does not chain to the new root"

log "a removed node's certificate is refused"
down_w2() { [ "$(dk m1 node inspect -f '{{.Status.State}}' "$w2id")" = down ]; }
wait_for 200 0.1 "old w2 down" down_w2
run_ok dk m1 node rm "$w2id"
r=$(call "$(port_of m1)" "$TMP/new-root.pem" "$TMP/w2.crt" "$TMP/w2.key" dispatcher.heartbeat)
o=$(outcome "$r")
[ "$o" = refused ] || [ "$o" = closed ] || fail "removed node's certificate not refused: $r"

for n in m1 m2 m3; do run_ok dk $n node ls; done
for n in "${NODES_ALL[@]}"; do check_node_log "$n"; done
log "PASS"
