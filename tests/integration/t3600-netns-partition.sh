#!/bin/bash
# Three managers, each in its own network namespace (198.18.0.K/24 on
# eth0, veth to a bridge in a hub namespace), driven by the real docker
# CLI. The leader is cut off twice, once by a silent nftables drop on its
# bridge port (packets vanish both ways) and once by taking its eth0 down:
# the majority side elects a leader and takes writes through either
# manager, the cut-off manager refuses writes with Docker's no-leader
# error, and after healing all three stores converge, the healed manager
# takes writes again, every write acknowledged during the partition is on
# every manager and no refused write ever appears.
. "$(dirname "$0")/lib.sh"

for tool in nft nsenter jq; do
    command -v "$tool" >/dev/null || fail "needs $tool"
done

# Namespaces are the only names this test adds outside its own namespaces:
# t3600-<pid>-hub and t3600-<pid>-nK. Links (bridge br0, veths vK, eth0)
# are created directly inside them, and the nftables table lives in the
# hub, so nothing is added to the root namespace.
NSP=t3600-$$
HUB=$NSP-hub
ns_of() { echo "$NSP-$1"; }
ip_of() { echo "198.18.0.${1#n}"; }
in_ns() { # in_ns NS CMD...: CMD in namespace NS' network namespace only
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" -- "$@"
}

netns_cleanup() {
    local n
    for n in n1 n2 n3; do
        ip netns del "$(ns_of "$n")" 2>/dev/null
    done
    ip netns del "$HUB" 2>/dev/null
    for n in "$HUB" "$(ns_of n1)" "$(ns_of n2)" "$(ns_of n3)"; do
        [ -e "/run/netns/$n" ] && log "WARNING: netns $n still present"
    done
    return 0
}
# The daemons go first (a namespace lives as long as a process in it),
# then the namespaces (and with them the veths, the bridge and the nft
# table), then lib.sh's cleanup (logs, sanitizer check, TMP, exit code).
t3600_cleanup() {
    local rc=$? n
    for n in "${NODES[@]:-}"; do
        [ -n "$n" ] && { stop_node "$n" || true; }
    done
    netns_cleanup
    (exit "$rc")
    cleanup
}
trap t3600_cleanup EXIT

# Namespaces left by an earlier run of this test that was SIGKILLed.
for stale in $(ip netns list | awk '{print $1}' | sed -n 's/^\(t3600-[0-9][0-9]*\)-.*/\1/p' | sort -u); do
    kill -0 "${stale#t3600-}" 2>/dev/null && continue
    for s in $(ip netns list | awk '{print $1}' | grep "^$stale-"); do ip netns del "$s"; done
done

