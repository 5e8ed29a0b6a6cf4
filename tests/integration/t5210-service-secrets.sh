#!/bin/bash
# Secrets and configs on services with the real docker CLI, 1 manager + 1
# worker: `service create --secret src=..,target=..,uid,gid,mode --secret
# name --config src=..,target=..` puts them in the task's container,
# `service update --secret-rm/--secret-add` replaces the tasks and the new
# containers see only the new secret, a reference to a missing secret or
# config is refused at create, `secret rm` of a secret in use is refused,
# and the values are on no disk of the worker.
. "$(dirname "$0")/lib.sh"

# Ports 27000-27119.
P=$((27000 + RANDOM % 60 * 2))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }
on_disk() { # as in t5200
    find "$1" -xdev -type f -size -4M -print0 2>/dev/null |
        xargs -0 -r grep -lF -- "$2" 2>/dev/null
}
# cids SERVICE: its running containers on n2.
cids() {
    dk n2 ps -q --filter "label=com.docker.swarm.service.name=$1" | sort
}
count_is() { [ "$(cids "$1" | wc -l)" = "$2" ]; }

start_node n1
start_node n2
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
busybox_tar "$TMP/busybox.tar"
run_ok dk n2 import "$TMP/busybox.tar" busybox
run_ok dk n1 import "$TMP/busybox.tar" busybox
run_ok dk n2 swarm join --token "$(dk n1 swarm join-token -q worker)" \
    --advertise-addr "$(addr n2)" --listen-addr "$(addr n2)" "$(addr n1)"

VAL="s3cr3t-$RANDOM$RANDOM-value"
VAL2="other-$RANDOM$RANDOM-value"
CVAL="conf-$RANDOM$RANDOM-body"
printf '%s' "$VAL" | run_ok dk n1 secret create db_pass -
printf '%s' "$VAL2" | run_ok dk n1 secret create other -
printf '%s' "$CVAL" | run_ok dk n1 config create app_conf -

log "a reference to a missing secret or config is refused at create"
expect_fail dk n1 service create --detach --name bad --secret nosuch \
    busybox sleep 300
expect_contains "$OUT" "secret not found: nosuch" "missing secret (CLI)"
expect_fail dk n1 service create --detach --name bad --config nosuch \
    busybox sleep 300
expect_contains "$OUT" "config not found: nosuch" "missing config (CLI)"
# the CLI resolves names itself: the daemon's own check, by the API
sid=$(dk n1 secret inspect -f '{{.ID}}' db_pass)
out=$(api n1 POST /services/create '{"Name":"bad","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Secrets":[{"File":{"Name":"x","UID":"0","GID":"0","Mode":292},"SecretID":"abcdefabcdefabcdefabcdefa","SecretName":"gone"}]}}}')
expect_eq "$out" '400 {"message":"rpc error: code = InvalidArgument desc = secret not found: gone"}' "missing secret (API)"
out=$(api n1 POST /services/create "{\"Name\":\"bad\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Secrets\":[{\"File\":{\"Name\":\"x\",\"UID\":\"0\",\"GID\":\"0\",\"Mode\":292},\"SecretID\":\"$sid\",\"SecretName\":\"notitsname\"}]}}}")
expect_eq "$out" '400 {"message":"rpc error: code = InvalidArgument desc = secret not found: notitsname"}' "secret ID and name that do not match (API)"
out=$(api n1 POST /services/create '{"Name":"bad","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Configs":[{"File":{"Name":"/x","UID":"0","GID":"0","Mode":292},"ConfigID":"abcdefabcdefabcdefabcdefa","ConfigName":"a"},{"File":{"Name":"/y","UID":"0","GID":"0","Mode":292},"ConfigID":"abcdefabcdefabcdefabcdefb","ConfigName":"b"}]}}}')
expect_eq "$out" '400 {"message":"rpc error: code = InvalidArgument desc = configs not found: a, b"}' "missing configs (API)"
out=$(api n1 POST /services/create "{\"Name\":\"bad\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Secrets\":[{\"File\":{\"Name\":\"t\"},\"SecretID\":\"$sid\",\"SecretName\":\"db_pass\"},{\"File\":{\"Name\":\"t\"},\"SecretID\":\"$sid\",\"SecretName\":\"db_pass\"}]}}}")
expect_eq "$out" "400 {\"message\":\"rpc error: code = InvalidArgument desc = secret references 'db_pass' and 'db_pass' have a conflicting target: 't'\"}" "conflicting targets (API)"
out=$(api n1 POST /services/create '{"Name":"bad","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Secrets":[{"File":{"Name":"t"},"SecretName":"x"}]}}}')
expect_eq "$out" '400 {"message":"rpc error: code = InvalidArgument desc = malformed secret reference"}' "no secret ID (API)"
expect_eq "$(dk n1 service ls -q)" "" "no service created"

