# Shared by the t40xx service tests (sourced after lib.sh): a manager n1
# and workers n2, n3 on loopback ports P.., the busybox image imported on
# each, and helpers over the real docker CLI.
addr() { echo "127.0.0.1:$((P + ${1#n} - 1))"; }

join() { # join NAME TOKEN
    dk "$1" swarm join --token "$2" --advertise-addr "$(addr "$1")" \
        --listen-addr "$(addr "$1")" "$(addr n1)"
}
id_of() { cat "$TMP/$1.id"; }
node_status_is() {
    [ "$(dk n1 node inspect -f '{{.Status.State}}' "$(id_of "$1")" 2>/dev/null)" = "$2" ]
}
# running SERVICE: number of its tasks running (desired running).
running() {
    dk n1 service ps -q --filter desired-state=running \
        --format '{{.CurrentState}}' "$1" | grep -c '^Running'
}
running_is() { [ "$(running "$1")" = "$2" ]; }
replicas_is() {
    [ "$(dk n1 service ls --filter "name=$1" --format '{{.Replicas}}')" = "$2" ]
}
# containers NODE SERVICE: running containers of the service on NODE.
containers() {
    dk "$1" ps --filter "label=com.docker.swarm.service.name=$2" -q | wc -l
}
total_is() {
    local n c=0
    for n in n1 n2 n3; do c=$((c + $(containers "$n" "$1"))); done
    [ "$c" = "$2" ]
}
# total_is2 SERVICE N: N of its containers run on n1 and n2.
total_is2() {
    [ $(($(containers n1 "$1") + $(containers n2 "$1"))) = "$2" ]
}
no_containers() {
    local n
    for n in n1 n2 n3; do
        [ "$(dk "$n" ps -a --filter "label=com.docker.swarm.service.name=$1" -q | wc -l)" = 0 ] || return 1
    done
}

# svc_cluster: start n1 n2 n3, make the swarm (heartbeat 1 s), import
# busybox on each.
svc_cluster() {
    local n
    for n in n1 n2 n3; do start_node "$n"; done
    run_ok dk n1 swarm init --advertise-addr "$(addr n1)" --listen-addr "$(addr n1)"
    run_ok dk n1 swarm update --dispatcher-heartbeat 1s
    busybox_tar "$TMP/busybox.tar"
    run_ok dk n1 import "$TMP/busybox.tar" busybox
    dk n1 info -f '{{.Swarm.NodeID}}' >"$TMP/n1.id"
    for n in n2 n3; do svc_join "$n"; done
}
# svc_join NODE: a started node joins as a worker, busybox imported first.
svc_join() {
    run_ok dk "$1" import "$TMP/busybox.tar" busybox
    run_ok join "$1" "$(dk n1 swarm join-token -q worker)"
    dk "$1" info -f '{{.Swarm.NodeID}}' >"$TMP/$1.id"
    wait_for 200 0.1 "$1 Ready" node_status_is "$1" ready
}
