#!/bin/bash
# Engine API basics: ping headers, versioned paths, Docker's error shapes,
# bad input of every kind, and the daemon keeps serving through all of it.
. "$(dirname "$0")/lib.sh"

start_node n1
sock=$(node_sock n1)

log "ping: GET and HEAD, with the headers the docker CLI negotiates on"
hdrs=$(curl -s -D - -o /dev/null --unix-socket "$sock" http://shoal/_ping)
expect_contains "$hdrs" "Api-Version: 1.51" "ping Api-Version"
expect_contains "$hdrs" "Swarm: inactive" "ping Swarm header"
expect_contains "$hdrs" "Ostype: linux" "ping Ostype"
expect_eq "$(curl -s --unix-socket "$sock" http://shoal/_ping)" "OK" "ping body"
hdrs=$(curl -s -I --unix-socket "$sock" http://shoal/_ping)
expect_contains "$hdrs" "HTTP/1.1 200 OK" "HEAD /_ping"
expect_contains "$hdrs" "Content-Length: 0" "HEAD /_ping length"

log "versions: unversioned, oldest, newest, too old, too new"
r=$(api n1 GET /version)
expect_eq "${r%% *}" 200 "GET /version"
expect_eq "$(jq -r .ApiVersion <<<"${r#* }")" "1.51" "ApiVersion"
expect_eq "$(jq -r .MinAPIVersion <<<"${r#* }")" "1.24" "MinAPIVersion"
expect_eq "$(api n1 GET /v1.24/version | cut -d' ' -f1)" 200 "v1.24"
expect_eq "$(api n1 GET /v1.51/info | cut -d' ' -f1)" 200 "v1.51"
r=$(api n1 GET /v1.12/version)
expect_eq "$r" '400 {"message":"client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"}' "too old"
r=$(api n1 GET /v9.99/version)
expect_eq "$r" '400 {"message":"client version 9.99 is too new. Maximum supported API version is 1.51"}' "too new"

log "unknown paths and wrong methods"
expect_eq "$(api n1 GET /no/such/thing)" '404 {"message":"page not found"}' "unknown path"
expect_eq "$(api n1 DELETE /info | cut -d' ' -f1)" 405 "wrong method"

log "manager-only endpoints before init"
msg='This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'
expect_eq "$(api n1 GET /nodes)" "503 {\"message\":\"${msg//\"/\\\"}\"}" "nodes before init"
expect_fail dk n1 node ls
expect_eq "$OUT" "Error response from daemon: $msg" "docker node ls before init"
expect_eq "$(api n1 GET /swarm | cut -d' ' -f1)" 503 "GET /swarm before init"
r=$(api n1 POST /swarm/leave)
expect_eq "$r" '503 {"message":"This node is not part of a swarm"}' "leave when inactive"
r=$(api n1 GET /info)
expect_eq "$(jq -c '.Swarm | {NodeID,NodeAddr,LocalNodeState,ControlAvailable,Error,RemoteManagers}' <<<"${r#* }")" \
    '{"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"","RemoteManagers":null}' "inactive /info Swarm"

log "bad init requests get Docker's errors and change nothing"
r=$(api n1 POST /swarm/init '{"ListenAddr":')
expect_eq "${r%% *}" 400 "malformed JSON"
expect_contains "$r" "invalid JSON" "malformed JSON message"
r=$(api n1 POST /swarm/init '[1,2]')
expect_eq "${r%% *}" 400 "array body"
r=$(api n1 POST /swarm/init '{"ListenAddr":7}')
expect_eq "${r%% *}" 400 "wrong type"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"0.0.0.0"}')
expect_eq "$r" '400 {"message":"advertise address must be a non-zero IP address or network interface (with optional port number)"}' "zero advertise address"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"no-such-if0"}')
expect_eq "${r%% *}" 400 "unknown interface"
r=$(api n1 POST /swarm/init '{"ListenAddr":"1.2.3.4.5:2377","AdvertiseAddr":"127.0.0.1"}')
expect_eq "$r" '400 {"message":"listen address must be an IP address or network interface (with optional port number)"}' "bad listen address"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"127.0.0.1:99999"}')
expect_eq "${r%% *}" 400 "bad advertise port"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"127.0.0.1","DefaultAddrPool":["10.0.0.0/33"]}')
expect_eq "$r" '400 {"message":"invalid CIDR: \"10.0.0.0/33\""}' "bad pool"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"127.0.0.1","SubnetSize":30}')
expect_eq "$r" '400 {"message":"subnet size is out of range: 30"}' "subnet size"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"127.0.0.1","DataPathPort":80}')
expect_contains "$r" "Datapath port number is not in valid range (1024-49151) : 80" "data path port"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"127.0.0.1","Spec":{"CAConfig":{"NodeCertExpiry":1000000000}}}')
expect_eq "${r%% *}" 400 "cert expiry too short"
expect_contains "$r" "minimum certificate expiry time is: 1h0m0s" "cert expiry message"
r=$(api n1 POST /swarm/init '{"AdvertiseAddr":"127.0.0.1","Spec":{"Raft":{"SnapshotInterval":"x"}}}')
expect_eq "${r%% *}" 400 "spec field type"
expect_eq "$(api n1 GET /info | jq -r .Swarm.LocalNodeState 2>/dev/null || api n1 GET /info | cut -d' ' -f2- | jq -r .Swarm.LocalNodeState)" inactive "still inactive"
[ -z "$(ls -A "$(node_dir n1)/root/swarm")" ] || fail "a failed init left files in swarm/"

log "oversized body: refused, daemon keeps serving"
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$TMP/big"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -X POST \
    -H 'Content-Type: application/json' --data-binary @"$TMP/big" http://shoal/swarm/init)
expect_eq "$code" 413 "oversized body"
ping_node n1 >/dev/null || fail "daemon stopped serving after an oversized body"

log "garbage, split and pipelined requests on raw connections"
python3 - "$sock" <<'PY' || fail "raw socket checks"
import socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(path); return s
def read_all(s):
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d: break
        out += d
        if out.count(b"\r\n\r\n") >= want and out.endswith(b"OK"): break
    return out
# garbage: 400 and close
s = conn(); s.sendall(b"\x00\x01GARBAGE\r\n\r\n"); r = s.recv(4096)
assert r.startswith(b"HTTP/1.1 400"), r
# request split across many writes
s = conn()
for b in b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n":
    s.sendall(bytes([b]))
r = s.recv(4096); assert b"200 OK" in r and r.endswith(b"OK"), r
# three pipelined requests in one write: three answers, in order
s = conn(); want = 3
s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
assert out.count(b"HTTP/1.1 200 OK") == 3, out
assert out.rstrip().endswith(b"}"), out
# peer closes mid-request: daemon must survive
s = conn(); s.sendall(b"POST /swarm/init HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"Li"); s.close()
PY
ping_node n1 >/dev/null || fail "daemon stopped serving after raw socket abuse"
check_node_log n1
log "passed"
