#!/bin/bash
# Node liveness: every node heartbeats the leader's dispatcher (through a
# follower's relay or locally); with a 1 s period a killed worker goes Down
# on every manager and Ready again when it comes back; node rm refuses a
# Ready node and removes a Down one; after kill -9 of the leader the new
# leader moves the survivors to unknown, hears from them again (Ready) and
# marks the dead leader Down.
. "$(dirname "$0")/lib.sh"

# Ports 24700-24899 (t3100 uses 24100-24699, t3000 24901-24999).
P=$((24700 + RANDOM % 40 * 5))
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }
MANAGERS="n1 n3 n4"

join() { # join NAME TOKEN
    dk "$1" swarm join --token "$2" --advertise-addr "$(addr "$1")" \
        --listen-addr "$(addr "$1")" "$(addr n1)"
}
id_of() { cat "$TMP/$1.id"; }
# status_on MANAGER NODE: the STATUS column of NODE in MANAGER's node ls.
status_on() {
    dk "$1" node ls --format '{{.ID}} {{.Status}}' 2>/dev/null |
        awk -v id="$(id_of "$2")" '$1 == id {print $2}'
}
is_status() { [ "$(status_on "$1" "$2")" = "$3" ]; }
# everywhere STATUS NODE...: every live manager shows each NODE with STATUS.
everywhere() {
    local want=$1 m n
    shift
    for m in $MANAGERS; do
        node_alive "$m" || continue
        for n in "$@"; do
            is_status "$m" "$n" "$want" || return 1
        done
    done
}
leader_name() {
    local m lid
    for m in $MANAGERS; do
        node_alive "$m" || continue
        lid=$(dk "$m" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null |
            awk '$2 == "Leader" {print $1}')
        [ -n "$lid" ] || continue
        for n in $MANAGERS; do
            [ "$(id_of "$n")" = "$lid" ] && { echo "$n"; return 0; }
        done
    done
    return 1
}

for n in n1 n2 n3 n4; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
run_ok dk n1 swarm update --dispatcher-heartbeat 1s
expect_eq "$(dk n1 info -f '{{.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}}')" 1s "heartbeat period"
run_ok join n2 "$(dk n1 swarm join-token -q worker)"
expect_eq "$OUT" "This node joined a swarm as a worker." "worker join"
for n in n3 n4; do
    run_ok join "$n" "$(dk n1 swarm join-token -q manager)"
    expect_eq "$OUT" "This node joined a swarm as a manager." "manager join $n"
done
for n in n1 n2 n3 n4; do dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"; done

log "all nodes Ready"
wait_for 200 0.1 "all nodes Ready on every manager" everywhere Ready n1 n2 n3 n4
expect_eq "$(dk n1 node inspect -f '{{.Status.Addr}}' "$(id_of n2)")" 127.0.0.1 "worker's Status.Addr"

log "node rm of a Ready worker is refused"
expect_fail dk n1 node rm "$(id_of n2)"
expect_contains "$OUT" "node $(id_of n2) is not down and can't be removed" "rm of a Ready node"

log "kill -9 the worker: Down on every manager"
kill9_node n2
t0=$(date +%s%N)
wait_for 150 0.1 "n2 Down on every manager" everywhere Down n2
log "n2 Down after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
expect_eq "$(dk n3 node inspect -f '{{.Status.State}} {{.Status.Message}}' "$(id_of n2)")" \
    "down heartbeat failure" "n2 status"
everywhere Ready n1 n3 n4 || fail "live nodes not Ready"

log "restart the worker: Ready again"
start_node n2
wait_for 150 0.1 "n2 Ready again" everywhere Ready n2

log "kill -9 the leader: survivors come back Ready under the new leader"
old=$(leader_name) || fail "no leader"
expect_eq "$old" n1 "first leader"
kill9_node n1
MANAGERS="n3 n4"
wait_for 200 0.1 "a new leader" leader_name
new=$(leader_name)
log "new leader: $new"
wait_for 300 0.1 "survivors Ready and n1 Down" everywhere Ready n2 n3 n4
wait_for 300 0.1 "the old leader Down" everywhere Down n1
expect_eq "$(dk "$new" node inspect -f '{{.Status.Message}}' "$(id_of n1)")" \
    'heartbeat failure for node in "unknown" state' "dead leader's message"
grep -q 'moved.*unknown\|is unknown' "$(node_dir "$new")/daemon.log" ||
    fail "the new leader did not move nodes to unknown"

log "node rm of a Down worker is accepted"
kill9_node n2
wait_for 150 0.1 "n2 Down under the new leader" everywhere Down n2
run_ok dk "$new" node rm "$(id_of n2)"
expect_eq "$(dk "$new" node ls -q | grep -c "$(id_of n2)")" 0 "n2 removed"

for n in n1 n2 n3 n4; do check_node_log "$n"; done
log "passed"