log "service create with secrets and a config"
run_ok dk n1 service create --detach --name app --replicas 2 \
    --constraint node.role==worker --stop-grace-period 1s \
    --secret src=db_pass,target=app_pass,uid=65534,gid=0,mode=0400 \
    --secret db_pass --config src=app_conf,target=/etc/app.conf \
    busybox sleep 300
wait_for 300 0.1 "2 containers of app on n2" count_is app 2
for c in $(cids app); do
    expect_eq "$(dk n2 exec "$c" cat /run/secrets/app_pass)" "$VAL" "secret at its target"
    expect_eq "$(dk n2 exec "$c" stat -c '%u %g %a' /run/secrets/app_pass)" "65534 0 400" "secret owner and mode"
    expect_eq "$(dk n2 exec "$c" cat /run/secrets/db_pass)" "$VAL" "plain --secret"
    expect_eq "$(dk n2 exec "$c" cat /etc/app.conf)" "$CVAL" "config at its target"
done

log "secret rm of a secret in use is refused"
expect_fail dk n1 secret rm db_pass
expect_contains "$OUT" "Error response from daemon: rpc error: code = InvalidArgument desc = secret 'db_pass' is in use by the following service: app" "secret in use"
expect_fail dk n1 config rm app_conf
expect_contains "$OUT" "config 'app_conf' is in use by the following service: app" "config in use"

log "service update to a missing secret is refused"
spec=$(curl -s --unix-socket "$(node_sock n1)" http://shoal/services/app |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["Spec"]; s["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"]="gone"; print(json.dumps(s))')
v=$(dk n1 service inspect -f '{{.Version.Index}}' app)
out=$(api n1 POST "/services/app/update?version=$v" "$spec")
expect_eq "$out" '400 {"message":"rpc error: code = InvalidArgument desc = secret not found: gone"}' "update to a missing secret"

log "service update --secret-rm --secret-add replaces the tasks"
old=$(cids app)
run_ok dk n1 service update --detach --secret-rm db_pass --secret-add other app
replaced() {
    local now
    now=$(cids app)
    [ "$(wc -l <<<"$now")" = 2 ] && [ -z "$(comm -12 <(echo "$old") <(echo "$now"))" ]
}
wait_for 300 0.1 "app's 2 containers replaced" replaced
for c in $(cids app); do
    expect_eq "$(dk n2 exec "$c" ls /run/secrets)" "other" "only the new secret"
    expect_eq "$(dk n2 exec "$c" cat /run/secrets/other)" "$VAL2" "the new secret"
    expect_eq "$(dk n2 exec "$c" cat /etc/app.conf)" "$CVAL" "config kept"
done
tmpfs_is() { [ "$(grep -c " $(node_dir n2)/root/secrets/" /proc/self/mountinfo)" = "$1" ]; }
wait_for 200 0.1 "the old tasks' tmpfs unmounted" tmpfs_is 2
run_ok dk n1 secret rm db_pass

log "the values are on no disk of the worker"
for v in "$VAL" "$VAL2"; do
    expect_eq "$(on_disk "$(node_dir n2)" "$v")" "" "worker's data root and log"
    expect_eq "$(on_disk /tmp "$v")" "" "/tmp"
done

run_ok dk n1 service rm app
gone() { [ -z "$(dk n2 ps -aq --filter label=com.docker.swarm.service.name=app)" ]; }
wait_for 300 0.1 "app's containers removed" gone
wait_for 200 0.1 "every tmpfs unmounted" tmpfs_is 0
run_ok dk n1 secret rm other
run_ok dk n1 config rm app_conf
for n in n1 n2; do check_node_log "$n"; done
log "passed"
