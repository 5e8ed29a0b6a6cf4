#!/bin/bash
# Who may use the cluster port (docs/internals/wire.md): a client of its own
# (python3's ssl: TLS 1.3, ALPN, client certificates, the RPC frame format of
# base/rpc.h) calls a manager with no certificate, a worker's real
# certificate, forged certificates with a manager's subject (self-signed,
# signed by another CA, signed by a worker's key) and another swarm's real
# manager certificate. Manager-only methods and the Raft ALPN are refused
# with the permission texts, forged certificates fail the handshake, a real
# manager certificate is served, and the daemon keeps serving throughout.
# (Bad tokens and a CA fingerprint mismatch are t3000's.)
. "$(dirname "$0")/lib.sh"

# Ports apart from t3000 (249xx), t3100 (241xx-246xx), t3300, t3400.
P=$((25000 + RANDOM % 60 * 4))
P1=$P P2=$((P + 1)) P3=$((P + 2))

# The client: one connection, at most one request; prints one JSON line:
#   {"outcome": "response", "status", "message", "body"}  an RPC answer
#   {"outcome": "refused", "stage": "handshake"|"read", "error"}
#   {"outcome": "closed"}   the server closed without answering
#   {"outcome": "open"}     no answer and still open after the timeout
cat >"$TMP/client.py" <<'EOF'
import argparse, json, socket, ssl, struct, sys

REQUEST, RESPONSE = 1, 2
ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--root", required=True)       # verifies the server
ap.add_argument("--alpn", default="shoal-rpc")
ap.add_argument("--cert")                      # our chain (PEM, leaf first)
ap.add_argument("--key")
ap.add_argument("--method")                    # none: just wait for EOF
ap.add_argument("--body", default="null")
ap.add_argument("--timeout", type=float, default=5)
a = ap.parse_args()

def out(**kw):
    print(json.dumps(kw, sort_keys=True))
    sys.exit(0)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.maximum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(a.root)
ctx.check_hostname = True
ctx.set_alpn_protocols([a.alpn])
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
try:
    s = ctx.wrap_socket(raw, server_hostname="swarm-manager")
except (ssl.SSLError, OSError) as e:
    out(outcome="refused", stage="handshake", error=str(e))
if s.selected_alpn_protocol() != a.alpn:
    out(outcome="refused", stage="handshake",
        error="ALPN %r" % s.selected_alpn_protocol())

def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

try:
    if a.method is not None:
        payload = json.dumps({"method": a.method,
                              "body": json.loads(a.body)}).encode()
        s.sendall(struct.pack(">IBBHI", len(payload), REQUEST, 0, 0, 7) +
                  payload)
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
if ftype != RESPONSE or flags != 0 or zero != 0 or call_id != 7:
    out(outcome="bad-frame", header=[ftype, flags, zero, call_id])
p = json.loads(payload)
out(outcome="response", status=p.get("status"), message=p.get("message"),
    body=p.get("body"))
EOF

