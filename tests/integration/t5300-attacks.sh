#!/bin/bash
# Issue 6's attack list against real daemons over real TLS: each attack is
# refused (the client's error) AND the manager logs it (a warning naming
# the peer's address and the reason). n1 is the leader, n5 a second
# manager, n2 their worker, n3 the manager of another swarm, n4 a node
# that tries to join.
#  1. a worker certificate calling manager RPCs (control.forward,
#     raft.leave, the Raft ALPN)
#  2. another swarm's real manager certificate
#  3. a self-signed certificate with a forged manager subject
#  4. a removed node's certificate
#  5. join tokens: a token rotated away (worker and manager), and a
#     "replayed" token: Docker's tokens are reusable, so replaying a valid
#     token is no attack; what an eavesdropper can replay is a token it
#     captured before a rotation (5a) or one of another swarm with this
#     swarm's CA digest spliced in (the client's fingerprint check passes,
#     the manager must refuse the secret); through the follower n5 too,
#     which logs the joining node's address (the leader sees n5's)
#  6. a plain-TCP client (an RPC frame without TLS, an HTTP request) and a
#     flood of them (the warnings are rate-limited, the daemon keeps
#     serving), and a TLS client without a certificate on manager RPCs
#  7. a worker asking for what is not its own: the assignments of another
#     node, another node's secret through control.forward or an unknown
#     method, another node's task status, a heartbeat or renewal relayed
#     for another node; its own stream never carries another node's secret
# (t3500 covers more forgeries; this test is the one checklist with logs.)
. "$(dirname "$0")/lib.sh"

# Ports 26500-26799 (t5100 uses 26000-26479).
P=$((26500 + RANDOM % 60 * 5))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }
P1=$P

# The client: one connection, at most one request, prints one JSON line
# with "port" (its own source port, which the manager's log names) and:
#   {"outcome": "response", "status", "message", "body"}  an RPC answer
#   {"outcome": "stream", "body"}  the first message of a server stream
#   {"outcome": "end", "status", "message"}  a stream ended (refused)
#   {"outcome": "refused", "stage": "handshake"|"read", "error"}
#   {"outcome": "closed"}  the server closed without answering
#   {"outcome": "open"}    no answer and still open after the timeout
# --plain sends --send (or a plaintext RPC frame) on a bare TCP socket.
cat >"$TMP/client.py" <<'EOF'
import argparse, json, socket, ssl, struct, sys

REQUEST, RESPONSE, STREAM, END = 1, 2, 3, 4
ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--root")
ap.add_argument("--alpn", default="shoal-rpc")
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--method")
ap.add_argument("--body", default="null")
ap.add_argument("--stream", action="store_true")
ap.add_argument("--plain", action="store_true")
ap.add_argument("--send")
ap.add_argument("--repeat", type=int, default=1)  # calls on the connection
ap.add_argument("--timeout", type=float, default=5)
a = ap.parse_args()
port = 0

def out(**kw):
    kw["port"] = port
    print(json.dumps(kw, sort_keys=True))
    sys.exit(0)

def frame(call_id=7):
    payload = json.dumps({"method": a.method,
                          "body": json.loads(a.body)}).encode()
    return struct.pack(">IBBHI", len(payload), REQUEST,
                       1 if a.stream else 0, 0, call_id) + payload

raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
port = raw.getsockname()[1]
if a.plain:
    raw.sendall(a.send.encode() if a.send is not None else frame())
    try:
        data = raw.recv(65536)
    except socket.timeout:
        out(outcome="open")
    except OSError as e:
        out(outcome="refused", stage="read", error=str(e))
    # whatever came back must not be an RPC answer: TLS alerts only
    out(outcome="closed" if not data else "data", data=data.hex())
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(a.root)
ctx.set_alpn_protocols([a.alpn])
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
try:
    s = ctx.wrap_socket(raw, server_hostname="swarm-manager")
except (ssl.SSLError, OSError) as e:
    out(outcome="refused", stage="handshake", error=str(e))

def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

