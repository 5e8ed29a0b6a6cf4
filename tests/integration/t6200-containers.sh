#!/bin/bash
# Local containers with the real docker CLI against one shoal daemon: run
# attached and detached, --rm, create/start/ps/inspect/logs/exec/stop/rm,
# prefix and name addressing, Docker's error texts for bad specs, and a
# kill -9 of the daemon with containers running (still running after the
# restart, logs intact, a later exit recorded; an exit while the daemon
# was down recorded too; a created container kept and startable). Nothing
# stays mounted or running after rm.
. "$(dirname "$0")/lib.sh"

root() { echo "$(node_dir n1)/root"; }
is_up() { [ "$(dk n1 inspect -f '{{.State.Status}}' "$1")" = running ]; }
is_exited() { [ "$(dk n1 inspect -f '{{.State.Status}}' "$1")" = exited ]; }
logs_have() { dk n1 logs "$1" 2>&1 | grep -q -- "$2"; }
gone() { ! dk n1 inspect "$1" >/dev/null 2>&1; }
monitor_dead() { ! kill -0 "$1" 2>/dev/null; }

start_node n1
busybox_tar "$TMP/busybox.tar"
run_ok dk n1 import "$TMP/busybox.tar" busybox:latest

log "run attached: output of both streams and the exit code"
OUT=$(dk n1 run --name hello busybox sh -c 'echo to-out; echo to-err >&2; exit 3' 2>"$TMP/err")
rc=$?
expect_eq "$rc" 3 "exit code of an attached run"
expect_eq "$OUT" to-out "stdout of an attached run"
expect_eq "$(cat "$TMP/err")" to-err "stderr of an attached run"
expect_eq "$(dk n1 inspect -f '{{.State.Status}} {{.State.ExitCode}}' hello)" "exited 3"
expect_contains "$(dk n1 ps -a --format '{{.Names}} {{.Status}}')" "hello Exited (3)"

log "run --rm: removed after its exit"
OUT=$(dk n1 run --rm --name ephemeral busybox echo bye 2>&1) || fail "run --rm: $OUT"
expect_eq "$OUT" bye
gone ephemeral || fail "a --rm container is still there"

log "run -i (stdin, its end closes the container's), run -it (a tty)"
expect_eq "$(echo from-stdin | dk n1 run -i --rm busybox cat)" from-stdin
D="$DOCKER -H unix://$(node_sock n1)"
OUT=$(script -qec "$D run -it --rm busybox sh -c 'tty; exit 4'" /dev/null)
expect_eq "$?" 4 "exit code of run -it"
expect_contains "$OUT" /dev/pts/0

log "start -a, attach, logs -f until the exit"
dk n1 create --name sa busybox sh -c 'echo started-attached; exit 6' >/dev/null
OUT=$(dk n1 start -a sa)
expect_eq "$?" 6 "exit code of start -a"
expect_eq "$OUT" started-attached
dk n1 run -d --name at busybox sh -c 'sleep 1; echo attached-out; exit 2' >/dev/null
OUT=$(timeout 20 "$DOCKER" -H "unix://$(node_sock n1)" attach at)
expect_eq "$?" 2 "exit code of attach"
expect_eq "$OUT" attached-out
dk n1 run -d --name fx busybox sh -c 'echo first; sleep 1; echo second' >/dev/null
OUT=$(timeout 20 "$DOCKER" -H "unix://$(node_sock n1)" logs -f fx)
expect_eq "$?" 0 "logs -f ends at the exit"
expect_eq "$OUT" "$(printf 'first\nsecond')"
run_ok dk n1 rm sa at fx

