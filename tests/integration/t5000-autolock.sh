#!/bin/bash
# Encryption at rest and autolock: nothing of the store is on disk in
# clear; an autolocked manager restarts locked (docker info, /_ping, 503 on
# manager endpoints) until `docker swarm unlock` gets the right key; the
# unlock key is rotated on every manager; autolock off unlocks for good.
. "$(dirname "$0")/lib.sh"

P=$((25100 + RANDOM % 100 * 6))
addr() { echo "127.0.0.1:$((P + ${1#?} - 1))"; }
MARK="mk${RANDOM}x${RANDOM}"
LOCKED='Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.'
keyfile() { echo "$(node_dir "$1")/root/swarm/certificates/swarm-node.key"; }
kek_version() { sed -n 's/^kek-version: //p' "$(keyfile "$1")"; }
state() { dk "$1" info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null; }
is_state() { [ "$(state "$1")" = "$2" ]; }
ping_swarm() {
    curl -s -D - -o /dev/null --max-time 5 --unix-socket "$(node_sock "$1")" http://shoal/_ping |
        tr -d '\r' | sed -n 's/^Swarm: //Ip'
}
random_key() { echo "SWMKEY-1-$(head -c 32 /dev/urandom | base64 -w0 | tr -d '=')"; }

log "single manager: init --autolock prints the unlock block"
start_node n1
run_ok dk n1 swarm init --autolock --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
expect_contains "$OUT" "To unlock a swarm manager after it restarts, run the \`docker swarm unlock\`" "unlock block"
key=$(grep -o 'SWMKEY-1-[A-Za-z0-9+/]*' <<<"$OUT")
expect_eq "${#key}" 52 "unlock key length"
expect_eq "$(dk n1 swarm unlock-key -q)" "$key" "unlock-key -q"
expect_eq "$(dk n1 info -f '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}')" true "AutoLockManagers"
expect_eq "$(head -n 1 "$(keyfile n1)")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "key file locked"
expect_contains "$(cat "$(keyfile n1)")" "raft-dek: " "DEK header"

log "write objects with a marker, kill -9, look for them on disk"
nid=$(dk n1 info -f '{{.Swarm.NodeID}}')
run_ok dk n1 node update --label-add "secret=label-$MARK" "$nid"
# External CAs are refused (t5100); the node label carries the marker.
expect_fail dk n1 swarm update --external-ca "protocol=cfssl,url=https://ca-$MARK.example"
expect_contains "$OUT" "external CAs are not supported" "external CA refused"
expect_contains "$(dk n1 node inspect -f '{{json .Spec.Labels}}' "$nid")" "label-$MARK" "marker stored"
kill9_node n1
cp -a "$(node_dir n1)/root" "$TMP/copy"
ls "$TMP/copy/swarm/raft" | grep -q . || fail "no raft data on disk"
expect_eq "$(grep -r -a -l "$MARK" "$TMP/copy" | tr '\n' ' ')" "" "marker in clear on disk"
for name in ingress default ExternalCAs Availability CAConfig "secret"; do
    expect_eq "$(grep -r -a -l -- "$name" "$TMP/copy/swarm" | tr '\n' ' ')" "" "store text [$name] in clear on disk"
done

log "restart: locked"
start_node n1
expect_eq "$(state n1)" locked "state after restart"
expect_contains "$(dk n1 info 2>&1)" "Swarm: locked" "docker info"
expect_eq "$(ping_swarm n1)" locked "/_ping Swarm header"
r=$(api n1 GET /nodes)
expect_eq "${r%% *}" 503 "node ls status while locked"
expect_contains "$r" "Swarm is encrypted and needs to be unlocked before it can be used." "node ls text while locked"
expect_fail dk n1 node ls
expect_contains "$OUT" "$LOCKED" "docker node ls while locked"
r=$(api n1 POST /swarm/leave)
expect_eq "${r%% *}" 503 "leave while locked"
expect_contains "$r" 'Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.' "leave text"

