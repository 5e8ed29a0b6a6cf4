#!/bin/bash
# Container healthchecks run by the engine, with the real docker CLI:
# State.Health (starting, unhealthy, then healthy once the test passes;
# FailingStreak; Log of the last 5 results), ps's "(healthy)" status and
# its health filter (with Docker's error for a bad value), no Health for
# --no-healthcheck, a test killed at its timeout with Docker's text, the
# output capped at 4096 bytes, unhealthy once stopped and starting again
# at the next start, and checks resumed after a kill -9 of the daemon.
. "$(dirname "$0")/lib.sh"

health() { dk n1 inspect -f '{{.State.Health.Status}}' "$1"; }
health_is() { [ "$(health "$1")" = "$2" ]; }
# hjson NAME EXPR: a Python expression over h, the container's
# State.Health.
hjson() {
    dk n1 inspect -f '{{json .State.Health}}' "$1" |
        python3 -c "import json, sys; h = json.load(sys.stdin); print($2)"
}

start_node n1
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox:latest

log "a failing test: starting, then unhealthy after 2 failures"
run_ok dk n1 run -d --name hc --health-cmd 'test -f /tmp/ok' \
    --health-interval 1s --health-retries 2 --health-start-period 0s \
    busybox sleep 300
expect_eq "$(health hc)" starting "health right after the start"
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}')" \
    "(health: starting)"
wait_for 100 0.1 "hc unhealthy" health_is hc unhealthy
expect_eq "$(hjson hc 'h["FailingStreak"] >= 2')" True "failing streak"
expect_eq "$(hjson hc 'h["Log"][-1]["ExitCode"]')" 1 "exit code in Log"
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}')" "(unhealthy)"
expect_eq "$(dk n1 ps -q --filter health=unhealthy)" "$(dk n1 ps -q --filter name=hc)" \
    "health=unhealthy lists hc"

log "the test passes: healthy"
run_ok dk n1 exec hc touch /tmp/ok
wait_for 100 0.1 "hc healthy" health_is hc healthy
expect_eq "$(hjson hc 'h["FailingStreak"]')" 0 "streak ended"
expect_eq "$(hjson hc 'h["Log"][-1]["ExitCode"]')" 0 "last result"
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}')" "hc Up"
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}' --filter name=hc)" "(healthy)"
expect_eq "$(dk n1 ps --format '{{.Names}}' --filter health=healthy)" hc \
    "health=healthy"
expect_eq "$(dk n1 ps -q --filter health=unhealthy)" "" "health=unhealthy"
expect_fail dk n1 ps --filter health=bogus
expect_contains "$OUT" "Unrecognised filter value for health: bogus"
wait_for 100 0.1 "5 results in Log" bash -c \
    "[ \"\$($DOCKER -H unix://$(node_sock n1) inspect -f '{{len .State.Health.Log}}' hc)\" = 5 ]"
s0=$(hjson hc 'h["Log"][-1]["Start"]')
new_result() { [ "$(hjson hc 'h["Log"][-1]["Start"]')" != "$s0" ]; }
wait_for 100 0.1 "one more result" new_result
expect_eq "$(dk n1 inspect -f '{{len .State.Health.Log}}' hc)" 5 "Log keeps 5"
expect_eq "$(hjson hc 'all(set(r) == {"Start", "End", "ExitCode", "Output"} for r in h["Log"])')" \
    True "Log entries' fields"

log "no healthcheck: no Health"
run_ok dk n1 run -d --name plain --no-healthcheck busybox sleep 300
run_ok dk n1 run -d --name plain2 busybox sleep 300
expect_eq "$(dk n1 inspect -f '{{json .State.Health}}' plain)" null "--no-healthcheck"
expect_eq "$(dk n1 inspect -f '{{json .State.Health}}' plain2)" null "none at all"
expect_eq "$(dk n1 inspect -f '{{json .Config.Healthcheck.Test}}' plain)" '["NONE"]'
expect_eq "$(dk n1 ps --format '{{.Names}}' --filter health=none | sort | tr '\n' ' ')" \
    "plain plain2 " "health=none"
expect_not_contains "$(dk n1 ps --format '{{.Status}}' --filter name=plain)" "health"

log "a test past its timeout is killed: Docker's text, exit code -1"
run_ok dk n1 run -d --name slow --health-cmd 'sleep 30' \
    --health-interval 1s --health-timeout 500ms --health-retries 1 \
    busybox sleep 300
wait_for 100 0.1 "slow unhealthy" health_is slow unhealthy
expect_eq "$(hjson slow 'h["Log"][0]["Output"]')" \
    "Health check exceeded timeout (500ms)" "timeout text"
expect_eq "$(hjson slow 'h["Log"][0]["ExitCode"]')" -1 "timeout exit code"
# killed tests do not pile up: after 3 timeouts, one test at most runs
three_results() { [ "$(hjson slow 'len(h["Log"])')" -ge 3 ]; }
wait_for 100 0.1 "3 results of slow" three_results
n=$(dk n1 exec slow sh -c 'ps -o args | grep -c "^sleep 30"')
[ "$n" -le 1 ] || fail "killed tests still running: $n"

log "output capped at 4096 bytes"
run_ok dk n1 run -d --name loud \
    --health-cmd 'head -c 5000 /dev/zero | tr "\0" x' \
    --health-interval 1s busybox sleep 300
wait_for 100 0.1 "loud healthy" health_is loud healthy
expect_eq "$(hjson loud 'len(h["Log"][0]["Output"])')" 4099 "4096 bytes and ..."
expect_eq "$(hjson loud 'h["Log"][0]["Output"][-4:]')" "x..." "truncation mark"
run_ok dk n1 rm -f loud slow plain plain2

log "stopped: unhealthy; started again: starting"
run_ok dk n1 stop -t 1 hc
expect_eq "$(health hc)" unhealthy "health of a stopped container"
expect_eq "$(dk n1 ps -aq --filter health=unhealthy)" "$(dk n1 ps -aq --filter name=hc)"
run_ok dk n1 start hc
expect_eq "$(health hc)" starting "health after a start"
run_ok dk n1 exec hc touch /tmp/ok
wait_for 100 0.1 "hc healthy again" health_is hc healthy

log "kill -9 of the daemon: Health kept, checks resumed"
kill9_node n1
start_node n1
expect_eq "$(health hc)" healthy "health after the daemon's restart"
run_ok dk n1 exec hc rm /tmp/ok
wait_for 100 0.1 "hc unhealthy after the restart" health_is hc unhealthy
run_ok dk n1 rm -f hc
check_node_log n1
log "ok"