log "--init, --entrypoint, -m, --network host, a missing command"
expect_eq "$(dk n1 run --rm --init busybox ps -o comm | sed -n 2p)" docker-init
expect_eq "$(dk n1 run --rm --entrypoint echo busybox via-entrypoint)" via-entrypoint
expect_eq "$(dk n1 run --rm -m 64m busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" 67108864
expect_eq "$(dk n1 run --rm --network host busybox ls /sys/class/net | sort)" "$(ls /sys/class/net | sort)"
OUT=$(dk n1 run --rm --name nocmd busybox no-such-command 2>&1)
expect_eq "$?" 127 "exit code of a missing command"
expect_contains "$OUT" 'exec: "no-such-command": executable file not found in $PATH'
gone nocmd || fail "a --rm container whose start failed is left"

log "run -d, ps, inspect, prefix and name addressing"
id=$(dk n1 run -d --name sleeper -l app=t6200 busybox \
    sh -c 'trap "exit 9" USR1; while true; do sleep 0.1; done') ||
    fail "run -d: $id"
[[ $id =~ ^[0-9a-f]{64}$ ]] || fail "run -d printed [$id]"
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}')" "sleeper Up"
expect_eq "$(dk n1 ps -q --filter label=app=t6200)" "${id:0:12}"
expect_eq "$(dk n1 ps -q --no-trunc --filter name=sleep)" "$id"
expect_eq "$(dk n1 inspect -f '{{.Name}} {{.State.Running}} {{.Config.Labels.app}} {{.Driver}}' "${id:0:7}")" \
    "/sleeper true t6200 overlay2"
expect_eq "$(dk n1 inspect -f '{{.Id}}' /sleeper)" "$id"
expect_not_contains "$(dk n1 ps --format '{{.Names}}')" hello "ps without -a"
expect_contains "$(dk n1 ps -a --filter exited=3 --format '{{.Names}}')" hello
expect_not_contains "$(dk n1 ps -a --filter status=exited --format '{{.Names}}')" sleeper
expect_fail dk n1 container inspect no-such-thing
expect_contains "$OUT" "No such container: no-such-thing"

log "exec: output, exit code, environment; exec -i with stdin"
OUT=$(dk n1 exec -e X=42 sleeper sh -c 'echo in-exec $X; exit 5')
expect_eq "$?" 5 "exec exit code"
expect_eq "$OUT" "in-exec 42"
expect_eq "$(echo piped | dk n1 exec -i sleeper cat)" piped "exec -i"

log "options: -e -w -u -h, binds, --read-only, --network none, --tmpfs"
OUT=$(dk n1 run --rm -e FOO=bar -w /tmp -u nobody -h boxhost busybox \
    sh -c 'echo $FOO $(pwd) $(id -u) $(hostname)' 2>&1)
expect_eq "$OUT" "bar /tmp 65534 boxhost"
mkdir -p "$TMP/vol"
echo host-data >"$TMP/vol/f"
expect_eq "$(dk n1 run --rm -v "$TMP/vol:/data:ro" busybox cat /data/f 2>&1)" host-data
expect_fail dk n1 run --rm -v "$TMP/vol:/data:ro" busybox touch /data/new
expect_fail dk n1 run --rm --read-only busybox touch /newfile
expect_eq "$(dk n1 run --rm --tmpfs /scratch busybox sh -c 'touch /scratch/x && echo ok' 2>&1)" ok
expect_eq "$(dk n1 run --rm --network none busybox sh -c 'ls /sys/class/net' 2>&1)" lo

