#!/bin/bash
# Second pass over local containers with the real docker CLI: exec -it
# through a pty (typed input, output, exit code, window size set by the
# CLI and changed by a resize), exec inspect (Pid, resize errors),
# stop -s / kill -s with signal names and numbers, restart policies (invalid
# ones, on-failure's count, always's back-off and State.Restarting, a stop
# ending it, and what a daemon restart starts again).
. "$(dirname "$0")/lib.sh"

start_node n1
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox:latest
D="$DOCKER -H unix://$(node_sock n1)"

# ptyrun ROWS COLS CMD: run CMD under a pty of ROWS x COLS and drive it:
# wait for the prompt, type `stty size; tty`, read the answer, change the
# window to 40x120 (SIGWINCH: the CLI posts /exec/{id}/resize), type
# `stty size; exit 7`. Prints what the pty showed; exits with CMD's code.
ptyrun() {
    python3 - "$@" <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time
rows, cols, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", cmd])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
seen = b""
def read_until(pat, secs=20):
    global seen
    end = time.time() + secs
    while pat not in seen:
        left = end - time.time()
        if left <= 0:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("timed out waiting for %r" % pat)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError:
                b = b""
            if not b:
                sys.stdout.write(seen.decode(errors="replace"))
                sys.exit("eof waiting for %r" % pat)
            seen += b
read_until(b"# ")
os.write(fd, b"echo mark-$((6*7)); stty size; tty\n")
read_until(b"/dev/pts/")
read_until(b"# ")
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
os.kill(pid, signal.SIGWINCH)
# the CLI resizes asynchronously: ask until the new size shows
for i in range(100):
    os.write(fd, b"stty size\n")
    time.sleep(0.1)
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        seen += os.read(fd, 4096)
    if b"40 120" in seen:
        break
os.write(fd, b"exit 7\n")
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    seen += b
_, st = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
PY
}

log "exec -it: typed input, output, tty size, a resize, the exit code"
run_ok dk n1 run -d --name box busybox sleep 600
OUT=$(ptyrun 33 101 "$D exec -it box sh")
rc=$?
expect_eq "$rc" 7 "exit code of exec -it (output: $OUT)"
expect_contains "$OUT" "mark-42"
expect_contains "$OUT" "33 101" "the CLI's window size"
expect_contains "$OUT" "40 120" "the size after a resize"
expect_contains "$OUT" "/dev/pts/"
OUT=$(script -qec "$D exec -it box sh -c 'tty; exit 3'" /dev/null)
expect_eq "$?" 3 "exit code of exec -it under script"
expect_contains "$OUT" /dev/pts/

log "exec inspect: the Pid of a running exec; resize through the API"
jget() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().split(" ",1)[1]); print(d'"$1"')'; }
exec_pid() { api n1 GET "/v1.51/exec/$1/json" | jget '["Pid"]'; }
pid_known() { [ "$(exec_pid "$1")" != 0 ]; }
mkexec() {
    api n1 POST /v1.51/containers/box/exec "{\"Cmd\":[\"sleep\",\"$2\"],\"Tty\":$1}" | jget '["Id"]'
}
tx=$(mkexec true 61)
nx=$(mkexec false 62)
OUT=$(api n1 POST "/v1.51/exec/$tx/resize?h=10&w=10")
expect_contains "$OUT" "400 " "resize before the start"
expect_contains "$OUT" "exec process is not started"
for x in "$tx" "$nx"; do
    expect_contains "$(api n1 POST "/v1.51/exec/$x/start" '{"Detach":true}')" "200"
done
wait_for 100 0.05 "the tty exec's Pid" pid_known "$tx"
wait_for 100 0.05 "the exec's Pid" pid_known "$nx"
p=$(exec_pid "$tx")
expect_contains "$(tr '\0' ' ' </proc/"$p"/cmdline)" "sleep 61" "Pid of the tty exec"
p=$(exec_pid "$nx")
expect_contains "$(tr '\0' ' ' </proc/"$p"/cmdline)" "sleep 62" "Pid of the exec"
expect_eq "$(api n1 GET "/v1.51/exec/$nx/json" | jget '["Running"]')" True
expect_contains "$(api n1 POST "/v1.51/exec/$tx/resize?h=50&w=60")" "200"
OUT=$(api n1 POST "/v1.51/exec/$tx/resize?h=70000&w=60")
expect_contains "$OUT" "400 "
expect_contains "$OUT" "invalid tty size 70000x60"
OUT=$(api n1 POST "/v1.51/exec/$nx/resize?h=50&w=60")
expect_contains "$OUT" "409 "
expect_contains "$OUT" "it has no TTY"
OUT=$(api n1 POST "/v1.51/exec/nosuch/resize?h=50&w=60")
expect_contains "$OUT" "404 "
expect_contains "$OUT" "No such exec instance: nosuch"
OUT=$(api n1 POST "/v1.51/exec/$tx/resize?h=x&w=60")
expect_contains "$OUT" "400 "
run_ok dk n1 rm -f box

