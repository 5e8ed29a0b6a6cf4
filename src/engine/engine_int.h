/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside engine/: the engine and container objects, the pure
 * helpers (names, lookup, views, filters, validation, state files, log
 * framing) that the unit tests drive without a runtime.
 */
#ifndef SHOAL_ENGINE_INT_H
#define SHOAL_ENGINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "base/err.h"
#include "engine/engine.h"

#define ENGINE_ID_LEN 64
#define ENGINE_TIME_LEN 40
#define ENGINE_ZERO_TIME "0001-01-01T00:00:00Z"

enum engine_status {
    ENGINE_CREATED,
    ENGINE_RUNNING,
    ENGINE_EXITED,
    ENGINE_REMOVING,
    ENGINE_DEAD,
};

/* Someone waiting for a container's state (wait, stop, remove). */
struct engine_waiter
{
    struct engine_waiter *next;
    int kind;             /* ENGINE_WAIT_* */
    engine_done_cb cb;
    void *data;
};

enum {
    ENGINE_WAIT_EXIT,     /* the next exit (cb status = exit code) */
    ENGINE_WAIT_REMOVED,  /* removal (cb status = last exit code) */
    ENGINE_WAIT_STOP,     /* the exit, for stop/restart (cb status 0) */
};

struct engine_health_mon;

struct engine_ctr
{
    struct engine_ctr *next;
    struct engine *e;                /* borrowed: the owner */
    char id[ENGINE_ID_LEN + 1];
    char *name;                      /* owned: "/x" */
    char *image_id;                  /* owned: "sha256:<hex>" */
    char *path;                      /* owned: the command */
    json_t *args;                    /* owned: [string] */
    json_t *config;                  /* owned: Config (merged with image) */
    json_t *host;                    /* owned: HostConfig */
    char created[ENGINE_TIME_LEN];
    enum engine_status status;
    bool started_before;             /* HasBeenStartedBefore */
    bool starting;                   /* runtime_start in flight */
    bool mounted;                    /* rootfs mounted */
    bool manual_stop;                /* stop/kill asked: no restart */
    pid_t pid;
    int exit_code;
    bool oom_killed;
    char *error;                     /* owned: State.Error, "" when none */
    char started_at[ENGINE_TIME_LEN];
    char finished_at[ENGINE_TIME_LEN];
    int restart_count;
    struct engine_waiter *waiters;   /* owned list */
    uv_timer_t *kill_timer;          /* owned while a stop waits */
    bool restarting;                 /* State.Restarting: the restart
                                        policy restarts it (back-off) */
    uv_timer_t *restart_timer;       /* owned while restarting */
    uint64_t restart_delay;          /* the last back-off, ms (0: none) */
    bool stop_pending;               /* stop/kill asked while a policy
                                        restart was starting: sent once
                                        it runs */
    int pending_sig;
    int pending_timeout;             /* s before SIGKILL; < 0: none */
    bool remove_on_exit;             /* rm -f of a running container */
    bool exited_early;               /* exit reported before started */
    int early_code;
    bool early_oom;
    char early_finished[ENGINE_TIME_LEN];
    bool gone;                       /* removed (unlinked) */
    json_t *health;                  /* owned: State.Health, NULL until
                                        a start with a healthcheck */
    struct engine_health_mon *hmon;  /* owned: its probes, while it runs
                                        with a healthcheck */
};

struct engine_sub
{
    struct engine_sub *next;
    engine_event_fn fn;              /* NULL: unsubscribed during an emit,
                                        freed after it */
    void *data;
};

struct engine_exec;
struct runtime_attach;

/* An attach client (engine_container_attach). */
struct engine_attach
{
    struct engine_attach *next;
    struct engine *e;                /* borrowed */
    char id[ENGINE_ID_LEN + 1];      /* the container's */
    struct runtime_attach *a;        /* owned (the runtime frees it itself
                                        when it closes) */
    engine_output_fn fn;
    void *data;
    char *pending;                   /* owned: stdin before the start */
    size_t n_pending;
    bool pending_eof;
    bool holding;                    /* stdin held until the start */
};

struct engine
{
    uv_loop_t *loop;
    char *root;                      /* owned: data root */
    char *cdir_root;                 /* owned: <root>/containers */
    struct image_store *images;      /* owned */
    struct runtime *rt;              /* owned */
    struct engine_ctr *ctrs;         /* owned list */
    struct engine_sub *subs;         /* owned list */
    int emitting;                    /* engine_emit calls in progress */
    struct engine_exec *execs;       /* owned list */
    struct engine_logs *follows;     /* owned list: logs -f in progress */
    struct engine_attach *attaches;  /* owned list */
    void (*close_cb)(void *data);
    void *close_data;
    bool closing;
};

