/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shoal-monitor's wire protocol, shared with engine/runtime.c. The
 * monitor serves it on <container dir>/monitor.sock (SOCK_STREAM). Every
 * message is a frame: one type byte, the payload length (4 bytes, big
 * endian, at most MONITOR_FRAME_MAX), the payload.
 *
 * Client -> monitor:
 *   'H' hello, first frame: 1 byte of MONITOR_WANT_* flags
 *   'I' stdin bytes; an empty payload closes the container's stdin
 *   'R' resize: rows, cols (2 bytes each, big endian); tty only
 *   'S' start the created container (runc start); answered 'P' or 'F'
 *   'K' signal the container's init: 4 bytes, big endian
 * Monitor -> client:
 *   'A' hello accepted: the init's PID in decimal ("" before create)
 *   'O' / 'E' stdout / stderr bytes (a tty's output is all 'O')
 *   'P' started: the init's PID in decimal
 *   'F' start failed: the message
 *   'X' the container exited: the exit file's JSON (below); then EOF
 *
 * Files in the container directory (the monitor's working directory):
 * monitor.pid, monitor.sock, init.pid while it runs; exit.json written
 * atomically before it exits: {"ExitCode":N,"OOMKilled":false,
 * "FinishedAt":"RFC 3339 nano","Error":""}.
 *
 * Startup: the monitor writes one line to its stdout once runc create (run
 * with --run: the container runs) is done, "ok <pid>\n" or
 * "err <runc's message>\n", then closes it. With --run it records the exit
 * only once a control client said hello (or the start timeout passed), so
 * the daemon connecting after "ok" always finds the socket or exit.json.
 */
#ifndef SHOAL_MONITOR_H
#define SHOAL_MONITOR_H

#define MONITOR_FRAME_MAX (64 * 1024)
#define MONITOR_HDR_LEN 5

#define MONITOR_WANT_IN 0x01
#define MONITOR_WANT_OUT 0x02
#define MONITOR_WANT_ERR 0x04
#define MONITOR_WANT_CONTROL 0x08

#define MONITOR_SOCK "monitor.sock"
#define MONITOR_PIDFILE "monitor.pid"
#define MONITOR_INITPID "init.pid"
#define MONITOR_EXITFILE "exit.json"

#endif
