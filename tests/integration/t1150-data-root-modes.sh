#!/bin/bash
# Modes of everything the daemon writes under its data root: the root
# itself 0700, swarm/ and swarm/raft 0700, Raft's files and the state files
# 0600, the node key 0600 and the certificates 0644; nothing under the root
# readable or writable by others. Checked after init and after a restart
# (a data root left loose by an older version is tightened at start).
. "$(dirname "$0")/lib.sh"

check_modes() {
    local root=$1 what=$2 f loose
    log "$what:"
    find "$root" -printf '%m %y %P\n' | sed 's/^/    /'
    expect_eq "$(stat -c %a "$root")" 700 "$what: data root"
    expect_eq "$(stat -c %a "$root/swarm")" 700 "$what: swarm dir"
    expect_eq "$(stat -c %a "$root/swarm/raft")" 700 "$what: raft dir"
    expect_eq "$(stat -c %a "$root/swarm/certificates/swarm-node.key")" 600 "$what: key"
    expect_eq "$(stat -c %a "$root/swarm/certificates/swarm-node.crt")" 644 "$what: node cert"
    expect_eq "$(stat -c %a "$root/swarm/certificates/swarm-root-ca.crt")" 644 "$what: root cert"
    for f in docker-state.json state.json; do
        expect_eq "$(stat -c %a "$root/swarm/$f")" 600 "$what: $f"
    done
    [ -f "$root/engine-id" ] && expect_eq "$(stat -c %a "$root/engine-id")" 600 "$what: engine-id"
    for f in "$root"/swarm/raft/*; do
        [ -f "$f" ] && expect_eq "$(stat -c %a "$f")" 600 "$what: raft file $(basename "$f")"
    done
    # Nothing writable by others anywhere (but inside image layers, whose
    # modes are the image's: /tmp is 1777); nothing readable by others in
    # swarm/ except certificates (public by nature).
    loose=$(find "$root" -path "$root/overlay2/*/diff" -prune -o \
        -perm -o+w ! -type l -print)
    expect_eq "$loose" "" "$what: world-writable entries"
    loose=$(find "$root/swarm" \( -type f -o -type d \) -perm -o+r \
        ! -name '*.crt')
    expect_eq "$loose" "" "$what: swarm entries readable by others"
}

swarm_active() {
    [ "$(dk n1 info -f '{{.Swarm.LocalNodeState}}')" = active ]
}

start_node n1
root=$(node_dir n1)/root
run_ok dk n1 swarm init --advertise-addr 127.0.0.1
run_ok dk n1 info
check_modes "$root" "after init"

log "a loose data root is tightened at start"
stop_node n1
chmod 0755 "$root"
start_node n1
wait_for 100 0.1 "swarm active after restart" swarm_active
check_modes "$root" "after restart"
log "ok"