# call PORT ROOT CERT KEY ALPN METHOD [BODY]: CERT/KEY/METHOD may be "-".
# clearkey FILE: a node key without its PEM headers (kek-version,
# raft-dek), which Python's ssl (OpenSSL's PEM reader) refuses.
clearkey() { sed '/^[a-z-]*: /d; /^$/d' "$1"; }
call() {
    local port=$1 root=$2 cert=$3 key=$4 alpn=$5 method=$6 body=${7-null}
    local args=(--port "$port" --root "$root" --alpn "$alpn" --body "$body")
    if [ "$cert" != - ]; then
        clearkey "$key" >"$TMP/call.key"
        args+=(--cert "$cert" --key "$TMP/call.key")
    fi
    [ "$method" = - ] || args+=(--method "$method")
    python3 "$TMP/client.py" "${args[@]}" 2>&1
}
# field JSON EXPR: a value out of the client's answer (python expression on j).
field() {
    python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

FORBIDDEN=-5 # -ERR_FORBIDDEN, base/err.h's table order
expect_forbidden() { # ANSWER METHOD WHAT
    expect_eq "$(field "$1" 'j["outcome"], j.get("status"), j.get("message")')" \
        "('response', $FORBIDDEN, 'permission denied: $2 needs a manager certificate')" "$3"
}
# A forged certificate: the handshake fails, or (TLS 1.3: the server judges
# the client's certificate after the client's handshake is done) the first
# read fails or finds the connection closed. Never an answer.
expect_refused() { # ANSWER WHAT
    local o
    o=$(field "$1" 'j["outcome"]')
    [ "$o" = refused ] || [ "$o" = closed ] || fail "$2: not refused: $1"
}

# n1 logs at debug so that the refused handshakes show in its log.
start_node n1
start_node n2
start_node n3
run_ok dk n1 swarm init --listen-addr 127.0.0.1:$P1 --advertise-addr 127.0.0.1:$P1
run_ok dk n2 swarm join --listen-addr 127.0.0.1:$P2 --advertise-addr 127.0.0.1:$P2 \
    --token "$(dk n1 swarm join-token -q worker)" 127.0.0.1:$P1
expect_eq "$OUT" "This node joined a swarm as a worker." "worker join"
run_ok dk n3 swarm init --listen-addr 127.0.0.1:$P3 --advertise-addr 127.0.0.1:$P3

C1=$(node_dir n1)/root/swarm/certificates
C2=$(node_dir n2)/root/swarm/certificates
C3=$(node_dir n3)/root/swarm/certificates
ROOT1=$C1/swarm-root-ca.crt
cid=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')
n1_id=$(dk n1 info -f '{{.Swarm.NodeID}}')
n2_id=$(dk n2 info -f '{{.Swarm.NodeID}}')
if [ ${#cid} -ne 25 ] || [ ${#n1_id} -ne 25 ] || [ ${#n2_id} -ne 25 ]; then
    fail "ids: cluster [$cid] n1 [$n1_id] n2 [$n2_id]"
fi
# The real certificates carry the subject the forgeries copy.
subj=$(openssl x509 -in "$C1/swarm-node.crt" -noout -subject -nameopt multiline)
expect_contains "$subj" "organizationName          = $cid" "manager certificate O"
expect_contains "$subj" "organizationalUnitName    = swarm-manager" "manager certificate OU"
expect_contains "$subj" "commonName                = $n1_id" "manager certificate CN"
subj=$(openssl x509 -in "$C2/swarm-node.crt" -noout -subject -nameopt multiline)
expect_contains "$subj" "organizationalUnitName    = swarm-worker" "worker certificate OU"
expect_contains "$subj" "commonName                = $n2_id" "worker certificate CN"
cmp -s "$ROOT1" "$C2/swarm-root-ca.crt" || fail "the worker's root is not n1's"
cmp -s "$ROOT1" "$C3/swarm-root-ca.crt" && fail "the second swarm shares n1's root"

FORWARD='{"Method":"GET","URL":"/v1.51/nodes","Body":""}'

log "a real manager certificate: control.forward is served (the client is right)"
a=$(call $P1 "$ROOT1" "$C1/swarm-node.crt" "$C1/swarm-node.key" shoal-rpc control.forward "$FORWARD")
expect_eq "$(field "$a" 'j["outcome"], j["status"], j["body"]["Status"]')" "('response', 0, 200)" \
    "control.forward with a manager certificate: $a"
expect_eq "$(field "$a" 'sorted(n["ID"] for n in json.loads(j["body"]["Body"]))')" \
    "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$n1_id" "$n2_id")" "nodes through control.forward"

log "no client certificate: ca.root answers, manager methods are refused"
a=$(call $P1 "$ROOT1" - - shoal-rpc ca.root)
expect_eq "$(field "$a" 'j["outcome"], j["status"]')" "('response', 0)" "ca.root without a certificate: $a"
python3 -c 'import json, sys; sys.stdout.write(json.loads(sys.argv[1])["body"]["CACert"])' "$a" >"$TMP/ca-root.pem"
cmp -s "$TMP/ca-root.pem" "$ROOT1" || fail "ca.root is not the root on disk: $a"
for m in control.forward raft.leave; do
    a=$(call $P1 "$ROOT1" - - shoal-rpc $m "$FORWARD")
    expect_forbidden "$a" $m "$m without a certificate"
done
a=$(call $P1 "$ROOT1" - - shoal-raft -)
expect_eq "$(field "$a" 'j["outcome"]')" closed "raft without a certificate: $a"
wait_for 100 0.05 "n1 to log the refused raft connection" grep -q \
    "raft connection from 127.0.0.1:[0-9]* refused: peer unknown (no certificate) is not a manager of this swarm" \
    "$(node_dir n1)/daemon.log"

log "a worker's real certificate: manager methods and raft are refused"
a=$(call $P1 "$ROOT1" "$C2/swarm-node.crt" "$C2/swarm-node.key" shoal-rpc ca.root)
expect_eq "$(field "$a" 'j["outcome"], j["status"]')" "('response', 0)" "ca.root with a worker certificate: $a"
for m in control.forward raft.leave; do
    a=$(call $P1 "$ROOT1" "$C2/swarm-node.crt" "$C2/swarm-node.key" shoal-rpc $m "$FORWARD")
    expect_forbidden "$a" $m "$m with a worker certificate"
done
a=$(call $P1 "$ROOT1" "$C2/swarm-node.crt" "$C2/swarm-node.key" shoal-raft -)
expect_eq "$(field "$a" 'j["outcome"]')" closed "raft with a worker certificate: $a"
wait_for 100 0.05 "n1 to log the refused worker raft connection" grep -q \
    "raft connection from 127.0.0.1:[0-9]* refused: peer $n2_id (swarm-worker) is not a manager of this swarm" \
    "$(node_dir n1)/daemon.log"
expect_eq "$(dk n1 node inspect "$n2_id" -f '{{.Spec.Role}} {{.ManagerStatus}}')" "worker <nil>" \
    "the worker is still a worker"

log "forged certificates with a manager's subject are refused"
F=$TMP/forged
mkdir -p "$F"
SUBJ="/O=$cid/OU=swarm-manager/CN=$n1_id"
ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null || fail "ec key $1"; }
printf 'subjectAltName=DNS:swarm-manager,DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$n1_id" >"$F/ext.cnf"
# 1. self-signed
ec "$F/self.key"
openssl req -x509 -new -key "$F/self.key" -subj "$SUBJ" -days 2 -out "$F/self.crt" \
    -addext "subjectAltName=DNS:swarm-manager" 2>/dev/null || fail "self-signed certificate"
# 2. signed by another root of our own (the chain sent includes that root)
ec "$F/ca.key"
openssl req -x509 -new -key "$F/ca.key" -subj "/CN=swarm-ca" -days 2 -out "$F/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || fail "other CA"
ec "$F/other.key"
openssl req -new -key "$F/other.key" -subj "$SUBJ" -out "$F/other.csr" 2>/dev/null || fail "csr"
openssl x509 -req -in "$F/other.csr" -CA "$F/ca.crt" -CAkey "$F/ca.key" -CAcreateserial \
    -days 2 -extfile "$F/ext.cnf" -out "$F/other.crt" 2>/dev/null || fail "certificate by another CA"
cat "$F/other.crt" "$F/ca.crt" >"$F/other-chain.crt"
# 3. signed by the worker's real key, the worker's certificate as the issuer:
# a worker must not be able to mint itself a manager certificate. (Copies:
# -CAcreateserial writes a serial file next to the issuer's certificate.)
cp "$C2/swarm-node.crt" "$F/worker.crt"
clearkey "$C2/swarm-node.key" >"$F/worker.key"
openssl x509 -req -in "$F/other.csr" -CA "$F/worker.crt" -CAkey "$F/worker.key" \
    -CAcreateserial -days 2 -extfile "$F/ext.cnf" -out "$F/byworker.crt" 2>/dev/null ||
    fail "certificate by the worker"
cat "$F/byworker.crt" "$F/worker.crt" >"$F/byworker-chain.crt"
# 4. another swarm's real manager certificate and key
cp "$C3/swarm-node.crt" "$F/swarm2.crt"
clearkey "$C3/swarm-node.key" >"$F/swarm2.key"

LOG1=$(node_dir n1)/daemon.log
before=$(wc -l <"$LOG1")
since() { tail -n +$((before + 1)) "$LOG1"; }
forged_calls=0
for f in "self.crt self.key" "other-chain.crt other.key" "byworker-chain.crt other.key" \
    "swarm2.crt swarm2.key"; do
    # shellcheck disable=SC2086 # two file names
    set -- $f
    for m in control.forward raft.leave ca.root; do
        a=$(call $P1 "$ROOT1" "$F/$1" "$F/$2" shoal-rpc $m "$FORWARD")
        expect_refused "$a" "$m with $1"
        forged_calls=$((forged_calls + 1))
    done
    a=$(call $P1 "$ROOT1" "$F/$1" "$F/$2" shoal-raft -)
    expect_refused "$a" "raft with $1"
    forged_calls=$((forged_calls + 1))
done
# n1 dropped every one of those handshakes itself, saying why: an unknown
# authority (self-signed, another CA, another swarm), a worker is no CA.
dropped() { [ "$(since | grep -c 'connection refused: TLS handshake with')" -ge "$forged_calls" ]; }
wait_for 100 0.05 "n1 to log $forged_calls refused handshakes" dropped
expect_eq "$(since | grep -c "connection refused: TLS handshake with 127.0.0.1:[0-9]*: certificate signed by unknown authority")" \
    12 "handshakes refused for an unknown authority"
expect_eq "$(since | grep -c "connection refused: TLS handshake with 127.0.0.1:[0-9]*: client certificate refused: invalid CA certificate")" \
    4 "handshakes refused for a certificate signed by a worker"
since | grep "accepted 127.0.0.1:[0-9]* (shoal-r[a-z]*," &&
    fail "n1 accepted a forged certificate's connection"
expect_eq "$(dk n1 node ls -q | sort)" "$(printf '%s\n' "$n1_id" "$n2_id" | sort)" "no node joined or left"

log "the daemon keeps serving"
a=$(call $P1 "$ROOT1" "$C1/swarm-node.crt" "$C1/swarm-node.key" shoal-rpc control.forward "$FORWARD")
expect_eq "$(field "$a" 'j["outcome"], j["status"], j["body"]["Status"]')" "('response', 0, 200)" \
    "control.forward afterwards: $a"
run_ok dk n1 node ls
expect_eq "$(dk n1 node ls --format '{{.ID}} {{.Status}} {{.ManagerStatus}}' | sort)" \
    "$(printf '%s\n' "$n1_id Ready Leader" "$n2_id Ready " | sort)" "node ls afterwards"
expect_eq "$(dk n1 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" "active true" "n1 info"
expect_eq "$(dk n2 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}')" "active $n2_id" "n2 info"

log "a removed node's certificate is refused and logged"
run_ok dk n1 node rm --force "$n2_id"
a=$(call $P1 "$ROOT1" "$C2/swarm-node.crt" "$C2/swarm-node.key" shoal-rpc ca.root)
expect_refused "$a" "ca.root with a removed node's certificate"
a=$(call $P1 "$ROOT1" "$C2/swarm-node.crt" "$C2/swarm-node.key" shoal-raft -)
expect_refused "$a" "raft with a removed node's certificate"
wait_for 100 0.05 "n1 to log the removed node's refused connection" grep -q \
    "refused: the certificate of removed node $n2_id" "$(node_dir n1)/daemon.log"
a=$(call $P1 "$ROOT1" "$C1/swarm-node.crt" "$C1/swarm-node.key" shoal-rpc control.forward "$FORWARD")
expect_eq "$(field "$a" 'j["outcome"], j["status"], j["body"]["Status"]')" "('response', 0, 200)" \
    "a manager is still served: $a"

for n in n1 n2 n3; do check_node_log "$n"; done
log "passed"
