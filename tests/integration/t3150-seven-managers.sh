#!/bin/bash
# Seven managers: a Raft group survives the loss of any minority (three),
# refuses writes with Docker's no-leader error when a fourth goes, and
# heals by itself.
. "$(dirname "$0")/lib.sh"

P=$((25600 + RANDOM % 40 * 8))
M=(n1 n2 n3 n4 n5 n6 n7)
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }
managers_ok() { [ "$(dk "$1" node ls --format '{{.ManagerStatus}}' 2>/dev/null | grep -c -E '^(Leader|Reachable)$')" = "$2" ]; }
digest() { curl -sf --max-time 5 --unix-socket "$(node_sock "$1")" http://shoal/_shoal/debug/store-digest | jq -r .Digest; }
converged() {
    local n d first=""
    for n in "$@"; do
        d=$(digest "$n") || return 1
        [ -z "$first" ] && first=$d
        [ "$d" = "$first" ] || return 1
    done
}
leader() { # the name of the node n1..n7 that leads, as a live manager sees it
    local via=$1 id n
    id=$(dk "$via" node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2 == "Leader" {print $1}')
    for n in "${M[@]}"; do [ "$(cat "$TMP/$n.id")" = "$id" ] && echo "$n"; done
}

for n in "${M[@]}"; do start_node "$n"; done
run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
token=$(dk n1 swarm join-token -q manager)
for n in n2 n3 n4 n5 n6 n7; do
    run_ok dk "$n" swarm join --token "$token" --advertise-addr "$(addr $n)" --listen-addr "$(addr $n)" "$(addr n1)"
done
for n in "${M[@]}"; do dk "$n" info -f '{{.Swarm.NodeID}}' >"$TMP/$n.id"; done
wait_for 600 0.05 "seven managers" managers_ok n1 7
target=$(cat "$TMP/n1.id")

log "three of seven managers die, the leader among them: still a quorum"
l=$(leader n1)
dead=("$l")
for n in n7 n6 n5 n4; do
    [ ${#dead[@]} -ge 3 ] && break
    [ "$n" = "$l" ] || dead+=("$n")
done
for n in "${dead[@]}"; do kill9_node "$n"; done
alive=()
for n in "${M[@]}"; do [[ " ${dead[*]} " == *" $n "* ]] || alive+=("$n"); done
wait_for 400 0.05 "a write with four of seven managers" dk "${alive[0]}" node update --label-add four=1 "$target"
for n in "${alive[@]}"; do
    wait_for 400 0.05 "node ls through $n" dk "$n" node ls
done

log "a fourth dies: no leader, Docker's error"
kill9_node "${alive[3]}"
nl() { ! dk "${alive[0]}" node update --label-add three=1 "$target" >"$TMP/o" 2>&1 && grep -q "The swarm does not have a leader" "$TMP/o"; }
wait_for 400 0.05 "the no-leader error with three of seven" nl

log "all come back: one cluster, converged"
for n in "${dead[@]}" "${alive[3]}"; do start_node "$n"; done
wait_for 600 0.05 "seven managers again" managers_ok "${alive[0]}" 7
run_ok dk "${alive[1]}" node update --label-add back=1 "$target"
wait_for 600 0.05 "all seven stores to converge" converged "${M[@]}"
expect_eq "$(dk n1 node inspect -f '{{index .Spec.Labels "four"}}{{index .Spec.Labels "back"}}' "$target")" 11 "acknowledged writes kept"
for n in "${M[@]}"; do check_node_log "$n"; done
log "passed"
