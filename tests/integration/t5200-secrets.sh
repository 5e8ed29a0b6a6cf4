#!/bin/bash
# Secrets and configs: create/ls/inspect/update/rm with the docker CLI
# (inspect never shows a secret's data, a config's it does), Docker's
# texts for bad names, sizes, conflicts, label-only updates; a task with a
# secret and a config on the worker reads them at /run/secrets/<name> and
# at the config's target, from a tmpfs; the value is on no disk of the
# worker nor of the manager (Raft is encrypted at rest), the assignments
# stream of another node never carries it, the tmpfs goes with the task.
. "$(dirname "$0")/lib.sh"

# Ports 25700-25759.
P=$((25700 + RANDOM % 30 * 2))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }
id_of() { cat "$TMP/$1.id"; }
task_state() {
    curl -s --unix-socket "$(node_sock n1)" "http://shoal/tasks/$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["Status"]["State"])'
}
state_is() { [ "$(task_state "$1")" = "$2" ]; }
# on_disk DIR VALUE: files under DIR holding VALUE on DIR's own file
# system (-xdev: not in the tmpfs mounts, nor in container rootfs mounts,
# whose writable layers are scanned where they live).
on_disk() {
    find "$1" -xdev -type f -size -4M -print0 2>/dev/null |
        xargs -0 -r grep -lF -- "$2" 2>/dev/null
}

start_node n1
start_node n2
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n2 swarm join --token "$(dk n1 swarm join-token -q worker)" \
    --advertise-addr "$(addr n2)" --listen-addr "$(addr n2)" "$(addr n1)"
for n in n1 n2; do dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"; done

VAL="s3cr3t-$RANDOM$RANDOM-value"
CVAL="conf-$RANDOM$RANDOM-body"

log "secret create/ls/inspect with the docker CLI"
sid=$(printf '%s' "$VAL" | dk n1 secret create --label env=test db_pass -) ||
    fail "secret create"
expect_eq "${#sid}" 25 "secret ID"
run_ok dk n1 secret ls
expect_contains "$OUT" "ID                          NAME      DRIVER    CREATED" "secret ls header"
expect_contains "$OUT" "$sid   db_pass" "secret ls row"
expect_eq "$(dk n1 secret ls -q --filter name=db_)" "$sid" "name prefix filter"
expect_eq "$(dk n1 secret ls -q --filter label=env=prod)" "" "label filter"
run_ok dk n1 secret inspect db_pass
expect_contains "$OUT" "\"ID\": \"$sid\"" "inspect ID"
expect_contains "$OUT" '"env": "test"' "inspect labels"
expect_not_contains "$OUT" "Data" "secret inspect shows no data"
expect_not_contains "$(api n1 GET /secrets)" "$(printf '%s' "$VAL" | base64)" "GET /secrets shows no data"
expect_eq "$(dk n1 secret inspect -f '{{.Spec.Name}}' "${sid:0:6}")" db_pass "ID prefix"

log "Docker's texts"
expect_fail dk n1 secret create db_pass /etc/hostname
expect_contains "$OUT" "Error response from daemon: rpc error: code = AlreadyExists desc = secret db_pass already exists" "conflict"
expect_fail dk n1 secret create -- -bad /etc/hostname
expect_fail dk n1 secret create 'bad!' /etc/hostname
expect_contains "$OUT" "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]" "bad name"
head -c 512000 /dev/zero >"$TMP/big"
expect_fail dk n1 secret create big "$TMP/big"
expect_contains "$OUT" "secret data must be larger than 0 and less than 512000 bytes" "too big"
out=$(api n1 POST /secrets/create '{"Name":"empty"}')
expect_eq "$out" '400 {"message":"rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes"}' "empty"
out=$(api n1 POST /secrets/create '{"Name":"b64","Data":"@@@"}')
expect_contains "$out" "400" "bad base64"
out=$(api n1 POST /secrets/create '{"Name":"tmpl","Data":"eA==","Templating":{"Name":"golang"}}')
expect_contains "$out" "templating is not supported" "templating refused"
out=$(api n1 POST /secrets/create '{"Name":"drv","Driver":{"Name":"vault"}}')
expect_contains "$out" "secret drivers are not supported" "driver refused"
out=$(api n1 POST "/secrets/$sid/update?version=x" '{}')
expect_eq "$out" '400 {"message":"invalid secret version"}' "bad version"
ver=$(dk n1 secret inspect -f '{{.Version.Index}}' db_pass)
out=$(api n1 POST "/secrets/$sid/update?version=$ver" '{"Name":"other"}')
expect_contains "$out" "rpc error: code = InvalidArgument desc = only updates to Labels are allowed" "rename refused"
out=$(api n1 POST "/secrets/$sid/update?version=$ver" '{"Name":"db_pass","Labels":{"env":"prod"}}')
expect_eq "${out%% *}" 200 "label update"
expect_eq "$(dk n1 secret ls -q --filter label=env=prod)" "$sid" "updated label"
out=$(api n1 POST "/secrets/$sid/update?version=$ver" '{"Name":"db_pass"}')
expect_contains "$out" "update out of sequence" "stale version"
expect_fail dk n1 secret inspect nosuch
expect_contains "$OUT" "secret nosuch not found" "not found"
expect_fail dk n2 secret ls
expect_contains "$OUT" "This node is not a swarm manager. Worker nodes can't be used" "worker refused"

