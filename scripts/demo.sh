#!/bin/bash
# make demo / make demo-down: a single-node swarm on this machine, with its
# own data root and socket, left running for you to drive with `docker` or
# `shoal`.
set -eu
cd "$(dirname "$0")/.."

DEMO_DIR=${SHOAL_DEMO_DIR:-/tmp/shoal-demo}
SOCK=$DEMO_DIR/shoal.sock
PIDFILE=$DEMO_DIR/shoal.pid
SHOAL=$PWD/build/shoal

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

up() {
    mkdir -p "$DEMO_DIR"
    if ! running; then
        setsid "$SHOAL" daemon --data-root "$DEMO_DIR/root" -H "unix://$SOCK" \
            -p "$PIDFILE" >>"$DEMO_DIR/daemon.log" 2>&1 </dev/null &
        for _ in $(seq 1 100); do
            curl -sf --unix-socket "$SOCK" http://shoal/_ping >/dev/null 2>&1 && break
            sleep 0.05
        done
        curl -sf --unix-socket "$SOCK" http://shoal/_ping >/dev/null ||
            { echo "shoal daemon did not start; see $DEMO_DIR/daemon.log" >&2; exit 1; }
    fi
    if [ "$("$SHOAL" -H "unix://$SOCK" info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
        "$SHOAL" -H "unix://$SOCK" swarm init --advertise-addr 127.0.0.1
    fi
    echo
    "$SHOAL" -H "unix://$SOCK" node ls
    cat <<MSG

shoal is running (pid $(cat "$PIDFILE"), data root $DEMO_DIR/root, log $DEMO_DIR/daemon.log).

Drive it with the docker CLI:
    export DOCKER_HOST=unix://$SOCK
    docker node ls
    docker info

or with shoal's own CLI:
    export SHOAL_HOST=unix://$SOCK
    $SHOAL node ls
    $SHOAL swarm join-token worker

Stop it with: make demo-down
MSG
}

down() {
    if running; then
        pid=$(cat "$PIDFILE")
        kill -TERM "$pid"
        for _ in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "shoal demo daemon stopped"
    else
        echo "no shoal demo daemon is running"
    fi
    rm -rf "$DEMO_DIR"
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
