#!/bin/bash
# Three managers on loopback: every manager serves the API with the
# leader's authority; kill -9 of the leader, five times during a stream of
# writes through the others: every acknowledged write survives on every
# manager, and stores converge; all managers killed and restarted come back
# as the same cluster.
. "$(dirname "$0")/lib.sh"

P=$((24100 + RANDOM % 100 * 6))
addr() { # n1..n3 managers, w1..w2 workers
    case $1 in
    n*) echo "127.0.0.1:$((P + ${1#n} - 1))" ;;
    w*) echo "127.0.0.1:$((P + 3 + ${1#w} - 1))" ;;
    esac
}

leader_of() {
    # The node ID shown as Leader by any live manager.
    local n
    for n in n1 n2 n3; do
        node_alive "$n" || continue
        dk "$n" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null |
            awk '$2 == "Leader" {print $1}' && return 0
    done
    return 1
}
name_of() {
    local n
    for n in n1 n2 n3; do
        [ "$(cat "$TMP/$n.id" 2>/dev/null)" = "$1" ] && { echo "$n"; return; }
    done
}
digest() { curl -sf --max-time 5 --unix-socket "$(node_sock "$1")" http://shoal/_shoal/debug/store-digest | jq -r .Digest; }
all_converged() {
    local d1 d2 d3
    d1=$(digest n1) && d2=$(digest n2) && d3=$(digest n3) &&
        [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ]
}
three_managers() {
    [ "$(dk "$1" node ls --filter role=manager -q 2>/dev/null | wc -l)" = 3 ] &&
        [ "$(dk "$1" node ls --format '{{.ManagerStatus}}' | grep -c -E '^(Leader|Reachable)$')" = 3 ]
}

for n in n1 n2 n3 w1 w2; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
token=$(dk n1 swarm join-token -q manager)
for n in n2 n3; do
    run_ok dk "$n" swarm join --token "$token" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n1)"
    expect_eq "$OUT" "This node joined a swarm as a manager." "join $n"
done
for n in w1 w2; do
    run_ok dk "$n" swarm join --token "$(dk n1 swarm join-token -q worker)" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n2)"
    expect_eq "$OUT" "This node joined a swarm as a worker." "join $n"
done
for n in n1 n2 n3; do
    dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"
    wait_for 300 0.05 "$n to see three managers" three_managers "$n"
done
cluster_id=$(dk n1 info -f '{{.Swarm.Cluster.ID}}')

log "every manager serves node ls with the leader's view (3 managers, 2 workers)"
ref=$(dk n1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort)
expect_eq "$(wc -l <<<"$ref")" 5 "five nodes"
for n in n2 n3; do
    expect_eq "$(dk "$n" node ls --format '{{.ID}} {{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort)" "$ref" "node ls on $n"
done

log "a worker leaves and is removed; the other stays"
w2id=$(dk w2 info -f '{{.Swarm.NodeID}}')
run_ok dk w2 swarm leave
expect_eq "$OUT" "Node left the swarm." "worker leave"
run_ok dk n3 node rm --force "$w2id"
expect_eq "$(dk n2 node ls -q | wc -l)" 4 "four nodes after rm"

log "writes through followers"
target=$(cat "$TMP/n1.id")
acked=()
write() { # write VIA KEY: a label on n1's node through manager VIA
    if dk "$1" node update --label-add "$2=1" "$target" >/dev/null 2>&1; then
        acked+=("$2")
    fi
}
write n2 w0
write n3 w1
expect_eq "${#acked[@]}" 2 "writes through followers"
wait_for 200 0.05 "stores to converge" all_converged

# Sample every manager's (term, leads?) all along the failovers: no term
# may ever have two leaders (Raft's election safety).
sampler() {
    local n
    while kill -0 $$ 2>/dev/null; do
        for n in n1 n2 n3; do
            curl -sf --max-time 1 --unix-socket "$(node_sock "$n")" \
                http://shoal/_shoal/debug/store-digest 2>/dev/null |
                jq -r --arg n "$n" 'select(.Leader) | "\(.Term) \($n)"'
        done
        sleep 0.02
    done
}
sampler >"$TMP/leaders" 2>/dev/null &
sampler_pid=$!

log "kill -9 the leader five times during writes"
for round in 1 2 3 4 5; do
    lid=$(leader_of) || fail "no leader before round $round"
    ln=$(name_of "$lid")
    kill9_node "$ln"
    t0=$(date +%s%N)
    # Writes through the survivors until one is acknowledged (bounded).
    ok=0
    for i in $(seq 1 200); do
        for n in n1 n2 n3; do
            [ "$n" = "$ln" ] && continue
            node_alive "$n" || continue
            before=${#acked[@]}
            write "$n" "r${round}i${i}$n"
            if [ ${#acked[@]} -gt "$before" ]; then ok=1; break 2; fi
        done
        sleep 0.05
    done
    [ "$ok" = 1 ] || fail "no write acknowledged after killing the leader ($ln) in round $round"
    log "round $round: leader $ln killed, a write acknowledged after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    start_node "$ln"
    wait_for 400 0.05 "$ln to rejoin" three_managers n1
    wait_for 400 0.05 "stores to converge after round $round" all_converged
done

kill "$sampler_pid" 2>/dev/null
wait "$sampler_pid" 2>/dev/null
terms=$(sort -u "$TMP/leaders" | awk '{print $1}' | uniq -d)
[ -z "$terms" ] || fail "two managers led in the same term(s): $terms ($(sort -u "$TMP/leaders" | tr '\n' ' '))"
expect_eq "$(sort -u "$TMP/leaders" | awk '{print $1}' | sort -un | wc -l | tr -d ' ')" \
    "$(sort -u "$TMP/leaders" | wc -l | tr -d ' ')" "one leader per term"
[ "$(sort -u "$TMP/leaders" | wc -l)" -ge 5 ] || fail "the sampler saw fewer than 5 leaderships: $(sort -u "$TMP/leaders" | tr '\n' ' ')"

log "every acknowledged write is on every manager"
for n in n1 n2 n3; do
    labels=$(dk "$n" node inspect -f '{{json .Spec.Labels}}' "$target")
    for k in "${acked[@]}"; do
        [[ $labels == *"\"$k\":\"1\""* ]] || fail "acknowledged write $k missing (read through $n)"
    done
done

log "all managers killed and restarted: the same cluster comes back"
before=$(dk n1 node ls --format '{{.ID}} {{.Hostname}}' | sort; dk n1 swarm join-token -q worker)
for n in n1 n2 n3; do kill9_node "$n"; done
for n in n1 n2 n3; do start_node "$n"; done
wait_for 400 0.05 "a leader after a full restart" three_managers n2
expect_eq "$(dk n2 info -f '{{.Swarm.Cluster.ID}}')" "$cluster_id" "cluster ID"
expect_eq "$(dk n3 node ls --format '{{.ID}} {{.Hostname}}' | sort; dk n3 swarm join-token -q worker)" "$before" "nodes and tokens"
wait_for 400 0.05 "stores to converge after the full restart" all_converged
for n in n1 n2 n3 w1 w2; do check_node_log "$n"; done
log "passed"
