#!/bin/bash
# Second pass over local containers with the real docker CLI: exec -it
# through a pty (typed input, output, exit code, window size set by the
# CLI and changed by a resize), exec inspect (Pid, resize errors),
# stop -s / kill -s with signal names and numbers.
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
