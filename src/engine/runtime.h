/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container processes (issue 4, item 2). Each running container has one
 * shoal-monitor process (src/monitor/), started by this module in its own
 * session (the daemon's child, reaped by it, but it outlives the daemon),
 * that runs runc (create then start, or `runc run --detach` when no
 * attach waits for the first byte) as a child subreaper, keeps the
 * container's stdio, writes Docker's json-file log, serves attach clients
 * on a unix socket in the container's directory, and records the exit
 * status in a file before it exits. So a container outlives a daemon
 * restart, and runtime_recover finds it again.
 *
 * Everything is asynchronous on the daemon's uv loop; callbacks fire on it.
 */
#ifndef SHOAL_ENGINE_RUNTIME_H
#define SHOAL_ENGINE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <uv.h>

#include "base/err.h"

struct runtime;

/* state_root: <data-root>/containers (one directory per container ID);
 * runc's own state goes to <data-root>/runc. The shoal-monitor binary is
 * looked for next to /proc/self/exe. */
struct runtime *runtime_new(uv_loop_t *loop, const char *data_root,
                            struct err *err);
/* Close every handle (monitors keep running); cb fires once freed. */
void runtime_close(struct runtime *rt, void (*cb)(void *data), void *data);

/* A container's process ended (monitor reported it, or was found dead
 * with its exit file at recovery). finished_at is RFC 3339 with
 * nanoseconds. */
struct runtime_exit
{
    int exit_code;      /* 128+signal when killed by a signal */
    bool oom_killed;
    const char *finished_at;
    const char *error;  /* "" or why the start failed (runc's message) */
};
typedef void (*runtime_exit_fn)(void *data, const char *id,
                                const struct runtime_exit *ex);
void runtime_set_exit_cb(struct runtime *rt, runtime_exit_fn fn, void *data);

struct runtime_start_opts
{
    const char *id;       /* 64-hex container ID */
    const char *bundle;   /* directory holding config.json (oci_spec.h) */
    const char *log_path; /* json-file log, appended to */
    bool tty;             /* process.terminal in config.json */
    bool open_stdin;      /* keep a stdin pipe for attach clients */
};

/* Start: spawn the monitor, which creates the container with runc and
 * starts its process once every attach opened before (runtime_attach on
 * this id) is connected, so they see output from the first byte. cb gets
 * the container's init PID, or -code with runc's error text (Docker's
 * "OCI runtime create failed: ..." wording). */
typedef void (*runtime_started_fn)(void *data, int status,
                                   const struct err *err, pid_t pid);
int runtime_start(struct runtime *rt, const struct runtime_start_opts *opts,
                  runtime_started_fn cb, void *data, struct err *err);

/* Send a signal to the container's init (runc kill). */
int runtime_signal(struct runtime *rt, const char *id, int sig,
                   struct err *err);

/* After the exit callback: remove runc's state (runc delete). */
int runtime_delete(struct runtime *rt, const char *id, struct err *err);

/* At daemon start, for a container the daemon believed running: 1 if its
 * monitor is alive (the module reconnects; the exit callback will fire
 * later), 0 if it exited meanwhile (*ex filled from the exit file, strings
 * valid until the next call), -code on error. */
int runtime_recover(struct runtime *rt, const char *id, pid_t *pid_out,
                    struct runtime_exit *ex, struct err *err);

/* An attach client of a container's stdio. stream is 1 (stdout) or 2
 * (stderr), 0 with len 0 at the end (process exited or monitor gone). */
struct runtime_attach;
typedef void (*runtime_output_fn)(void *data, int stream, const char *buf,
                                  size_t len);
struct runtime_attach_opts
{
    bool in, out, err;  /* which streams the client wants */
};
/* May be called before runtime_start (see there) or while running. */
struct runtime_attach *runtime_attach(struct runtime *rt, const char *id,
                                      const struct runtime_attach_opts *o,
                                      runtime_output_fn fn, void *data,
                                      struct err *err);
/* stdin bytes (copied); len 0 closes the container's stdin. */
int runtime_attach_write(struct runtime_attach *a, const void *buf,
                         size_t len);
int runtime_resize(struct runtime *rt, const char *id, unsigned rows,
                   unsigned cols, struct err *err);
/* Detach; fn never fires after this. */
void runtime_attach_close(struct runtime_attach *a);

/* exec: runs `runc exec` for a process spec (OCI "process" object, JSON
 * text; its "terminal" is set from tty) in container id, stdio through the
 * callbacks (a tty's output is all stream 1). exit_fn gets the exit code.
 * The process does not outlive the daemon. With tty the pty master is held
 * by a `shoal-monitor exec` helper, so that runtime_exec_resize works. */
struct runtime_exec;
typedef void (*runtime_exec_exit_fn)(void *data, int exit_code);
struct runtime_exec *runtime_exec(struct runtime *rt, const char *id,
                                  const char *process_json, bool tty,
                                  runtime_output_fn out,
                                  runtime_exec_exit_fn exit_fn, void *data,
                                  struct err *err);
int runtime_exec_write(struct runtime_exec *x, const void *buf, size_t len);
/* Set a tty exec's window size: 0, -ERR_INVALID (over 65535),
 * -ERR_CONFLICT (not a tty), -ERR_IO (gone). */
int runtime_exec_resize(struct runtime_exec *x, unsigned rows,
                        unsigned cols);
pid_t runtime_exec_pid(const struct runtime_exec *x);
/* SIGKILL the exec's process (its PID from runc's pid file; runc exec
 * itself while there is none yet), unless it exited already. */
void runtime_exec_kill(struct runtime_exec *x);
/* Stop delivering callbacks and free once the process is gone. */
void runtime_exec_release(struct runtime_exec *x);

#endif
