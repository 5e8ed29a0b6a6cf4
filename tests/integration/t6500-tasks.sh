#!/bin/bash
# Tasks reach workers: a task put in the store (test-build debug route on
# the leader) runs on its node under runc with Docker's task container
# name, its states reach the store (read on any manager), its exit is
# reported (complete / failed with the code), a missing image rejects it,
# desired state shutdown stops it; kill -9 of the worker makes it Down
# within the 1 s heartbeat's grace, and its restart re-reports the running
# task and removes the container of a task no longer assigned. Bogus RPC
# from a node gets an error and nothing crashes. After kill -9 of the
# leader the worker follows the new leader's assignments.
. "$(dirname "$0")/lib.sh"

# Ports 25500-25699.
P=$((25500 + RANDOM % 60 * 3))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }

join() { # join NAME TOKEN
    dk "$1" swarm join --token "$2" --advertise-addr "$(addr "$1")" \
        --listen-addr "$(addr "$1")" "$(addr n1)"
}
id_of() { cat "$TMP/$1.id"; }
# task_field MANAGER ID FIELD: a field of GET /tasks/{id} (python path).
task_field() {
    local out
    out=$(api "$1" GET "/tasks/$2")
    [ "${out%% *}" = 200 ] || return 1
    printf '%s' "${out#* }" | python3 -c "import json,sys; t=json.load(sys.stdin); print(eval('t' + sys.argv[1]))" "$3"
}
state_is() { [ "$(task_field "$1" "$2" "['Status']['State']")" = "$3" ]; }
# new_task NODE NAME IMAGE ARGS-JSON: create a task, print its ID.
new_task() {
    local out
    out=$(api n1 POST /_shoal/debug/tasks "{\"Name\":\"$2\",\"NodeID\":\"$(id_of "$1")\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"$3\",\"Args\":$4,\"StopGracePeriod\":2000000000}}}")
    [ "${out%% *}" = 201 ] || fail "create task $2: $out"
    printf '%s' "${out#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])'
}
node_status_is() {
    [ "$(dk n1 node inspect -f '{{.Status.State}}' "$(id_of "$1")" 2>/dev/null)" = "$2" ]
}
ps_has() { dk "$1" ps ${3:-} --format '{{.Names}}' | grep -qx "$2"; }
ps_lacks() { ! dk "$1" ps ${3:-} --format '{{.Names}}' | grep -qx "$2"; }

for n in n1 n2 n3 n4; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
run_ok join n2 "$(dk n1 swarm join-token -q worker)"
run_ok join n3 "$(dk n1 swarm join-token -q manager)"
run_ok join n4 "$(dk n1 swarm join-token -q manager)"
for n in n1 n2 n3 n4; do dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"; done
wait_for 200 0.1 "n2 Ready" node_status_is n2 ready

log "workers refuse manager-only calls"
expect_fail dk n2 node ls
expect_contains "$OUT" "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager." "worker node ls"
out=$(api n2 GET /tasks)
expect_eq "${out%% *}" 503 "worker GET /tasks"
expect_contains "$out" "This node is not a swarm manager." "worker GET /tasks"
expect_eq "$(dk n2 info -f '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" "active false" "worker's Swarm section"

busybox_tar "$TMP/busybox.tar"
for n in n1 n2; do run_ok dk "$n" import "$TMP/busybox.tar" busybox; done

log "a task assigned to the worker runs there"
t1=$(new_task n2 sleeper busybox '["sleep","300"]')
wait_for 200 0.1 "task $t1 running" state_is n1 "$t1" running
wait_for 50 0.1 "task $t1 running on a follower" state_is n3 "$t1" running
expect_eq "$(task_field n3 "$t1" "['Status']['Message']")" started "running message"
wait_for 50 0.1 "docker ps on n2 shows sleeper.$t1" ps_has n2 "sleeper.$t1"
expect_eq "$(dk n2 inspect -f '{{index .Config.Labels "com.docker.swarm.task.id"}} {{index .Config.Labels "com.docker.swarm.node.id"}}' "sleeper.$t1")" \
    "$t1 $(id_of n2)" "task labels"
cid=$(task_field n1 "$t1" "['Status']['ContainerStatus']['ContainerID']")
expect_eq "$(dk n2 inspect -f '{{.Id}}' "sleeper.$t1")" "$cid" "ContainerStatus.ContainerID"
# the orchestrator restarts tasks: the engine must not (policy "no")
expect_eq "$(dk n2 inspect -f '{{.HostConfig.RestartPolicy.Name}}' "sleeper.$t1")" no \
    "a task container's restart policy"
out=$(api n1 GET "/tasks?filters=%7B%22node%22%3A%7B%22$(id_of n2)%22%3Atrue%7D%7D")
expect_contains "$out" "$t1" "node filter"
out=$(api n1 GET "/tasks?filters=%7B%22desired-state%22%3A%7B%22bogus%22%3Atrue%7D%7D")
expect_contains "$out" "Invalid desired-state filter: 'bogus'" "desired-state filter"

log "exits are reported"
t2=$(new_task n2 ok busybox '["true"]')
t3=$(new_task n2 bad busybox '["sh","-c","exit 3"]')
t4=$(new_task n2 noimg nosuch '["true"]')
wait_for 200 0.1 "task $t2 complete" state_is n1 "$t2" complete
expect_eq "$(task_field n1 "$t2" "['Status']['Message']")" finished "complete message"
wait_for 200 0.1 "task $t3 failed" state_is n1 "$t3" failed
expect_eq "$(task_field n1 "$t3" "['Status']['Err']")" "task: non-zero exit (3)" "failed Err"
expect_eq "$(task_field n1 "$t3" "['Status']['ContainerStatus']['ExitCode']")" 3 "exit code"
wait_for 200 0.1 "task $t4 rejected" state_is n1 "$t4" rejected
expect_eq "$(task_field n1 "$t4" "['Status']['Err']")" "No such image: nosuch" "rejected Err"