log "stop -s, kill -s: signal names and numbers, bad signals"
run_ok dk n1 run -d --name sig busybox sh -c \
    'trap "exit 11" USR1; trap "exit 12" USR2; trap "exit 13" HUP; while true; do sleep 0.1; done'
code() { dk n1 inspect -f '{{.State.ExitCode}}' "$1"; }
run_ok dk n1 stop -s SIGUSR1 sig
expect_eq "$(code sig)" 11 "stop -s SIGUSR1"
run_ok dk n1 start sig
run_ok dk n1 stop -s usr2 sig
expect_eq "$(code sig)" 12 "stop -s usr2"
run_ok dk n1 start sig
run_ok dk n1 stop --signal 1 sig
expect_eq "$(code sig)" 13 "stop --signal 1"
run_ok dk n1 start sig
expect_fail dk n1 stop -s NOPE sig
expect_contains "$OUT" "Invalid signal: NOPE"
expect_fail dk n1 kill -s 0 sig
expect_contains "$OUT" "Invalid signal: 0"
expect_eq "$(dk n1 inspect -f '{{.State.Status}}' sig)" running "after bad signals"
run_ok dk n1 kill -s 10 sig
expect_eq "$(dk n1 wait sig)" 11 "kill -s 10"
run_ok dk n1 start sig
run_ok dk n1 kill -s SIGHUP sig
expect_eq "$(dk n1 wait sig)" 13 "kill -s SIGHUP"
run_ok dk n1 start sig
# before API 1.42 the signal parameter is not one: StopSignal, then KILL
expect_contains "$(api n1 POST '/v1.41/containers/sig/stop?signal=USR1&t=1')" 204
expect_eq "$(code sig)" 137 "stop with ?signal= on API 1.41"
run_ok dk n1 rm sig

log "restart policies: invalid ones refused with Docker's texts"
mk() { api n1 POST /v1.51/containers/create "{\"Image\":\"busybox\",\"HostConfig\":{\"RestartPolicy\":$1}}"; }
OUT=$(mk '{"Name":"sometimes"}')
expect_contains "$OUT" "400 "
expect_contains "$OUT" "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
OUT=$(mk '{"Name":"always","MaximumRetryCount":3}')
expect_contains "$OUT" "invalid restart policy: maximum retry count can only be used with 'on-failure'"
OUT=$(mk '{"Name":"on-failure","MaximumRetryCount":-1}')
expect_contains "$OUT" "invalid restart policy: maximum retry count cannot be negative"
OUT=$(mk '{"Name":"on-failure","MaximumRetryCount":"2"}')
expect_contains "$OUT" "400 "
expect_fail dk n1 run -d --restart always:3 busybox true
# Docker 25+: the daemon's text (older ones said "cannot be used with
# restart policy 'always'")
expect_contains "$OUT" "invalid restart policy: maximum retry count can only be used with 'on-failure'"
expect_fail dk n1 run --rm --restart always busybox true
expect_contains "$OUT" "cannot specify both --restart and --rm"
expect_eq "$(dk n1 ps -aq)" "" "containers created by refused requests"

log "on-failure:2: two restarts with back-off, RestartCount, then exited"
run_ok dk n1 run -d --name onf --restart on-failure:2 busybox sh -c 'echo run; exit 3'
onf_done() {
    [ "$(dk n1 inspect -f '{{.State.Status}} {{.RestartCount}}' onf)" = "exited 2" ]
}
wait_for 200 0.05 "onf's two restarts" onf_done
expect_eq "$(dk n1 logs onf 2>&1)" "$(printf 'run\nrun\nrun')" "onf's three runs"
expect_eq "$(code onf)" 3
run_ok dk n1 run -d --name onf0 --restart on-failure busybox true
expect_eq "$(dk n1 wait onf0)" 0
expect_eq "$(dk n1 inspect -f '{{.State.Status}} {{.RestartCount}}' onf0)" "exited 0" \
    "on-failure after exit 0"