log "configs: data is shown"
cid=$(printf '%s' "$CVAL" | dk n1 config create app.conf -) || fail "config create"
expect_eq "$(dk n1 config inspect -f '{{printf "%s" .Spec.Data}}' app.conf)" "$CVAL" "config data"
run_ok dk n1 config ls
expect_contains "$OUT" "$cid   app.conf" "config ls row"
head -c 1024000 /dev/zero >"$TMP/big"
expect_fail dk n1 config create big "$TMP/big"
expect_contains "$OUT" "config data must be larger than 0 and less than 1024000 bytes" "config too big"

log "a task with the secret and the config runs on the worker"
busybox_tar "$TMP/busybox.tar"
run_ok dk n2 import "$TMP/busybox.tar" busybox
out=$(api n1 POST /_shoal/debug/tasks "{\"Name\":\"sec\",\"NodeID\":\"$(id_of n2)\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Args\":[\"sleep\",\"300\"],\"StopGracePeriod\":1000000000,\"Secrets\":[{\"File\":{\"Name\":\"db_pass\",\"UID\":\"65534\",\"GID\":\"0\",\"Mode\":256},\"SecretID\":\"$sid\",\"SecretName\":\"db_pass\"}],\"Configs\":[{\"File\":{\"Name\":\"/etc/app.conf\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"ConfigID\":\"$cid\",\"ConfigName\":\"app.conf\"}]}}}")
expect_eq "${out%% *}" 201 "create the task"
tid=$(printf '%s' "${out#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')
wait_for 200 0.1 "task $tid running" state_is "$tid" running
c="sec.$tid"
expect_eq "$(dk n2 exec "$c" cat /run/secrets/db_pass)" "$VAL" "secret in the container"
expect_eq "$(dk n2 exec "$c" stat -c '%u %g %a' /run/secrets/db_pass)" "65534 0 400" "secret owner and mode"
expect_eq "$(dk n2 exec "$c" cat /etc/app.conf)" "$CVAL" "config in the container"
expect_eq "$(dk n2 exec "$c" stat -c '%a' /etc/app.conf)" "444" "config mode"
expect_contains "$(dk n2 exec "$c" grep /run/secrets/db_pass /proc/mounts)" "tmpfs /run/secrets/db_pass tmpfs ro" "secret on a read-only tmpfs"
expect_fail dk n2 exec "$c" sh -c 'echo x >/run/secrets/db_pass'

log "the value is on no disk"
printf 'x%sx' "$VAL" >"$(node_dir n2)/control"
expect_eq "$(on_disk "$(node_dir n2)" "$VAL")" "$(node_dir n2)/control" "the search finds a file on disk"
rm "$(node_dir n2)/control"
expect_eq "$(on_disk "$(node_dir n2)" "$VAL")" "" "worker's data root and log"
expect_eq "$(on_disk "$(node_dir n1)" "$VAL")" "" "manager's data root (Raft encrypted) and log"
expect_eq "$(on_disk "$(node_dir n1)" "$(printf '%s' "$VAL" | base64)")" "" "manager's data root, base64"
expect_eq "$(on_disk /tmp "$VAL")" "" "/tmp"

log "only the node running the task gets the secret"
cat >"$TMP/rpc.py" <<'PY'
import json, socket, ssl, struct, sys
root, cert, key, addr = sys.argv[1:5]
host, port = addr.rsplit(":", 1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(root)
ctx.load_cert_chain(cert, key)
ctx.check_hostname = False
ctx.set_alpn_protocols(["shoal-rpc"])
s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=5))
def send(method, cid, flags):
    p = json.dumps({"method": method, "body": None}).encode()
    s.sendall(struct.pack(">IBBHI", len(p), 1, flags, 0, cid) + p)