log "desired state shutdown stops the task"
out=$(api n1 POST "/_shoal/debug/tasks/$t1/update" '{"DesiredState":"shutdown"}')
expect_eq "${out%% *}" 200 "set desired shutdown"
wait_for 100 0.1 "task $t1 shutdown" state_is n1 "$t1" shutdown
ps_lacks n2 "sleeper.$t1" || fail "sleeper still running"

log "kill -9 the worker: Down within the grace; restart: Ready, reconciled"
t5=$(new_task n2 keeper busybox '["sleep","300"]')
wait_for 200 0.1 "task $t5 running" state_is n1 "$t5" running
ts=$(task_field n1 "$t5" "['Status']['Timestamp']")
kill9_node n2
t0=$(date +%s%N)
wait_for 60 0.1 "n2 Down" node_status_is n2 down
log "n2 Down after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
out=$(api n1 DELETE "/_shoal/debug/tasks/$t2")
expect_eq "${out%% *}" 200 "delete task $t2"
ps_has n2 "keeper.$t5" 2>/dev/null && fail "n2's API still up"
start_node n2
wait_for 100 0.1 "n2 Ready again" node_status_is n2 ready
wait_for 100 0.1 "task $t5 re-reported" \
    bash -c "[ \"\$(curl -s --unix-socket '$(node_sock n1)' http://shoal/tasks/$t5 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"Status\"][\"Timestamp\"])')\" != '$ts' ]"
state_is n1 "$t5" running || fail "task $t5 not running after the restart"
ps_has n2 "keeper.$t5" || fail "keeper not running after the restart"
wait_for 100 0.1 "the container of deleted task $t2 removed" ps_lacks n2 "ok.$t2" -a

log "bogus RPC from a node gets an error; nothing crashes"
t6=$(new_task n1 other nosuch '["true"]')
cat >"$TMP/rpc.py" <<'PY'
import json, socket, ssl, struct, sys
root, cert, key, addr, task = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
def conn():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(root)
    ctx.load_cert_chain(cert, key)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["shoal-rpc"])
    s = socket.create_connection((host, int(port)), timeout=5)
    return ctx.wrap_socket(s)
def call(s, method, body, cid=1):
    p = json.dumps({"method": method, "body": body}).encode()
    s.sendall(struct.pack(">IBBHI", len(p), 1, 0, 0, cid) + p)
    hdr = b""
    while len(hdr) < 12:
        b = s.recv(12 - len(hdr))
        if not b:
            return None
        hdr += b
    n = struct.unpack(">I", hdr[:4])[0]
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return json.loads(data)
s = conn()
print(json.dumps(call(s, "dispatcher.update_task_status",
      {"Updates": [{"TaskID": task, "Status": {"State": "running"}}]})))
print(json.dumps(call(s, "dispatcher.update_task_status", {"Updates": "x"}, 2)))
print(json.dumps(call(s, "dispatcher.update_task_status",
      {"Updates": [{"TaskID": task, "Status": {"State": "sleepy"}}]}, 3)))
s.close()
s = conn()
s.sendall(b"\xff\xff\xff\xff garbage that is no frame")
try:
    print("closed" if s.recv(100) == b"" else "answered")
except Exception:
    print("closed")
PY
C="$(node_dir n2)/root/swarm/certificates"
# the node key without its PEM headers (kek-version...), which Python's
# ssl refuses
sed '/^[a-z-]*: /d; /^$/d' "$C/swarm-node.key" >"$TMP/n2.key"
run_ok python3 "$TMP/rpc.py" "$C/swarm-root-ca.crt" "$C/swarm-node.crt" "$TMP/n2.key" "$(addr n1)" "$t6"
expect_contains "$OUT" "cannot update a task not assigned this node" "foreign task"
expect_contains "$(sed -n 2p <<<"$OUT")" '"status": -' "malformed Updates"
expect_contains "$(sed -n 3p <<<"$OUT")" '"status": -' "bad state"
expect_eq "$(tail -n 1 <<<"$OUT")" closed "garbage frame"
for n in n1 n2 n3 n4; do ping_node "$n" >/dev/null || fail "$n died"; done
state_is n1 "$t5" running || fail "task $t5 disturbed"

log "kill -9 the leader: the worker follows the new one"
kill9_node n1
leader_known() { [ "$(dk n3 node ls --format '{{.ManagerStatus}}' 2>/dev/null | grep -c Leader)" = 1 ]; }
wait_for 100 0.1 "a new leader" leader_known
t7=$(api n3 POST /_shoal/debug/tasks "{\"Name\":\"late\",\"NodeID\":\"$(id_of n2)\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Args\":[\"true\"]}}}")
expect_eq "${t7%% *}" 201 "create a task through the new leader"
t7=$(printf '%s' "${t7#* }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')
wait_for 200 0.1 "task $t7 complete under the new leader" state_is n3 "$t7" complete
out=$(api n4 POST "/_shoal/debug/tasks/$t5/update" '{"DesiredState":"shutdown"}')
expect_eq "${out%% *}" 200 "desired shutdown through the new leader"
wait_for 100 0.1 "task $t5 shutdown" state_is n4 "$t5" shutdown

for n in n1 n2 n3 n4; do check_node_log "$n"; done
log "passed"
