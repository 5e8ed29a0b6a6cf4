#!/bin/bash
# The swarm's PKI on disk, checked with openssl, and the join tokens'
# digest recomputed independently of shoal (sha256 of the root PEM, in base
# 36, padded to 50).
. "$(dirname "$0")/lib.sh"

start_node n1
run_ok dk n1 swarm init --advertise-addr 127.0.0.1 --cert-expiry 100h
certs=$(node_dir n1)/root/swarm/certificates
node_id=$(dk n1 info -f '{{.Swarm.NodeID}}')
cluster_id=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')

log "files and modes"
expect_eq "$(stat -c %a "$certs/swarm-node.key")" 600 "key mode"
expect_eq "$(stat -c %a "$certs/swarm-node.crt")" 644 "cert mode"
expect_eq "$(stat -c %a "$certs/swarm-root-ca.crt")" 644 "root mode"

log "node certificate subject, chain, key and validity"
subj=$(openssl x509 -in "$certs/swarm-node.crt" -noout -subject)
expect_eq "$subj" "subject=O = $cluster_id, OU = swarm-manager, CN = $node_id" "node subject"
run_ok openssl verify -CAfile "$certs/swarm-root-ca.crt" "$certs/swarm-node.crt"
expect_eq "$OUT" "$certs/swarm-node.crt: OK" "openssl verify"
expect_eq "$(openssl x509 -in "$certs/swarm-root-ca.crt" -noout -subject)" "subject=CN = swarm-ca" "root subject"
openssl x509 -in "$certs/swarm-root-ca.crt" -noout -text | grep -q "CA:TRUE" || fail "root is not a CA"
openssl x509 -in "$certs/swarm-root-ca.crt" -noout -text | grep -q "ASN1 OID: prime256v1" || fail "root key is not P-256"
openssl x509 -in "$certs/swarm-node.crt" -noout -text | grep -q "ASN1 OID: prime256v1" || fail "node key is not P-256"
# Like Docker's, the key file carries PEM headers (kek-version, raft-dek)
# that openssl refuses: drop them first.
expect_eq "$(sed '/^[a-z-]*: /d; /^$/d' "$certs/swarm-node.key" | openssl pkey -pubout | sha256sum)" \
    "$(openssl x509 -in "$certs/swarm-node.crt" -noout -pubkey | sha256sum)" "key matches cert"
grep -q "BEGIN PRIVATE KEY" "$certs/swarm-node.key" || fail "node key is not PKCS#8"
nb=$(date -d "$(openssl x509 -in "$certs/swarm-node.crt" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$certs/swarm-node.crt" -noout -enddate | cut -d= -f2)" +%s)
expect_eq $((na - nb)) $((101 * 3600)) "validity = --cert-expiry + 1h backdate"
san=$(openssl x509 -in "$certs/swarm-node.crt" -noout -ext subjectAltName)
expect_contains "$san" "DNS:swarm-manager" "SAN role"
expect_contains "$san" "DNS:$node_id" "SAN node id"

log "TLSInfo in the API is the root's"
trust=$(dk n1 info -f '{{.Swarm.Cluster.TLSInfo.TrustRoot}}')
expect_eq "$trust" "$(cat "$certs/swarm-root-ca.crt")" "TrustRoot equals the root file"

log "token digest recomputed independently"
for role in worker manager; do
    token=$(dk n1 swarm join-token -q $role)
    python3 - "$certs/swarm-root-ca.crt" "$token" <<'PY' || fail "token digest for $role"
import hashlib, sys
pem = open(sys.argv[1], "rb").read()
n = int(hashlib.sha256(pem).hexdigest(), 16)
digits = "0123456789abcdefghijklmnopqrstuvwxyz"
s = ""
while n:
    n, r = divmod(n, 36)
    s = digits[r] + s
want = s.rjust(50, "0")
parts = sys.argv[2].split("-")
assert parts[0] == "SWMTKN" and parts[1] == "1" and len(parts) == 4, parts
assert parts[2] == want, (parts[2], want)
assert len(parts[3]) == 25
PY
done
log "passed"