def recv():
    hdr = b""
    while len(hdr) < 12:
        hdr += s.recv(12 - len(hdr))
    n = struct.unpack(">I", hdr[:4])[0]
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return json.loads(data)
send("dispatcher.assignments", 1, 1)
msg = recv()["body"]
print("kinds", sorted({k for c in msg["Changes"] for k in c if k != "Action"}))
print("ids", sorted(c[k]["ID"] for c in msg["Changes"] for k in c if k != "Action"))
send("dispatcher.secret", 2, 0)
print("secret method", json.dumps(recv()))
PY
leader_cert() { # NODE: the certificate files of NODE
    local C="$(node_dir "$1")/root/swarm/certificates"
    sed '/^[a-z-]*: /d; /^$/d' "$C/swarm-node.key" >"$TMP/$1.key"
    echo "$C/swarm-root-ca.crt $C/swarm-node.crt $TMP/$1.key"
}
# shellcheck disable=SC2046
run_ok python3 "$TMP/rpc.py" $(leader_cert n1) "$(addr n1)"
expect_not_contains "$OUT" "$sid" "n1's assignments carry n2's secret"
expect_not_contains "$OUT" "Secret" "n1's assignments carry a secret"
expect_contains "$OUT" "secret method" "unknown method answered"
expect_not_contains "$(sed -n 3p <<<"$OUT")" "$VAL" "no secret from a crafted call"
# the worker's own stream has them (and the agent re-opens its own after)
# shellcheck disable=SC2046
run_ok python3 "$TMP/rpc.py" $(leader_cert n2) "$(addr n1)"
expect_contains "$OUT" "kinds ['Config', 'Secret', 'Task']" "n2's assignments"
expect_contains "$OUT" "$sid" "n2's assignments carry its secret"

log "removing the task drops the tmpfs"
expect_contains "$(grep "$(node_dir n2)/root/secrets/$tid" /proc/self/mountinfo)" tmpfs "tmpfs mounted"
out=$(api n1 DELETE "/_shoal/debug/tasks/$tid")
expect_eq "${out%% *}" 200 "delete the task"
gone() { ! grep -q "$(node_dir n2)/root/secrets/$tid" /proc/self/mountinfo && ! dk n2 inspect "$c"; }
wait_for 200 0.1 "the task's container and tmpfs gone" gone
[ -e "$(node_dir n2)/root/secrets/$tid" ] && fail "the tmpfs directory is left"

log "the shoal CLI"
sid2=$(printf 'other' | sh_ n1 secret create --label a=b other -) || fail "shoal secret create"
expect_eq "${#sid2}" 25 "shoal secret create ID"
run_ok sh_ n1 secret ls
expect_contains "$OUT" "ID                          NAME      DRIVER    CREATED" "shoal secret ls header"
expect_contains "$OUT" "$sid2   other" "shoal secret ls row"
expect_eq "$(sh_ n1 secret ls -q --filter name=oth)" "$sid2" "shoal name filter"
run_ok sh_ n1 secret inspect other
expect_contains "$OUT" '"a": "b"' "shoal secret inspect"
expect_not_contains "$OUT" "Data" "shoal secret inspect shows no data"
expect_fail sh_ n1 secret create other /etc/hostname
expect_contains "$OUT" "rpc error: code = AlreadyExists desc = secret other already exists" "shoal conflict"
run_ok sh_ n1 secret rm other
expect_eq "$OUT" other "shoal secret rm"
printf 'k=v' >"$TMP/c.conf"
run_ok sh_ n1 config create c2 "$TMP/c.conf"
expect_eq "$(sh_ n1 config inspect -f '{{.Spec.Name}}' c2)" c2 "shoal config inspect"
expect_contains "$(sh_ n1 config ls)" "c2" "shoal config ls"
run_ok sh_ n1 config rm c2

log "rm"
run_ok dk n1 secret rm db_pass
expect_eq "$OUT" db_pass "secret rm output"
expect_eq "$(dk n1 secret ls -q)" "" "no secrets left"
run_ok dk n1 config rm "$cid"
expect_fail dk n1 secret rm db_pass
expect_contains "$OUT" "secret db_pass not found" "rm twice"

for n in n1 n2; do check_node_log "$n"; done
log "passed"
