#!/bin/bash
# `shoal service create/update` take docker's flags and send the same spec:
# each service is made twice against one daemon, once with the docker CLI
# and once with shoal's, with the same flags, and the two specs read back
# with `docker service inspect` must be equal (the name aside; lists docker
# builds from Go maps, whose order is random, compared sorted). Then the
# same for an update of each with -add/-rm flags. --replicas 0 keeps the
# comparison free of running tasks.
. "$(dirname "$0")/lib.sh"

# Ports 27720-27839.
P=$((27720 + RANDOM % 60 * 2))
start_node n1
export SHOAL_HOST="unix://$(node_sock n1)"
run_ok dk n1 swarm init --advertise-addr "127.0.0.1:$P" --listen-addr "127.0.0.1:$P"
printf 'pw' | run_ok dk n1 secret create s1 -
printf 'pw2' | run_ok dk n1 secret create s2 -
printf 'conf' | run_ok dk n1 config create c1 -
printf 'A=1\n# comment\n\nB=two words\n' >"$TMP/env.list"

# spec NAME: the service's spec without its name, arrays of strings and
# the map-built lists sorted.
spec() {
    dk n1 service inspect "$1" | jq -S '.[0].Spec | del(.Name)
        | .TaskTemplate.ContainerSpec.Env |= (if . then sort else . end)
        | .TaskTemplate.ContainerSpec.Secrets |= (if . then sort_by(.SecretName) else . end)
        | .TaskTemplate.ContainerSpec.Configs |= (if . then sort_by(.ConfigName) else . end)'
}

same() {
    local want got
    want=$(spec "$1")
    got=$(spec "$2")
    [ "$want" = "$got" ] || {
        diff <(echo "$want") <(echo "$got")
        fail "$3: specs differ (docker's < > shoal's)"
    }
}

FLAGS=(--replicas 0 --label a=b -l c --container-label x=y
    -e FOO=bar --env-file "$TMP/env.list" --workdir /tmp -u 1000:1000
    --group 10 --hostname h1 --host db:10.0.0.2 --dns 10.0.0.53
    --dns-search example.com --dns-option ndots:2 --init --read-only
    --stop-signal SIGUSR1 --stop-grace-period 1m30s -t
    --cap-add net_admin --cap-drop CAP_CHOWN
    --entrypoint "sh -c" --mount type=tmpfs,dst=/x,tmpfs-size=64m
    --mount type=bind,src=/tmp,dst=/y,readonly
    --mount type=volume,src=vol,dst=/z,volume-label=k=v,volume-nocopy
    --publish 8080:80 -p published=9090,target=90,protocol=udp,mode=host
    --secret s1 --secret source=s2,target=t2,mode=0400
    --config src=c1,target=/etc/c1
    --limit-cpu 0.5 --limit-memory 64m --limit-pids 100
    --reserve-cpu 0.25 --reserve-memory 1g
    --restart-condition on-failure --restart-delay 3s
    --restart-max-attempts 4 --restart-window 1m
    --update-parallelism 2 --update-delay 10s --update-monitor 1s
    --update-failure-action rollback --update-max-failure-ratio 0.25
    --update-order start-first
    --rollback-parallelism 3 --rollback-delay 1s --rollback-order stop-first
    --health-cmd "true" --health-interval 5s --health-retries 2
    --health-timeout 2s --health-start-period 1s
    --placement-pref spread=node.labels.zone --constraint node.role==manager
    --replicas-max-per-node 2 --endpoint-mode vip
    --log-driver json-file --log-opt max-size=1m
    --sysctl net.core.somaxconn=1024 --oom-score-adj 100
    --with-registry-auth --no-resolve-image -d -q)

log "create: the same spec from both CLIs"
run_ok dk n1 service create --name d1 "${FLAGS[@]}" busybox sleep 1d
run_ok "$SHOAL" service create --name s1svc "${FLAGS[@]}" busybox sleep 1d
same d1 s1svc "create with many flags"

log "create: defaults and a global service"
run_ok dk n1 service create -d --name d2 --mode global busybox
run_ok "$SHOAL" service create -d --name s2svc --mode global busybox
same d2 s2svc "global with defaults"
run_ok dk n1 service create -d --name d3 --replicas 0 --no-healthcheck busybox
run_ok "$SHOAL" service create --name s3svc --replicas 0 --no-healthcheck busybox
same d3 s3svc "no healthcheck"

UFLAGS=(--label-add e=f --label-rm a --container-label-rm x
    --container-label-add z=1 --env-add FOO=baz --env-add NEW=1 --env-rm A
    --args "sleep 2d" --workdir /var --user 0 --hostname h2
    --host-add web:10.0.0.3 --host-rm db:10.0.0.2 --dns-add 10.0.0.54
    --dns-rm 10.0.0.53 --group-add 20 --group-rm 10 --no-healthcheck
    --mount-add type=tmpfs,dst=/w --mount-rm /x
    --publish-add 7070:70 --publish-rm 80
    --secret-rm s1 --secret-add source=s1,target=again
    --config-rm c1 --constraint-add node.role!=worker
    --constraint-rm node.role==manager --placement-pref-rm spread=node.labels.zone
    --placement-pref-add spread=node.labels.rack
    --limit-memory 128m --reserve-cpu 0.5 --restart-condition any
    --update-parallelism 5 --rollback-monitor 3s --replicas 0
    --stop-grace-period 5s --read-only=false --tty=false --init=false
    --cap-add sys_time --force --image busybox:latest -d)

log "update: the same spec from both CLIs"
run_ok dk n1 service update "${UFLAGS[@]}" d1
run_ok "$SHOAL" service update "${UFLAGS[@]}" s1svc
expect_eq "$OUT" s1svc "update prints the service"
same d1 s1svc "update with -add/-rm flags"

log "bad values: docker's texts"
expect_fail "$SHOAL" service create --limit-memory 12x busybox
expect_contains "$OUT" 'invalid argument "12x" for "--limit-memory" flag: invalid size: '"'12x'" "bad size"
expect_fail "$SHOAL" service create --limit-cpu abc busybox
expect_contains "$OUT" 'invalid argument "abc" for "--limit-cpu" flag: failed to parse abc as a rational number' "bad cpus"
expect_fail "$SHOAL" service create --mount type=tmpfs busybox
expect_contains "$OUT" 'invalid argument "type=tmpfs" for "--mount" flag: target is required' "bad mount"
expect_fail "$SHOAL" service create -p published=1 busybox
expect_contains "$OUT" "for \"-p, --publish\" flag: missing mandatory field 'target'" "bad port"
expect_fail "$SHOAL" service create --update-delay 1x busybox
expect_contains "$OUT" 'invalid argument "1x" for "--update-delay" flag: time: unknown unit "x" in duration "1x"' "bad duration"
expect_fail "$SHOAL" service create --secret nosuch busybox
expect_contains "$OUT" "secret not found: nosuch" "unknown secret"
expect_fail "$SHOAL" service create --mode global --replicas 2 busybox
expect_contains "$OUT" "replicas can only be used with replicated or replicated-job mode" "global replicas"
log "PASS"