log "unlock: malformed, wrong, then the right key"
r=$(api n1 POST /swarm/unlock '{"UnlockKey":"SWMKEY-1-notbase64!"}')
expect_eq "$r" '400 {"message":"invalid key string"}' "malformed key"
r=$(api n1 POST /swarm/unlock "{\"UnlockKey\":\"$(random_key)\"}")
expect_eq "$r" '401 {"message":"swarm could not be unlocked: invalid key provided"}' "wrong key"
expect_fail dk n1 swarm unlock <<<"$(random_key)"
expect_contains "$OUT" "swarm could not be unlocked: invalid key provided" "docker swarm unlock, wrong key"
expect_eq "$(state n1)" locked "still locked"
run_ok dk n1 swarm unlock <<<"$key"
wait_for 200 0.05 "the unlocked manager to serve node ls" dk n1 node ls
expect_eq "$(state n1)" active "state after unlock"
expect_eq "$(ping_swarm n1)" active/manager "/_ping after unlock"
expect_eq "$(dk n1 node inspect "$nid" -f '{{index .Spec.Labels "secret"}}')" "label-$MARK" "label after unlock"
r=$(api n1 POST /swarm/unlock "{\"UnlockKey\":\"$key\"}")
expect_eq "$r" '409 {"message":"swarm is not locked"}' "unlock when not locked"
stop_node n1
check_node_log n1

log "three managers with autolock"
for n in m1 m2 m3; do start_node "$n"; done
run_ok dk m1 swarm init --autolock --advertise-addr "$(addr m1)" --listen-addr "$(addr m1)"
key=$(dk m1 swarm unlock-key -q)
token=$(dk m1 swarm join-token -q manager)
for n in m2 m3; do
    run_ok dk "$n" swarm join --token "$token" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr m1)"
done
locked_file() { [ "$(head -n 1 "$(keyfile "$1")")" = "-----BEGIN ENCRYPTED PRIVATE KEY-----" ]; }
for n in m2 m3; do
    wait_for 200 0.05 "$n to lock its key file from the store" locked_file "$n"
done

log "unlock-key --rotate reaches every manager"
before=$(for n in m1 m2 m3; do kek_version "$n"; done | sort -n | tail -n 1)
run_ok dk m1 swarm unlock-key --rotate
expect_contains "$OUT" "Successfully rotated manager unlock key." "rotate output"
new=$(dk m1 swarm unlock-key -q)
[ "$new" != "$key" ] || fail "the unlock key did not change"
moved() { local v; v=$(kek_version "$1"); [ -n "$v" ] && [ "$v" -gt "$before" ]; }
for n in m1 m2 m3; do
    wait_for 200 0.05 "$n to re-lock its key file with the new key" moved "$n"
done
for n in m1 m2 m3; do
    log "restart $n, unlock with the new key"
    stop_node "$n" || fail "clean stop of $n"
    start_node "$n"
    expect_eq "$(state "$n")" locked "$n locked after restart"
    expect_fail dk "$n" swarm unlock <<<"$key"
    expect_contains "$OUT" "invalid key provided" "$n refuses the old key"
    run_ok dk "$n" swarm unlock <<<"$new"
    wait_for 200 0.05 "$n to serve node ls" dk "$n" node ls
    wait_for 200 0.05 "$n to see three reachable managers" \
        bash -c "[ \$($DOCKER -H unix://$(node_sock "$n") node ls --format '{{.ManagerStatus}}' | grep -c -E '^(Leader|Reachable)$') = 3 ]"
done

log "a manager joining the autolocked swarm never writes its key in clear"
start_node m4
# Every PEM type swarm-node.key shows from the start of the join until the
# stop file appears (bounded: at most 20000 looks).
seen="$TMP/m4-pem-types"
: >"$seen"
(
    for _ in $(seq 20000); do
        [ -e "$TMP/m4-stop" ] && break
        sed -n 's/^-----BEGIN \(.*\)-----$/\1/p' "$(keyfile m4)" 2>/dev/null >>"$seen"
    done
) &
poller=$!
mtoken=$(dk m1 swarm join-token -q manager)
run_ok dk m4 swarm join --token "$mtoken" --advertise-addr "$(addr m4)" --listen-addr "$(addr m4)" "$(addr m1)"
expect_eq "$(head -n 1 "$(keyfile m4)")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "m4 key file locked when join returns"
expect_contains "$(cat "$(keyfile m4)")" "raft-dek: " "m4 DEK header"
touch "$TMP/m4-stop"
wait "$poller"
grep -q . "$seen" || fail "the poller never saw m4's key file"
expect_eq "$(sort -u "$seen" | tr '\n' ' ')" "ENCRYPTED PRIVATE KEY " "PEM types of m4's key file during the join"
v4=$(kek_version m4)
[ -n "$v4" ] && [ "$v4" -gt 0 ] || fail "m4's key file has no kek-version"
wait_for 200 0.05 "m4 to serve node ls" dk m4 node ls
expect_eq "$(kek_version m4)" "$v4" "m4's key file not rewritten by the store sync"
expect_not_contains "$(cat "$(node_dir m4)/daemon.log")" "autolock: node key" "m4 store sync rewrite"
kill9_node m4
start_node m4
expect_eq "$(state m4)" locked "m4 locked after kill -9"
expect_fail dk m4 swarm unlock <<<"$key"
expect_contains "$OUT" "invalid key provided" "m4 refuses the old key"
run_ok dk m4 swarm unlock <<<"$new"
wait_for 200 0.05 "m4 to serve node ls after unlock" dk m4 node ls

