/* SPDX-License-Identifier: Apache-2.0 */
/* Exec instances: created on a running container, started once (runc
 * exec through the runtime), inspected for their exit code. */
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/engine_int.h"
#include "engine/oci_spec.h"
#include "engine/runtime.h"

struct engine_exec
{
    struct engine_exec *next;
    struct engine *e;                /* borrowed */
    char id[ENGINE_ID_LEN + 1];
    char ctr_id[ENGINE_ID_LEN + 1];
    json_t *config;                  /* owned: the ExecConfig */
    struct runtime_exec *rx;         /* owned while running */
    bool started;
    bool running;
    bool has_exit;
    int exit_code;
    pid_t pid;
    engine_output_fn out;            /* the attached client, or NULL */
    engine_exec_exit_fn exit_fn;
    void *data;
};

static struct engine_exec *engine_exec_find(struct engine *e, const char *id,
                                            struct err *err)
{
    struct engine_exec *x;

    for (x = e->execs; x != NULL; x = x->next) {
        if (strcmp(x->id, id) == 0)
            return x;
    }
    err_set(err, ERR_NOTFOUND, "No such exec instance: %s", id);
    return NULL;
}

int engine_exec_create(struct engine *e, const char *ref, const json_t *body,
                       char **id_out, struct err *err)
{
    static const char hex[] = "0123456789abcdef";
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    struct engine_exec *x;
    unsigned char raw[32];
    json_t *cmd;
    json_t *v;
    size_t i;

    *id_out = NULL;
    if (c == NULL)
        return -err->code;
    if (!json_is_object(body))
        return err_set(err, ERR_INVALID,
                       "invalid JSON: json: cannot unmarshal %s into Go "
                       "value of type container.ExecOptions",
                       body ? "value" : "null");
    cmd = json_object_get(body, "Cmd");
    if (cmd != NULL && !json_is_array(cmd) && !json_is_null(cmd))
        return err_set(err, ERR_INVALID,
                       "invalid JSON: json: cannot unmarshal string into Go "
                       "struct field ExecOptions.Cmd of type []string");
    json_array_foreach(cmd, i, v) {
        if (!json_is_string(v))
            return err_set(err, ERR_INVALID,
                           "invalid JSON: json: cannot unmarshal non-string "
                           "into Go struct field ExecOptions.Cmd of type "
                           "string");
    }
    if (json_array_size(cmd) == 0)
        return err_set(err, ERR_INVALID, "No exec command specified");
    if (c->restarting)
        return err_set(err, ERR_CONFLICT,
                       "Container %s is restarting, wait until the "
                       "container is running",
                       c->id);
    if (c->status != ENGINE_RUNNING)
        return err_set(err, ERR_CONFLICT, "container %s is not running",
                       c->id);
    x = xcalloc(1, sizeof(*x));
    x->e = e;
    ids_random(raw, sizeof(raw));
    for (i = 0; i < 32; i++) {
        x->id[2 * i] = hex[raw[i] >> 4];
        x->id[2 * i + 1] = hex[raw[i] & 15];
    }
    memcpy(x->ctr_id, c->id, sizeof(x->ctr_id));
    x->config = json_deep_copy(body);
    x->next = e->execs;
    e->execs = x;
    *id_out = xstrdup(x->id);
    return 0;
}

static void engine_exec_on_output(void *data, int stream, const char *buf,
                                  size_t len)
{
    struct engine_exec *x = data;

    if (x->out != NULL && stream != 0)
        x->out(x->data, stream, buf, len);
}

static void engine_exec_on_exit(void *data, int exit_code)
{
    struct engine_exec *x = data;
    engine_exec_exit_fn fn = x->exit_fn;

    x->running = false;
    x->has_exit = true;
    x->exit_code = exit_code;
    x->out = NULL;
    x->exit_fn = NULL;
    runtime_exec_release(x->rx);
    x->rx = NULL;
    if (fn != NULL)
        fn(x->data, exit_code);
}

struct engine_exec *engine_exec_start(struct engine *e, const char *exec_id,
                                      bool *tty_out, engine_output_fn out,
                                      engine_exec_exit_fn exit_fn,
                                      void *data, struct err *err)
{
    struct engine_exec *x = engine_exec_find(e, exec_id, err);
    struct engine_ctr *c;
    json_t *input;
    json_t *proc;
    char *text;
    bool tty;

    if (x == NULL)
        return NULL;
    if (x->started) {
        err_set(err, ERR_CONFLICT, "Error: Exec command %s is already "
                                   "running", x->id);
        return NULL;
    }
    c = engine_view_lookup(e, x->ctr_id, err);
    if (c == NULL)
        return NULL;
    if (c->status != ENGINE_RUNNING) {
        err_set(err, ERR_CONFLICT, "container %s is not running", c->id);
        return NULL;
    }
    input = engine_view_spec_input(c);
    proc = oci_spec_exec_process(input, x->config, err);
    json_decref(input);
    if (proc == NULL)
        return NULL;
    text = json_dumps(proc, JSON_COMPACT);
    json_decref(proc);
    tty = json_is_true(json_object_get(x->config, "Tty"));
    x->out = out;
    x->exit_fn = exit_fn;
    x->data = data;
    x->rx = runtime_exec(e->rt, c->id, text, tty, engine_exec_on_output,
                         engine_exec_on_exit, x, err);
    free(text);
    if (x->rx == NULL) {
        x->out = NULL;
        x->exit_fn = NULL;
        return NULL;
    }
    x->started = true;
    x->running = true;
    x->pid = runtime_exec_pid(x->rx);
    *tty_out = tty;
    return x;
}