log "create, start, logs, stop, rm"
cid=$(dk n1 create --name c1 busybox sh -c 'echo line1; echo line2; echo line3 >&2; exec sleep 300')
expect_contains "$(dk n1 ps -a --format '{{.Names}} {{.Status}}')" "c1 Created"
run_ok dk n1 start c1
wait_for 100 0.05 "c1 to log" logs_have c1 line3
expect_eq "$(dk n1 logs c1 2>/dev/null)" "$(printf 'line1\nline2')"
expect_eq "$(dk n1 logs --tail 1 c1 2>&1)" line3
expect_contains "$(dk n1 logs -t c1 2>&1 | head -1)" "Z line1"
expect_fail dk n1 rm c1
expect_contains "$OUT" 'cannot remove container "/c1": container is running: stop the container before removing or force remove'
run_ok dk n1 stop -t 1 c1
expect_eq "$(dk n1 inspect -f '{{.State.Status}} {{.State.ExitCode}}' c1)" "exited 137"
expect_contains "$(dk n1 ps -a --format '{{.Names}} {{.Status}}')" "c1 Exited (137)"
expect_fail dk n1 exec c1 true
expect_contains "$OUT" "container $cid is not running"
run_ok dk n1 rm c1
gone c1 || fail "c1 still there after rm"
[ ! -e "$(root)/containers/$cid" ] || fail "c1's directory is left"

log "kill -s, wait, restart, rename, rm -f"
run_ok dk n1 kill -s USR1 sleeper
expect_eq "$(dk n1 wait sleeper)" 9 "wait after SIGUSR1 (trapped)"
run_ok dk n1 restart sleeper
is_up sleeper || fail "sleeper is not up after restart"
run_ok dk n1 rename sleeper napper
expect_eq "$(dk n1 inspect -f '{{.Name}}' "$id")" /napper
expect_fail dk n1 create --name napper busybox true
expect_contains "$OUT" "Conflict. The container name \"/napper\" is already in use by container \"$id\". You have to remove (or rename) that container to be able to reuse that name."
expect_fail dk n1 rename hello napper
expect_contains "$OUT" "The container name \"/napper\" is already in use"
expect_fail dk n1 create --name 'bad name!' busybox true
expect_contains "$OUT" "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
run_ok dk n1 rm -f napper
gone napper || fail "napper still there after rm -f"

log "ambiguous prefix"
a=$(dk n1 create busybox true)
b=$(dk n1 create busybox true)
p=""
for ((i = 1; i < 12; i++)); do
    [ "${a:0:i}" = "${b:0:i}" ] && p=${a:0:i}
done
if [ -n "$p" ]; then
    expect_fail dk n1 container inspect "$p"
    expect_contains "$OUT" "multiple IDs found with provided prefix: $p"
fi
run_ok dk n1 rm "$a" "$b"

log "hostile and invalid specs are refused; the daemon keeps serving"
OUT=$(api n1 POST /v1.51/containers/create '{"Image":"busybox","Tty":"yes"}')
expect_contains "$OUT" "400 "
expect_contains "$OUT" "cannot unmarshal string into Go struct field"
OUT=$(api n1 POST /v1.51/containers/create '{"Image":"busybox","HostConfig":{"Binds":["relative:/x"]}}')
expect_contains "$OUT" "400 "
OUT=$(api n1 POST /v1.51/containers/create '[1,2]')
expect_contains "$OUT" "400 "
OUT=$(api n1 POST /v1.51/containers/create '{"Image":')
expect_contains "$OUT" "400 "
expect_fail dk n1 run --rm -m 1k busybox true
expect_contains "$OUT" "Minimum memory limit allowed is 6MB"
expect_fail dk n1 run --rm --network nosuchnet busybox true
expect_contains "$OUT" "network nosuchnet not found"
expect_fail dk n1 run --rm --mount type=bind,source=/no/such/dir,target=/x busybox true
expect_contains "$OUT" "bind source path does not exist: /no/such/dir"
expect_fail dk n1 create nosuchimage
expect_contains "$OUT" "nosuchimage"
ping_node n1 >/dev/null || fail "the daemon stopped serving"

log "container prune"
pid_=$(dk n1 create --name pruned busybox true)
OUT=$(dk n1 container prune -f)
expect_contains "$OUT" "$pid_"
expect_contains "$OUT" "Deleted Containers:"
gone pruned || fail "prune left a stopped container"

log "kill -9 of the daemon with containers running"
dk n1 run -d --name survivor busybox sh -c \
    'echo before; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo after; exit 7' >/dev/null