log "a worker joining the autolocked swarm keeps its key in clear"
start_node w5
run_ok dk w5 swarm join --token "$(dk m1 swarm join-token -q worker)" --advertise-addr "$(addr w5)" --listen-addr "$(addr w5)" "$(addr m1)"
expect_eq "$(head -n 1 "$(keyfile w5)")" "-----BEGIN PRIVATE KEY-----" "worker key file in clear"
expect_not_contains "$(cat "$(keyfile w5)")" "raft-dek" "worker key file has no DEK"

log "a worker promoted in the autolocked swarm never writes its key in clear"
# Every first line swarm-node.key shows once it differs from the worker's
# key file, from before the promotion until the stop file appears
# (bounded: at most 50000 looks, no process started per look).
wkey=$(<"$(keyfile w5)")
seen="$TMP/w5-pem-types"
: >"$seen"
(
    for ((i = 0; i < 50000; i++)); do
        [ -e "$TMP/w5-stop" ] && break
        f=$(<"$(keyfile w5)") 2>/dev/null || continue
        [ -n "$f" ] && [ "$f" != "$wkey" ] && echo "${f%%$'\n'*}" >>"$seen"
    done
) &
poller=$!
w5id=$(dk w5 info -f '{{.Swarm.NodeID}}')
run_ok dk m1 node promote "$w5id"
promoted() { [ "$(dk w5 info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ]; }
wait_for 400 0.05 "w5 to run as a manager" promoted
wait_for 200 0.05 "w5 to serve node ls" dk w5 node ls
touch "$TMP/w5-stop"
wait "$poller"
grep -q . "$seen" || fail "the poller never saw w5's manager key file"
expect_eq "$(sort -u "$seen" | tr '\n' ' ')" "-----BEGIN ENCRYPTED PRIVATE KEY----- " "first lines of w5's key file after the promotion"
expect_contains "$(cat "$(keyfile w5)")" "raft-dek: " "w5 DEK header"
v5=$(kek_version w5)
[ -n "$v5" ] && [ "$v5" -gt 0 ] || fail "w5's key file has no kek-version"
expect_not_contains "$(cat "$(node_dir w5)/daemon.log")" "autolock: node key" "w5 store sync rewrite"
kill9_node w5
start_node w5
expect_eq "$(state w5)" locked "w5 locked after kill -9"
expect_fail dk w5 swarm unlock <<<"$key"
expect_contains "$OUT" "invalid key provided" "w5 refuses the old key"
run_ok dk w5 swarm unlock <<<"$new"
wait_for 200 0.05 "w5 to serve node ls after unlock" dk w5 node ls

log "autolock off: key files in clear, restarts are not locked"
run_ok dk m1 swarm update --autolock=false
clear_file() { [ "$(head -n 1 "$(keyfile "$1")")" = "-----BEGIN PRIVATE KEY-----" ]; }
for n in m1 m2 m3 m4 w5; do
    wait_for 200 0.05 "$n to store its key in clear" clear_file "$n"
done
expect_fail dk m1 swarm unlock-key -q
expect_contains "$OUT" "no unlock key is set" "unlock-key with autolock off"
stop_node m2 || fail "clean stop of m2"
start_node m2
wait_for 200 0.05 "m2 to come back active without unlock" is_state m2 active
wait_for 200 0.05 "m2 to serve node ls" dk m2 node ls
for n in m1 m2 m3 m4 w5; do check_node_log "$n"; done
log "ok"