log "namespaces: hub $HUB with bridge br0, managers at 198.18.0.1-3/24"
ip netns add "$HUB" || fail "ip netns add $HUB"
ip -n "$HUB" link set lo up
ip -n "$HUB" link add br0 type bridge || fail "bridge in $HUB"
ip -n "$HUB" link set br0 up
for n in n1 n2 n3; do
    ns=$(ns_of "$n")
    k=${n#n}
    ip netns add "$ns" || fail "ip netns add $ns"
    ip -n "$ns" link set lo up
    ip -n "$HUB" link add "v$k" type veth peer name eth0 netns "$ns" || fail "veth for $ns"
    ip -n "$HUB" link set "v$k" master br0 up
    ip -n "$ns" addr add "$(ip_of "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
done
# reach FROM TO: a TCP connect from FROM's namespace to TO's port 9 gets an
# answer (nothing listens there: "Connection refused" means reachable).
reach() {
    local out
    out=$(in_ns "$(ns_of "$1")" timeout 2 bash -c "exec 3<>/dev/tcp/$(ip_of "$2")/9" 2>&1) ||
        [[ $out == *"Connection refused"* ]]
}
wait_for 50 0.1 "n1 to reach n2 over the bridge" reach n1 n2
wait_for 50 0.1 "n1 to reach n3 over the bridge" reach n1 n3

for n in n1 n2 n3; do
    SHOAL_WRAP="nsenter --net=/run/netns/$(ns_of "$n") --" start_node "$n"
done
# The daemon really is in its namespace: it sees eth0 with its address.
expect_eq "$(readlink "/proc/$(node_pid n2)/ns/net")" "$(in_ns "$(ns_of n2)" readlink /proc/self/ns/net)" "n2's network namespace"

run_ok dk n1 swarm init --advertise-addr "$(ip_of n1)"
token=$(dk n1 swarm join-token -q manager)
for n in n2 n3; do
    run_ok dk "$n" swarm join --token "$token" --advertise-addr "$(ip_of "$n")" "$(ip_of n1):2377"
    expect_eq "$OUT" "This node joined a swarm as a manager." "join $n"
done

digest() { curl -sf --max-time 5 --unix-socket "$(node_sock "$1")" http://shoal/_shoal/debug/store-digest | jq -r .Digest; }
converged() {
    local n d first=""
    for n in "$@"; do
        d=$(digest "$n") || return 1
        [ -n "$d" ] && [ "$d" != null ] || return 1
        [ -z "$first" ] && first=$d
        [ "$d" = "$first" ] || return 1
    done
}
managers_ok() { # NODE WANT: WANT managers Leader/Reachable seen through NODE
    [ "$(timeout 10 "$DOCKER" -H "unix://$(node_sock "$1")" node ls --format '{{.ManagerStatus}}' 2>/dev/null |
        grep -c -E '^(Leader|Reachable)$')" = "$2" ]
}
for n in n1 n2 n3; do
    wait_for 400 0.05 "$n to see three reachable managers" managers_ok "$n" 3
    dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"
done
name_of() {
    local n
    for n in n1 n2 n3; do
        [ "$(cat "$TMP/$n.id")" = "$1" ] && { echo "$n"; return 0; }
    done
    return 1
}
# leader_seen_by NODE: the name of the manager NODE's node ls shows as Leader.
leader_seen_by() {
    local id
    id=$(timeout 10 "$DOCKER" -H "unix://$(node_sock "$1")" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null |
        awk '$2 == "Leader" {print $1}')
    [ -n "$id" ] && name_of "$id"
}
# status_seen_by NODE OF: OF's MANAGER STATUS in NODE's node ls.
status_seen_by() {
    timeout 10 "$DOCKER" -H "unix://$(node_sock "$1")" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null |
        awk -v id="$(cat "$TMP/$2.id")" '$1 == id {print $2}'
}

status_is() { [ "$(status_seen_by "$1" "$2")" = "$3" ]; }

target=$(cat "$TMP/n1.id")
acked=()   # label keys whose write was acknowledged
refused=() # label keys whose write through a cut-off manager failed
# write VIA KEY: label KEY=1 on n1's node through manager VIA; 0 if acked.
write() {
    if timeout 20 "$DOCKER" -H "unix://$(node_sock "$1")" node update --label-add "$2=1" "$target" \
        >"$TMP/write.out" 2>&1; then
        acked+=("$2")
        return 0
    fi
    return 1
}

log "a write through each manager"
for n in n1 n2 n3; do
    write "$n" "pre-$n" || fail "write through $n: $(cat "$TMP/write.out")"
done
wait_for 400 0.05 "the stores to converge" converged n1 n2 n3

NOLEADER="Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online."

# cut HOW NODE / heal HOW NODE
cut() {
    case $1 in
    nft)
        # A silent drop on NODE's bridge port, both ways: its peers and it
        # see packets vanish, TCP connections stay open but go quiet.
        in_ns "$HUB" nft -f - <<EOF || fail "nft drop for $2"
table bridge t3600 {
    chain cut {
        type filter hook forward priority 0; policy accept;
        iifname "v${2#n}" drop
        oifname "v${2#n}" drop
    }
}
EOF
        ;;
    linkdown) ip -n "$(ns_of "$2")" link set eth0 down || fail "link down on $2" ;;
    esac
}
heal() {
    case $1 in
    nft) in_ns "$HUB" nft delete table bridge t3600 || fail "nft delete for $2" ;;
    linkdown)
        ip -n "$(ns_of "$2")" link set eth0 up || fail "link up on $2"
        # The connected route comes back with the link.
        wait_for 50 0.1 "$2 to reach its peers again" reach "$2" "$3"
        ;;
    esac
}

# majority_write VIA KEY: a write through VIA, retried until acknowledged.
majority_write() {
    local i
    for ((i = 0; i < 200; i++)); do
        write "$1" "$2" && return 0
        sleep 0.05
    done
    fail "no write acknowledged through $1 ($2): $(cat "$TMP/write.out")"
}