/* --- engine_names.c --- */
/* True if name (with or without the leading "/") is a valid container
 * name: [a-zA-Z0-9][a-zA-Z0-9_.-]+. */
bool engine_names_valid(const char *name);
/* A random adjective_surname into out (NUL-terminated). */
void engine_names_generate(char *out, size_t cap);

/* --- engine_view.c --- */
/* RFC 3339 UTC time with nanoseconds. */
void engine_view_now(char out[ENGINE_TIME_LEN]);
/* Seconds since the epoch of an RFC 3339 time, or -1. */
double engine_view_parse_time(const char *s);
/* Docker's human duration ("Less than a second", "3 seconds", "About a
 * minute", "2 hours", ...). */
void engine_view_human(double secs, char *out, size_t cap);
/* "Up 3 seconds", "Exited (0) 2 seconds ago", "Created". */
void engine_view_status_text(const struct engine_ctr *c, double now,
                             char *out, size_t cap);
const char *engine_view_status_name(enum engine_status s);
/* State.Status of c: its status's name, or "restarting". */
const char *engine_view_ctr_status(const struct engine_ctr *c);
/* Lookup by full ID, name ("/x" or "x") or unique ID prefix. NULL with
 * Docker's 404 "No such container: <ref>" or the ambiguous-prefix 400. */
struct engine_ctr *engine_view_lookup(struct engine *e, const char *ref,
                                      struct err *err);
struct engine_ctr *engine_view_by_name(struct engine *e, const char *name);
/* GET /containers/{id}/json and one ContainerSummary (new references). */
json_t *engine_view_inspect(const struct engine_ctr *c);
json_t *engine_view_summary(const struct engine_ctr *c, double now);
/* ps filters (object {key: [values]}); true if c matches every key. */
bool engine_view_matches(const struct engine_ctr *c, const json_t *filters);
/* The keys engine_view_matches knows; others are refused. */
int engine_view_check_filters(const json_t *filters, struct err *err);
/* The container object oci_spec_build wants (Id, Name, Config,
 * HostConfig, Path, Args). New reference. */
json_t *engine_view_spec_input(const struct engine_ctr *c);

/* --- engine_validate.c --- */
/* Check a ContainerCreate body's JSON types and values; Docker's texts.
 * 0 or -ERR_INVALID. */
int engine_validate_create(const json_t *body, struct err *err);
/* Signal name or number ("SIGTERM", "TERM", "15") -> number, or -1. */
int engine_validate_signal(const char *s);

/* --- engine_state.c --- */
/* config.v2.json document of c (new reference) and its reading back. */
json_t *engine_state_to_json(const struct engine_ctr *c);
/* A container from config.v2.json and hostconfig.json documents (borrowed);
 * NULL with err if they do not hold one. */
struct engine_ctr *engine_state_from_json(const json_t *doc,
                                          const json_t *host,
                                          struct err *err);
/* Write both files of c under <cdir_root>/<id>/ atomically and durably
 * (each file synced, then their directory once). */
int engine_state_save(const struct engine_ctr *c, const char *cdir_root,
                      struct err *err);
/* Rewrite config.v2.json alone, atomically but not synced: for what a
 * start records (Running, Pid, StartedAt), which a crash of the machine
 * makes false anyway; hostconfig.json must be unchanged since the last
 * engine_state_save. */
int engine_state_save_started(const struct engine_ctr *c,
                              const char *cdir_root, struct err *err);
/* Read the container stored in dir. */
struct engine_ctr *engine_state_load(const char *dir, struct err *err);
void engine_state_free_ctr(struct engine_ctr *c);
/* <cdir_root>/<id> (malloc'd) and the json-file log path in it. */
char *engine_state_dir(const char *cdir_root, const char *id);
char *engine_state_log_path(const char *cdir_root, const char *id);

/* --- engine_logs.c --- */
/* The 8-byte header of a multiplexed stream frame. */
void engine_logs_frame_header(unsigned char hdr[8], int stream, size_t len);
/* Parse one json-file line: stream (1 or 2), text and time borrowed from
 * the returned document (decref it). NULL if the line is not one. */
json_t *engine_logs_parse_line(const char *line, size_t len, int *stream,
                               const char **text, size_t *text_len,
                               const char **time);

/* --- engine.c --- */
void engine_emit(struct engine *e, const char *action,
                 const struct engine_ctr *c, const char *extra_key,
                 const char *extra_val);