sid=$(dk n1 inspect -f '{{.Id}}' survivor)
dk n1 run -d --name brief busybox sh -c \
    'while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 4' >/dev/null
bid=$(dk n1 inspect -f '{{.Id}}' brief)
# Created only (its root mounted since create): acknowledged, so kept.
dk n1 create --name made busybox sh -c 'echo made' >/dev/null
wait_for 100 0.05 "survivor to log" logs_have survivor before
kill9_node n1
# brief exits while no daemon watches it.
touch "$(root)/containers/$bid/rootfs/tmp/go"
bmon=$(cat "$(root)/containers/$bid/monitor.pid")
wait_for 200 0.05 "brief's monitor to exit" monitor_dead "$bmon"
start_node n1
expect_eq "$(dk n1 inspect -f '{{.State.Status}}' survivor)" running "survivor after the restart"
expect_contains "$(dk n1 ps --format '{{.Names}} {{.Status}}')" "survivor Up"
expect_eq "$(dk n1 logs survivor 2>&1)" before "logs after the restart"
expect_eq "$(dk n1 inspect -f '{{.State.Status}} {{.State.ExitCode}}' brief)" "exited 4"
expect_eq "$(dk n1 inspect -f '{{.State.Status}}' made)" created "made after the restart"
run_ok dk n1 start made
expect_eq "$(dk n1 wait made)" 0 "made's exit"
expect_eq "$(dk n1 logs made 2>&1)" made "made's logs"
[ "$(dk n1 inspect -f '{{.State.FinishedAt}}' brief)" != "0001-01-01T00:00:00Z" ] ||
    fail "brief's FinishedAt not recorded"
run_ok dk n1 exec survivor touch /tmp/go
expect_eq "$(dk n1 wait survivor)" 7 "survivor's exit after the restart"
expect_eq "$(dk n1 logs survivor 2>&1)" "$(printf 'before\nafter')"

log "a clean daemon stop with clients attached, following, waiting, exec'ing"
dk n1 run -d --name ticker busybox sh -c 'while true; do echo tick; sleep 0.2; done' >/dev/null
wait_for 100 0.05 "ticker to log" logs_have ticker tick
pids=()
timeout 30 "$DOCKER" -H "unix://$(node_sock n1)" logs -f ticker >/dev/null 2>&1 & pids+=($!)
timeout 30 "$DOCKER" -H "unix://$(node_sock n1)" wait ticker >/dev/null 2>&1 & pids+=($!)
timeout 30 "$DOCKER" -H "unix://$(node_sock n1)" attach ticker >/dev/null 2>&1 & pids+=($!)
timeout 30 "$DOCKER" -H "unix://$(node_sock n1)" exec ticker sleep 60 >/dev/null 2>&1 & pids+=($!)
wait_for 100 0.05 "the exec to run" sh -c "ps -eo args | grep -q '^sleep 60'"
stop_node n1 || fail "the daemon did not stop with clients connected"
check_node_log n1
wait "${pids[@]}" 2>/dev/null
start_node n1
is_up ticker || fail "ticker is not running after a clean restart"
run_ok dk n1 rm -f ticker

log "rm everything: no mounts, runc containers or monitors left"
mons=$(cat "$(root)"/containers/*/monitor.pid 2>/dev/null)
dk n1 ps -aq | xargs -r "$DOCKER" -H "unix://$(node_sock n1)" rm -f >/dev/null
expect_eq "$(dk n1 ps -aq)" "" "containers left"
expect_eq "$(awk -v t="$(root)/" 'index($5, t) == 1' /proc/self/mountinfo)" "" "mounts left"
expect_eq "$(ls "$(root)/runc" 2>/dev/null)" "" "runc containers left"
for m in $mons; do
    wait_for 100 0.05 "monitor $m to exit" monitor_dead "$m"
done
stop_node n1 || fail "the daemon did not stop cleanly"
check_node_log n1
log "ok"