log "always: restarts, State.Restarting, ps; rm and exec refused; stop ends it"
run_ok dk n1 run -d --name alw --restart always busybox sh -c 'echo up; exit 1'
count_ge() { [ "$(dk n1 inspect -f '{{.RestartCount}}' "$1")" -ge "$2" ]; }
# the back-off doubles from 100 ms: the fifth restart waits 1.6 s, the
# sixth 3.2 s
wait_for 300 0.05 "alw's fifth restart" count_ge alw 5
restarting() { [ "$(dk n1 inspect -f '{{.State.Restarting}} {{.State.Status}}' "$1")" = "true restarting" ]; }
wait_for 200 0.02 "alw to wait for a restart" restarting alw
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}')" "alw Restarting (1)"
expect_eq "$(dk n1 ps -q --filter status=restarting)" "$(dk n1 inspect -f '{{.Id}}' alw | cut -c1-12)"
expect_fail dk n1 rm alw
expect_contains "$OUT" 'cannot remove container "/alw": container is restarting: stop the container before removing or force remove'
expect_fail dk n1 exec alw true
expect_contains "$OUT" "is restarting, wait until the container is running"
run_ok dk n1 stop alw
expect_eq "$(dk n1 inspect -f '{{.State.Status}} {{.State.Restarting}}' alw)" "exited false"
n_alw=$(dk n1 inspect -f '{{.RestartCount}}' alw)
run_ok dk n1 start alw
wait_for 100 0.05 "alw to restart after a start" count_ge alw 1
run_ok dk n1 stop alw
n_alw=$(dk n1 inspect -f '{{.RestartCount}}' alw)

log "across a daemon restart: always, unless-stopped, on-failure, no"
root() { echo "$(node_dir n1)/root"; }
monitor_dead() { ! kill -0 "$1" 2>/dev/null; }
state() { dk n1 inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$1"; }
run_ok dk n1 run -d --name a1 --restart always busybox sleep 600
run_ok dk n1 stop -s KILL a1
run_ok dk n1 run -d --name u1 --restart unless-stopped busybox sleep 600
run_ok dk n1 stop -s KILL u1
waiter='while [ ! -f /tmp/go ]; do sleep 0.1; done; rm /tmp/go; echo ran; exit 5'
run_ok dk n1 run -d --name u2 --restart unless-stopped busybox sh -c "$waiter"
run_ok dk n1 run -d --name n2 busybox sh -c "$waiter"
run_ok dk n1 run -d --name f2 --restart on-failure busybox sh -c \
    'while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 0'
expect_eq "$(dk n1 inspect -f '{{.State.Status}} {{.RestartCount}}' alw)" "exited $n_alw" \
    "alw restarted after a stop by the user"
run_ok dk n1 rm alw
# r3 waits for a restart when the daemon stops: restarted after its start
run_ok dk n1 run -d --name r3 --restart on-failure:50 busybox sh -c 'exit 1'
wait_for 300 0.05 "r3's third restart" count_ge r3 3
wait_for 200 0.02 "r3 to wait for a restart" restarting r3
r3n=$(dk n1 inspect -f '{{.RestartCount}}' r3)
stop_node n1 || fail "the daemon did not stop cleanly"
for n in u2 n2 f2; do
    id=$(for f in "$(root)"/containers/*/config.v2.json; do
        python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
if d["Name"] == sys.argv[2]:
    print(d["ID"])' "$f" "/$n"
    done)
    touch "$(root)/containers/$id/rootfs/tmp/go"
    mon=$(cat "$(root)/containers/$id/monitor.pid")
    wait_for 200 0.05 "$n's monitor to exit" monitor_dead "$mon"
done
start_node n1
is_running() { [ "$(dk n1 inspect -f '{{.State.Status}}' "$1")" = running ]; }
wait_for 200 0.05 "a1 (always) to be started again" is_running a1
wait_for 200 0.05 "u2 (unless-stopped, exited while down) to restart" is_running u2
expect_eq "$(dk n1 inspect -f '{{.RestartCount}}' u2)" 1 "u2's RestartCount"
expect_eq "$(dk n1 logs u2 2>&1)" ran "u2's first run"
expect_eq "$(state u1)" "exited 137 0" "u1 (unless-stopped, stopped by the user)"
expect_eq "$(state n2)" "exited 5 0" "n2 (no policy)"
expect_eq "$(state f2)" "exited 0 0" "f2 (on-failure, exit 0)"
wait_for 200 0.05 "r3 to restart again" count_ge r3 $((r3n + 1))

run_ok dk n1 rm -f a1 u1 u2 n2 f2 onf onf0 r3
expect_eq "$(dk n1 ps -aq)" "" "containers left"
stop_node n1 || fail "the daemon did not stop cleanly"
check_node_log n1
log "ok"