/* --- engine_container.c --- */
/* The runtime's exit callback. */
struct runtime_exit;
void engine_container_on_exit(void *data, const char *id,
                              const struct runtime_exit *ex);
/* Reattach or record the exit of containers loaded from disk. */
void engine_container_recover(struct engine *e, struct engine_ctr *c);
/* At the daemon's stop: unmount the root of c if it is mounted and no
 * process runs on it (a created container's, mounted since create). */
void engine_container_shutdown(struct engine_ctr *c);
/* After the recovery, at daemon start: start c again if its restart
 * policy says so (Docker: `always` ones, `unless-stopped` ones the user
 * did not stop, on-failure ones still within their count, and those that
 * waited for a restart when the daemon stopped). */
void engine_container_boot(struct engine *e, struct engine_ctr *c);
/* Stop waiting to restart c (engine closing). */
void engine_container_cancel_restart(struct engine_ctr *c);

/* Deliver the stdin attach clients wrote before container id started. */
void engine_container_flush_attaches(struct engine *e, const char *id);
void engine_container_free_attaches(struct engine *e);

/* --- engine_exec.c --- */
void engine_exec_free_all(struct engine *e);
/* SIGKILL exec_id's process if it runs (no-op for an unknown one). */
void engine_exec_kill(struct engine *e, const char *exec_id);
/* Drop exec_id (its callbacks never fire again; a process still running
 * is left to end on its own). */
void engine_exec_forget(struct engine *e, const char *exec_id);
void engine_exec_container_gone(struct engine *e, const char *id);

/* --- engine_health.c --- */
#define ENGINE_HEALTH_STARTING "starting"
#define ENGINE_HEALTH_HEALTHY "healthy"
#define ENGINE_HEALTH_UNHEALTHY "unhealthy"
#define ENGINE_HEALTH_LOG_MAX 5         /* results kept in Log */
#define ENGINE_HEALTH_OUTPUT_MAX 4096   /* bytes of a result's Output */

/* A container's healthcheck with Docker's defaults (Interval 30 s,
 * Timeout 30 s, StartPeriod 0, StartInterval 5 s, Retries 3). */
struct engine_health_cfg
{
    json_t *cmd;                     /* owned: the test's argv */
    uint64_t interval_ms;
    uint64_t timeout_ms;
    uint64_t start_period_ms;
    uint64_t start_interval_ms;
    int64_t timeout_ns;              /* as given, for the timeout text */
    int retries;
};
/* From a container's Config: 1 with *out filled (free it with
 * engine_health_cfg_free) when Healthcheck.Test is "CMD" or "CMD-SHELL"
 * (through Config.Shell, default /bin/sh -c) with a command; 0 when there
 * is nothing to run (no Healthcheck, no Test, "NONE"). */
int engine_health_config(const json_t *config, struct engine_health_cfg *out);
void engine_health_cfg_free(struct engine_health_cfg *cfg);
/* Go's time.Duration text of ns ("1s", "1.5s", "500ms", "1m30s"). */
void engine_health_duration(int64_t ns, char *out, size_t cap);
/* A new State.Health {Status: "starting", FailingStreak: 0, Log: []}. */
json_t *engine_health_new(void);
/* Back to starting with no failing streak (a start); Log is kept. */
void engine_health_reset(json_t *health);
/* Its Status, "none" for NULL (the ps filter's value). */
const char *engine_health_status(const json_t *health);
/* Record one probe's result (output: len bytes, made valid UTF-8) into
 * health, Docker's rules: 0 is healthy and ends the streak; a failure
 * counts unless the container is still starting within its StartPeriod
 * (in_start_period), and retries of them in a row make it unhealthy. Log
 * keeps the last ENGINE_HEALTH_LOG_MAX results. True if Status changed. */
bool engine_health_record(json_t *health, const char *start,
                          const char *end, int exit_code,
                          const char *output, size_t len,
                          bool in_start_period, int retries);
/* c runs: probe it per its healthcheck, if it has one (State.Health back
 * to starting, unless resume: after the daemon's restart). */
void engine_health_start(struct engine_ctr *c, bool resume);
/* No more probes of c (the one in flight killed); stopped: c exited, so
 * its Status becomes unhealthy as Docker's does. */
void engine_health_stop(struct engine_ctr *c, bool stopped);

/* --- engine_logs.c --- */
void engine_logs_close_all(struct engine *e);
void engine_logs_container_exited(struct engine *e, const char *id);

#endif