int engine_exec_write(struct engine_exec *x, const void *buf, size_t len)
{
    if (x->rx == NULL)
        return -1;
    return runtime_exec_write(x->rx, buf, len);
}

void engine_exec_detach(struct engine_exec *x)
{
    x->out = NULL;
    x->exit_fn = NULL;
}

json_t *engine_exec_inspect(struct engine *e, const char *exec_id,
                            struct err *err)
{
    struct engine_exec *x = engine_exec_find(e, exec_id, err);
    json_t *cmd;
    json_t *args;
    json_t *out;
    size_t i;

    if (x == NULL)
        return NULL;
    /* runc writes the pid file once the process runs: read it lazily */
    if (x->running && x->pid <= 0 && x->rx != NULL)
        x->pid = runtime_exec_pid(x->rx);
    cmd = json_object_get(x->config, "Cmd");
    args = json_array();
    for (i = 1; i < json_array_size(cmd); i++)
        json_array_append(args, json_array_get(cmd, i));
    out = json_pack(
        "{s:b, s:s, s:s, s:o, s:s, s:b, s:b, s:b, s:{s:s, s:o, s:b, s:b, "
        "s:s}, s:b, s:i}",
        "CanRemove", 0, "ContainerID", x->ctr_id, "DetachKeys", "",
        "ExitCode", x->has_exit ? json_integer(x->exit_code) : json_null(),
        "ID", x->id, "OpenStderr",
        json_is_true(json_object_get(x->config, "AttachStderr")),
        "OpenStdin", json_is_true(json_object_get(x->config, "AttachStdin")),
        "OpenStdout",
        json_is_true(json_object_get(x->config, "AttachStdout")),
        "ProcessConfig", "entrypoint",
        json_string_value(json_array_get(cmd, 0)) ?: "", "arguments", args,
        "privileged", json_is_true(json_object_get(x->config, "Privileged")),
        "tty", json_is_true(json_object_get(x->config, "Tty")), "user",
        json_string_value(json_object_get(x->config, "User")) ?: "",
        "Running", x->running, "Pid", x->running ? (int)x->pid : 0);
    return out;
}

int engine_exec_resize(struct engine *e, const char *exec_id, unsigned rows,
                       unsigned cols, struct err *err)
{
    struct engine_exec *x = engine_exec_find(e, exec_id, err);

    if (x == NULL)
        return -err->code;
    if (!x->started)
        return err_set(err, ERR_INVALID, "exec process is not started");
    if (x->rx == NULL)
        return err_set(err, ERR_CONFLICT, "exec %s is not running", x->id);
    switch (runtime_exec_resize(x->rx, rows, cols)) {
    case 0:
        return 0;
    case -ERR_INVALID:
        return err_set(err, ERR_INVALID, "invalid tty size %ux%u", rows,
                       cols);
    case -ERR_CONFLICT:
        return err_set(err, ERR_CONFLICT,
                       "cannot resize exec %s: it has no TTY", x->id);
    default:
        return err_set(err, ERR_CONFLICT, "exec %s is not running", x->id);
    }
}

static void engine_exec_free(struct engine_exec *x)
{
    engine_exec_exit_fn fn = x->exit_fn;

    /* An attached client still waits: its process is killed (container
     * gone, daemon closing), so tell it like one. */
    x->exit_fn = NULL;
    x->out = NULL;
    if (fn != NULL && x->running)
        fn(x->data, 137);
    if (x->rx != NULL)
        runtime_exec_release(x->rx);
    json_decref(x->config);
    free(x);
}

void engine_exec_kill(struct engine *e, const char *exec_id)
{
    struct engine_exec *x;

    for (x = e->execs; x != NULL; x = x->next) {
        if (strcmp(x->id, exec_id) == 0 && x->rx != NULL) {
            runtime_exec_kill(x->rx);
            return;
        }
    }
}

void engine_exec_forget(struct engine *e, const char *exec_id)
{
    struct engine_exec **pp;

    for (pp = &e->execs; *pp != NULL; pp = &(*pp)->next) {
        struct engine_exec *x = *pp;

        if (strcmp(x->id, exec_id) == 0) {
            *pp = x->next;
            x->out = NULL;
            x->exit_fn = NULL;
            engine_exec_free(x);
            return;
        }
    }
}

void engine_exec_container_gone(struct engine *e, const char *id)
{
    struct engine_exec **pp = &e->execs;

    while (*pp != NULL) {
        struct engine_exec *x = *pp;

        if (strcmp(x->ctr_id, id) != 0) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        engine_exec_free(x);
    }
}

void engine_exec_free_all(struct engine *e)
{
    struct engine_exec *x;

    while ((x = e->execs) != NULL) {
        e->execs = x->next;
        engine_exec_free(x);
    }
}