partition_round() {
    local how=$1 round=$2 cutn a b n l i t0 got early
    # The leader as every manager sees it.
    cutn=$(leader_seen_by n1) || fail "no leader seen by n1 before round $round"
    for n in n2 n3; do
        expect_eq "$(leader_seen_by "$n")" "$cutn" "leader seen by $n before round $round"
    done
    a="" b=""
    for n in n1 n2 n3; do
        [ "$n" = "$cutn" ] && continue
        if [ -z "$a" ]; then a=$n; else b=$n; fi
    done
    log "round $round: cut off the leader $cutn ($how); majority $a $b"
    t0=$(date +%s%N)
    cut "$how" "$cutn"
    # A write through the cut-off leader right away, before it can have
    # noticed: it cannot commit, so it must fail (and never appear).
    timeout 20 "$DOCKER" -H "unix://$(node_sock "$cutn")" node update --label-add "r$round-early=1" "$target" \
        >"$TMP/early.out" 2>&1 &
    early=$!

    # The majority side: a new leader among a and b, writes through both.
    got=0
    for ((i = 0; i < 200 && got == 0; i++)); do
        for n in "$a" "$b"; do
            if write "$n" "r$round-first-$n-$i"; then got=1; break; fi
        done
        [ "$got" = 1 ] || sleep 0.05
    done
    [ "$got" = 1 ] || fail "round $round: the majority ($a $b) took no write: $(cat "$TMP/write.out")"
    log "round $round: the majority took a write $(( ($(date +%s%N) - t0) / 1000000 )) ms after the cut"
    majority_write "$a" "r$round-a"
    majority_write "$b" "r$round-b"
    l=$(leader_seen_by "$a") || fail "round $round: $a shows no leader"
    [ "$l" = "$a" ] || [ "$l" = "$b" ] || fail "round $round: $a shows $l as leader"
    expect_eq "$(leader_seen_by "$b")" "$l" "round $round: leader seen by $b"
    wait_for 200 0.1 "round $round: $a to show $cutn Unreachable" status_is "$a" "$cutn" Unreachable

    # The cut-off side: Docker's no-leader error (after it notices).
    got=0
    for ((i = 0; i < 100; i++)); do
        if write "$cutn" "r$round-cut-$i"; then
            fail "round $round: write through the cut-off $cutn acknowledged"
        fi
        if grep -q "The swarm does not have a leader" "$TMP/write.out"; then
            refused+=("r$round-cut-$i")
            got=1
            break
        fi
        log "round $round: write $i through $cutn before it noticed: $(cat "$TMP/write.out")"
        sleep 0.1
    done
    [ "$got" = 1 ] || fail "round $round: the cut-off $cutn never gave the no-leader error; last: $(cat "$TMP/write.out")"
    expect_eq "$(cat "$TMP/write.out")" "$NOLEADER" "round $round: no-leader text"
    log "round $round: $cutn refuses writes with the no-leader error $(( ($(date +%s%N) - t0) / 1000000 )) ms after the cut"
    wait "$early" && fail "round $round: the write through $cutn right after the cut was acknowledged"
    log "round $round: the write through $cutn right after the cut failed $(( ($(date +%s%N) - t0) / 1000000 )) ms after the cut: $(cat "$TMP/early.out")"
    # Docker answers a proposal cut short by a lost leadership with
    # "rpc error: code = Unknown desc = raft: failed to process the request:
    # node lost leader status"; a later one gets the no-leader error.
    grep -q -E "node lost leader status|The swarm does not have a leader" "$TMP/early.out" ||
        fail "round $round: the early write through $cutn: $(cat "$TMP/early.out")"
    refused+=("r$round-early")
    # Reads there are the leader's too: Docker refuses them the same way.
    expect_fail dk "$cutn" node ls
    expect_eq "$OUT" "$NOLEADER" "round $round: node ls through the cut-off $cutn"
    # ... and keeps refusing, while the majority keeps taking writes.
    for i in 1 2 3; do
        expect_fail write "$cutn" "r$round-cut-again-$i"
        expect_contains "$(cat "$TMP/write.out")" "The swarm does not have a leader" "round $round: refusal $i through $cutn"
        refused+=("r$round-cut-again-$i")
        majority_write "$a" "r$round-during-a-$i"
        majority_write "$b" "r$round-during-b-$i"
    done
    wait_for 200 0.05 "round $round: the majority stores to converge" converged "$a" "$b"
    converged "$a" "$b" "$cutn" && fail "round $round: the cut-off $cutn has the majority's store while cut off"

    log "round $round: heal"
    t0=$(date +%s%N)
    heal "$how" "$cutn" "$a"
    wait_for 600 0.05 "round $round: the stores to converge after healing" converged n1 n2 n3
    log "round $round: converged $(( ($(date +%s%N) - t0) / 1000000 )) ms after healing"
    majority_write "$cutn" "r$round-healed-$cutn"
    wait_for 400 0.05 "round $round: three reachable managers after healing" managers_ok "$cutn" 3
    wait_for 400 0.05 "round $round: the stores to converge after a write through $cutn" converged n1 n2 n3
}

partition_round nft 1
partition_round linkdown 2

log "every acknowledged write is on every manager, no refused write anywhere"
for n in n1 n2 n3; do
    labels=$(dk "$n" node inspect -f '{{json .Spec.Labels}}' "$target") || fail "node inspect through $n"
    for k in "${acked[@]}"; do
        [[ $labels == *"\"$k\":\"1\""* ]] || fail "acknowledged write $k missing (read through $n)"
    done
    for k in "${refused[@]}"; do
        [[ $labels != *"\"$k\":"* ]] || fail "refused write $k present (read through $n)"
    done
done
log "${#acked[@]} acknowledged writes, ${#refused[@]} refused ones checked on n1 n2 n3"
for n in n1 n2 n3; do check_node_log "$n"; done
log "passed"