try:
    for i in range(a.repeat):  # the last answer is printed
        if a.method is not None:
            s.sendall(frame(7 + i))
        hdr = read_exact(12)
        if hdr is None:
            out(outcome="closed")
        length, ftype, flags, zero, call_id = struct.unpack(">IBBHI", hdr)
        payload = read_exact(length)
        if payload is None:
            out(outcome="closed")
except socket.timeout:
    out(outcome="open")
except (ssl.SSLError, OSError) as e:
    out(outcome="refused", stage="read", error=str(e))
p = json.loads(payload)
if ftype == STREAM:
    out(outcome="stream", body=p.get("body"))
out(outcome="end" if ftype == END else "response", status=p.get("status"),
    message=p.get("message"), body=p.get("body"))
EOF

clearkey() { sed '/^[a-z-]*: /d; /^$/d' "$1"; }
# call CERTDIR|- ALPN METHOD|- [BODY [--stream]]: against n1, verifying it
# against n1's root; CERTDIR holds swarm-node.crt and swarm-node.key.
call() {
    local cd=$1 alpn=$2 method=$3 body=${4-null}
    local args=(--port "$P1" --root "$ROOT1" --alpn "$alpn" --body "$body")
    shift 3
    [ $# -gt 0 ] && shift
    if [ "$cd" != - ]; then
        clearkey "$cd/swarm-node.key" >"$TMP/call.key"
        args+=(--cert "$cd/swarm-node.crt" --key "$TMP/call.key")
    fi
    [ "$method" = - ] || args+=(--method "$method")
    python3 "$TMP/client.py" "${args[@]}" "$@" 2>&1
}
field() {
    python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
# refused ANSWER WHAT: a forged or unknown certificate never gets an
# answer: the handshake fails, or the first read fails or finds EOF.
refused() {
    local o
    o=$(field "$1" 'j["outcome"]')
    [ "$o" = refused ] || [ "$o" = closed ] || fail "$2: not refused: $1"
}
# answered ANSWER WANT WHAT: outcome, status and message of an answer.
answered() {
    expect_eq "$(field "$1" '"%s %s %s" % (j["outcome"], j.get("status"), j.get("message"))')" \
        "$2" "$3 ($1)"
}
LOG1=$TMP/n1/daemon.log
# warned MODULE TEXT WHAT: n1 logs TEXT (fixed, may name the client's port)
# as a warning of MODULE, within 5 s.
has_warning() { # LOGFILE MODULE TEXT
    grep -F "level=warning module=$2 msg=\"$3" "$1" >/dev/null
}
warned() {
    wait_for 100 0.05 "n1 to log $3: level=warning module=$1 msg=\"$2" \
        has_warning "$LOG1" "$1" "$2"
}
warned_on() { # NODE MODULE TEXT WHAT
    wait_for 100 0.05 "$1 to log $4: level=warning module=$2 msg=\"$3" \
        has_warning "$TMP/$1/daemon.log" "$2" "$3"
}
FORBIDDEN=-5 # -ERR_FORBIDDEN
NOTFOUND=-2  # -ERR_NOTFOUND

start_node n1
start_node n2
start_node n3
start_node n4
start_node n5
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n2 swarm join --token "$(dk n1 swarm join-token -q worker)" \
    --advertise-addr "$(addr n2)" --listen-addr "$(addr n2)" "$(addr n1)"
run_ok dk n3 swarm init --advertise-addr "$(addr n3)" --listen-addr "$(addr n3)"
run_ok dk n5 swarm join --token "$(dk n1 swarm join-token -q manager)" \
    --advertise-addr "$(addr n5)" --listen-addr "$(addr n5)" "$(addr n1)"
n5_id=$(dk n5 info -f '{{.Swarm.NodeID}}')
n1_id=$(dk n1 info -f '{{.Swarm.NodeID}}')
n2_id=$(dk n2 info -f '{{.Swarm.NodeID}}')
cid=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')
C1=$TMP/n1/root/swarm/certificates
C2=$TMP/n2/root/swarm/certificates
C3=$TMP/n3/root/swarm/certificates
ROOT1=$C1/swarm-root-ca.crt
FORWARD='{"Method":"GET","URL":"/v1.51/nodes","Body":""}'

log "control: n1's own certificate is served"
a=$(call "$C1" shoal-rpc control.forward "$FORWARD")
expect_eq "$(field "$a" '"%s %s %s" % (j["outcome"], j["status"], j["body"]["Status"])')" \
    "response 0 200" "control.forward with a manager certificate: $a"

log "1. a worker certificate calling manager RPCs"
for m in control.forward raft.leave; do
    a=$(call "$C2" shoal-rpc $m "$FORWARD")
    answered "$a" "response $FORBIDDEN permission denied: $m needs a manager certificate" \
        "$m with the worker's certificate"
    warned rpc "rpc $m from 127.0.0.1:$(field "$a" 'j["port"]') (node $n2_id, swarm-worker) refused: permission denied: $m needs a manager certificate" \
        "the worker's $m"
done
a=$(call "$C2" shoal-raft -)
expect_eq "$(field "$a" 'j["outcome"]')" closed "raft with the worker's certificate: $a"
warned cluster "raft connection from 127.0.0.1:$(field "$a" 'j["port"]') refused: peer $n2_id (swarm-worker) is not a manager of this swarm" \
    "the worker's raft connection"

log "2. another swarm's manager certificate"
a=$(call "$C3" shoal-rpc control.forward "$FORWARD")
refused "$a" "control.forward with n3's certificate"
warned tls "connection refused: TLS handshake with 127.0.0.1:$(field "$a" 'j["port"]'): certificate signed by unknown authority" \
    "another swarm's certificate"

log "3. a self-signed certificate with n1's own subject"
F=$TMP/forged
mkdir -p "$F"
openssl ecparam -name prime256v1 -genkey -noout -out "$F/swarm-node.key" 2>/dev/null || fail "key"
openssl req -x509 -new -key "$F/swarm-node.key" -subj "/O=$cid/OU=swarm-manager/CN=$n1_id" \
    -days 2 -out "$F/swarm-node.crt" -addext "subjectAltName=DNS:swarm-manager" \
    -addext "extendedKeyUsage=serverAuth,clientAuth" 2>/dev/null || fail "self-signed"
for alpn in shoal-rpc shoal-raft; do
    m=control.forward
    [ $alpn = shoal-raft ] && m=-
    a=$(call "$F" $alpn $m "$FORWARD")
    refused "$a" "$alpn with a self-signed certificate"
    warned tls "connection refused: TLS handshake with 127.0.0.1:$(field "$a" 'j["port"]'): certificate signed by unknown authority" \
        "the self-signed certificate ($alpn)"
done

log "5. join tokens rotated away, and a secret spliced from another swarm"
old_worker=$(dk n1 swarm join-token -q worker)
old_manager=$(dk n1 swarm join-token -q manager)
other=$(dk n3 swarm join-token -q worker)
run_ok dk n1 swarm join-token --rotate worker
run_ok dk n1 swarm join-token --rotate manager
new_worker=$(dk n1 swarm join-token -q worker)
[ "$new_worker" != "$old_worker" ] || fail "the worker token did not change"
[ "${new_worker%-*}" = "${old_worker%-*}" ] || fail "the CA digest changed with the token"
# A token of another swarm fails on the client (the CA digest): it never
# reaches n1's ca.join. With n1's digest and n3's secret it does.
expect_fail dk n4 swarm join --token "$other" --advertise-addr "$(addr n4)" \
    --listen-addr "$(addr n4)" "$(addr n1)"
expect_contains "$OUT" "remote CA does not match fingerprint" "another swarm's token, as is"
spliced=${old_worker%-*}-${other##*-}
JOINREFUSED="rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
n_join_refusals() { grep -c "level=warning module=rpc msg=\"rpc ca.join from 127.0.0.1:[0-9]* (no certificate) refused: $JOINREFUSED" "$LOG1"; }
n_join_at_least() { [ "$(n_join_refusals)" -ge "$1" ]; }
i=0
for t in "$old_worker" "$old_manager" "$spliced"; do
    expect_fail dk n4 swarm join --token "$t" --advertise-addr "$(addr n4)" \
        --listen-addr "$(addr n4)" "$(addr n1)"
    expect_eq "$OUT" "Error response from daemon: $JOINREFUSED" "join with token $i"
    i=$((i + 1))
    wait_for 100 0.05 "n1 to log refused join $i" n_join_at_least $i
done
# Through the follower n5: it relays ca.join to n1 and logs the joiner.
expect_fail dk n4 swarm join --token "$old_worker" --advertise-addr "$(addr n4)" \
    --listen-addr "$(addr n4)" "$(addr n5)"
expect_eq "$OUT" "Error response from daemon: $JOINREFUSED" "join with an old token through n5"
warned_on n5 rpc "rpc ca.join from 127.0.0.1:" "the refused join it relayed"
n5_line=$(grep -F 'level=warning module=rpc msg="rpc ca.join from 127.0.0.1:' "$TMP/n5/daemon.log")
expect_contains "$n5_line" "(no certificate) refused: $JOINREFUSED" "n5's warning"
n1_relayed() { grep -q "level=warning module=rpc msg=\"rpc ca.join from 127.0.0.1:[0-9]* (node $n5_id, swarm-manager) refused: $JOINREFUSED" "$LOG1"; }
wait_for 100 0.05 "n1 to log the join relayed by n5" n1_relayed
expect_eq "$(dk n4 info -f '{{.Swarm.LocalNodeState}}')" inactive "n4 is in no swarm"
run_ok dk n4 swarm join --token "$new_worker" --advertise-addr "$(addr n4)" \
    --listen-addr "$(addr n4)" "$(addr n1)"
expect_eq "$OUT" "This node joined a swarm as a worker." "the new token works"
n4_id=$(dk n4 info -f '{{.Swarm.NodeID}}')

log "4. a removed node's certificate"
# Keep n4's certificate, stop n4 (so that only this test speaks with it),
# and remove the node.
mkdir -p "$TMP/n4cert"
cp "$TMP/n4/root/swarm/certificates/swarm-node.crt" "$TMP/n4/root/swarm/certificates/swarm-node.key" "$TMP/n4cert/"
stop_node n4
run_ok dk n1 node rm --force "$n4_id"
for alpn in shoal-rpc shoal-raft; do
    m=dispatcher.heartbeat
    [ $alpn = shoal-raft ] && m=-
    a=$(call "$TMP/n4cert" $alpn $m '{"SessionID":"x"}')
    refused "$a" "$alpn with the removed node's certificate"
    warned cluster "connection from 127.0.0.1:$(field "$a" 'j["port"]') refused: the certificate of removed node $n4_id" \
        "the removed node's $alpn connection"
done

log "6. plain TCP and TLS without a certificate"
n_tls_warnings() { grep -c 'level=warning module=tls' "$LOG1"; }
plain() { python3 "$TMP/client.py" --port "$P1" --plain "$@" 2>&1; }
# A plaintext RPC frame, then an HTTP request: closed, never answered.
a=$(plain --method control.forward --body "$FORWARD")
expect_eq "$(field "$a" 'j["outcome"]')" closed "a plaintext RPC frame: $a"
warned tls "connection refused: TLS handshake with 127.0.0.1:$(field "$a" 'j["port"]'): " \
    "the plaintext RPC frame"
# The rate limit: the next warning comes a second later at the earliest
# (at most secs + 1 in secs, a little slack for the loop's clock), counting
# the connections refused in between. Unlimited, it would be 40.
before=$(n_tls_warnings)
python3 - "$TMP/client.py" "$P1" >"$TMP/flood.out" 2>&1 <<'EOF' || fail "flood: $(cat "$TMP/flood.out")"
import json, subprocess, sys, time
t0 = time.monotonic()
for i in range(40):
    a = json.loads(subprocess.check_output(
        ["python3", sys.argv[1], "--port", sys.argv[2], "--plain",
         "--send", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"]))
    assert a["outcome"] == "closed", a
print(time.monotonic() - t0)
EOF
secs=$(cat "$TMP/flood.out")
n=$(($(n_tls_warnings) - before))
python3 -c 'import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if 1 <= n <= s + 2 else 1)' \
    "$n" "$secs" || fail "$n warnings for 40 plaintext connections in $secs s"
again() {
    plain --send "GET / HTTP/1.1" >/dev/null
    grep -q 'level=warning module=tls msg="connection refused: TLS handshake with 127.0.0.1:[0-9]*: .* (and [0-9]* more such connections since the last warning)"' "$LOG1"
}
wait_for 30 0.1 "a warning counting the quiet refusals" again
a=$(call "$C1" shoal-rpc control.forward "$FORWARD")
answered "$a" "response 0 " "n1 serves after the flood"
# TLS without a client certificate: the RPCs that need one are refused.
for m in control.forward raft.leave dispatcher.heartbeat dispatcher.assignments; do
    a=$(call - shoal-rpc $m '{"SessionID":"x"}')
    case $m in
    dispatcher.*) want="permission denied: $m needs a worker or manager certificate" ;;
    *) want="permission denied: $m needs a manager certificate" ;;
    esac
    answered "$a" "response $FORBIDDEN $want" "$m without a certificate"
    warned rpc "rpc $m from 127.0.0.1:$(field "$a" 'j["port"]') (no certificate) refused: $want" \
        "$m without a certificate"
done
a=$(call - shoal-raft -)
expect_eq "$(field "$a" 'j["outcome"]')" closed "raft without a certificate: $a"
warned cluster "raft connection from 127.0.0.1:$(field "$a" 'j["port"]') refused: peer unknown (no certificate) is not a manager of this swarm" \
    "raft without a certificate"

log "7. a worker asking for another node's tasks and secrets"
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox
run_ok dk n2 import "$TMP/busybox.tar" busybox
VAL1="mgr-$RANDOM$RANDOM-secret"
VAL2="wrk-$RANDOM$RANDOM-secret"
s1=$(printf '%s' "$VAL1" | dk n1 secret create s_manager -) || fail "secret s_manager"
s2=$(printf '%s' "$VAL2" | dk n1 secret create s_worker -) || fail "secret s_worker"
task_on() { # NODE_ID SECRET_ID SECRET_NAME: a task with the secret; prints its ID
    local out
    out=$(api n1 POST /_shoal/debug/tasks "{\"Name\":\"sec\",\"NodeID\":\"$1\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Args\":[\"sleep\",\"300\"],\"StopGracePeriod\":1000000000,\"Secrets\":[{\"File\":{\"Name\":\"$3\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":256},\"SecretID\":\"$2\",\"SecretName\":\"$3\"}]}}}")
    [ "${out%% *}" = 201 ] || fail "task on $1: $out"
    printf '%s' "${out#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])'
}
t1=$(task_on "$n1_id" "$s1" s_manager)
t2=$(task_on "$n2_id" "$s2" s_worker)
task_state() {
    curl -s --unix-socket "$(node_sock n1)" "http://shoal/tasks/$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["Status"]["State"])'
}
running() { [ "$(task_state "$1")" = running ]; }
wait_for 300 0.1 "task $t1 running on n1" running "$t1"
wait_for 300 0.1 "task $t2 running on n2" running "$t2"
# The worker's own stream: its task and secret, nothing of n1's.
a=$(call "$C2" shoal-rpc dispatcher.assignments null --stream)
expect_eq "$(field "$a" 'j["outcome"], j["body"]["Type"]')" "('stream', 'COMPLETE')" "n2's stream: $a"
expect_eq "$(field "$a" 'sorted(c[k]["ID"] for c in j["body"]["Changes"] for k in c if k != "Action")')" \
    "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$s2" "$t2")" "n2's stream carries its task and secret only"
expect_not_contains "$a" "$VAL1" "n1's secret in n2's stream"
expect_not_contains "$a" "$(printf '%s' "$VAL1" | base64)" "n1's secret (base64) in n2's stream"
# Naming n1 in the request: refused.
a=$(call "$C2" shoal-rpc dispatcher.assignments "{\"NodeID\":\"$n1_id\"}" --stream)
want="rpc error: code = PermissionDenied desc = node $n2_id cannot read the assignments of node $n1_id"
answered "$a" "end $FORBIDDEN $want" "n2 asking for n1's assignments"
warned rpc "rpc dispatcher.assignments from 127.0.0.1:$(field "$a" 'j["port"]') (node $n2_id, swarm-worker) refused: $want" \
    "n2 asking for n1's assignments"
# n1's secret through the manager API, or a method that does not exist.
a=$(call "$C2" shoal-rpc control.forward "{\"Method\":\"GET\",\"URL\":\"/v1.51/secrets/$s1\",\"Body\":\"\"}")
answered "$a" "response $FORBIDDEN permission denied: control.forward needs a manager certificate" \
    "n2 reading n1's secret through control.forward"
warned rpc "rpc control.forward from 127.0.0.1:$(field "$a" 'j["port"]') (node $n2_id, swarm-worker) refused" \
    "n2 reading n1's secret"
a=$(call "$C2" shoal-rpc dispatcher.secret "{\"SecretID\":\"$s1\"}")
answered "$a" "response $NOTFOUND unknown rpc method dispatcher.secret" "a made-up secret method"
expect_not_contains "$a" "$VAL1" "the made-up method's answer"
warned rpc "rpc dispatcher.secret from 127.0.0.1:$(field "$a" 'j["port"]') (node $n2_id, swarm-worker) refused: unknown rpc method dispatcher.secret" \
    "a made-up secret method"
# Writing n1's task, relaying a heartbeat or a renewal as n1.
a=$(call "$C2" shoal-rpc dispatcher.update_task_status "{\"Updates\":[{\"TaskID\":\"$t1\",\"Status\":{\"State\":\"failed\",\"Message\":\"x\"}}]}")
want="rpc error: code = PermissionDenied desc = cannot update a task not assigned this node"
answered "$a" "response $FORBIDDEN $want" "n2 writing n1's task"
warned rpc "rpc dispatcher.update_task_status from 127.0.0.1:$(field "$a" 'j["port"]') (node $n2_id, swarm-worker) refused: $want" \
    "n2 writing n1's task"
expect_eq "$(task_state "$t1")" running "n1's task"
for m in dispatcher.heartbeat ca.renew; do
    a=$(call "$C2" shoal-rpc $m "{\"Forwarded\":true,\"NodeID\":\"$n1_id\",\"SessionID\":\"x\",\"CSR\":\"x\"}")
    answered "$a" "response $FORBIDDEN permission denied: only managers relay heartbeats" "n2 relaying $m as n1"
    warned rpc "rpc $m from 127.0.0.1:$(field "$a" 'j["port"]') (node $n2_id, swarm-worker) refused: permission denied: only managers relay heartbeats" \
        "n2 relaying $m as n1"
done
# One warning per connection, however many refused calls it makes.
a=$(call "$C2" shoal-rpc raft.leave null --repeat 5)
answered "$a" "response $FORBIDDEN permission denied: raft.leave needs a manager certificate" \
    "the fifth raft.leave on one connection"
p=$(field "$a" 'j["port"]')
warned rpc "rpc raft.leave from 127.0.0.1:$p (node $n2_id, swarm-worker) refused" "five calls"
expect_eq "$(grep -c "rpc [a-z.]* from 127.0.0.1:$p " "$LOG1")" 1 \
    "warnings for five refused calls on one connection"

log "the manager still serves, nothing changed"
expect_eq "$(dk n1 node ls -q | sort)" "$(printf '%s\n' "$n1_id" "$n2_id" "$n5_id" | sort)" "nodes"
expect_eq "$(dk n1 node inspect "$n2_id" -f '{{.Spec.Role}}')" worker "n2 is still a worker"
expect_eq "$(dk n1 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" "active true" "n1 info"
for n in n1 n2 n3 n4 n5; do check_node_log "$n"; done
log "passed"
