/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a container's json-file log (written by its monitor): tail,
 * since/until, timestamps, follow until the container stops; and the
 * multiplexed-stream frame header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "engine/engine_int.h"

#define ENGINE_LOGS__POLL_MS 50

struct engine_logs
{
    struct engine_logs *next;
    struct engine *e;                /* borrowed */
    char id[ENGINE_ID_LEN + 1];
    struct engine_logs_opts o;
    engine_output_fn fn;
    void *data;
    FILE *f;                         /* owned; NULL when there is no log */
    uv_timer_t *timer;               /* owned while following */
};

void engine_logs_frame_header(unsigned char hdr[8], int stream, size_t len)
{
    hdr[0] = (unsigned char)stream;
    hdr[1] = 0;
    hdr[2] = 0;
    hdr[3] = 0;
    hdr[4] = (unsigned char)(len >> 24);
    hdr[5] = (unsigned char)(len >> 16);
    hdr[6] = (unsigned char)(len >> 8);
    hdr[7] = (unsigned char)len;
}

json_t *engine_logs_parse_line(const char *line, size_t len, int *stream,
                               const char **text, size_t *text_len,
                               const char **time)
{
    json_t *doc = json_loadb(line, len, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL,
                              NULL);
    json_t *log;
    const char *s;

    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    log = json_object_get(doc, "log");
    s = json_string_value(json_object_get(doc, "stream"));
    *time = json_string_value(json_object_get(doc, "time"));
    if (!json_is_string(log) || s == NULL || *time == NULL) {
        json_decref(doc);
        return NULL;
    }
    *stream = strcmp(s, "stderr") == 0 ? 2 : 1;
    *text = json_string_value(log);
    *text_len = json_string_length(log);
    return doc;
}

/* Docker prints log times with exactly nine fractional digits. */
static void engine_logs_fixed_time(const char *in, char out[ENGINE_TIME_LEN])
{
    const char *dot = strchr(in, '.');
    size_t digits;

    if (dot == NULL) {
        dot = strchr(in, 'Z');
        if (dot == NULL || (size_t)(dot - in) > 20) {
            snprintf(out, ENGINE_TIME_LEN, "%s", in);
            return;
        }
        snprintf(out, ENGINE_TIME_LEN, "%.*s.000000000Z", (int)(dot - in),
                 in);
        return;
    }
    digits = strspn(dot + 1, "0123456789");
    if (digits > 9 || (size_t)(dot - in) > 20 || dot[1 + digits] != 'Z') {
        snprintf(out, ENGINE_TIME_LEN, "%s", in);
        return;
    }
    snprintf(out, ENGINE_TIME_LEN, "%.*s%.*sZ", (int)(dot - in + 1 + digits),
             in, (int)(9 - digits), "000000000");
}

/* Hand one line of the file to the client if the options keep it. */
static void engine_logs_emit(struct engine_logs *l, const char *line,
                             size_t len)
{
    const char *text;
    const char *time;
    size_t tlen;
    int stream;
    json_t *doc;
    double t;

    doc = engine_logs_parse_line(line, len, &stream, &text, &tlen, &time);
    if (doc == NULL)
        return;
    if ((stream == 1 && !l->o.out) || (stream == 2 && !l->o.errs))
        goto out;
    if (l->o.since > 0 || l->o.until > 0) {
        t = engine_view_parse_time(time);
        if (l->o.since > 0 && t < l->o.since)
            goto out;
        if (l->o.until > 0 && t > l->o.until)
            goto out;
    }
    if (l->o.timestamps) {
        char fixed[ENGINE_TIME_LEN];
        size_t flen;
        char *buf;

        engine_logs_fixed_time(time, fixed);
        flen = strlen(fixed);
        buf = xmalloc(flen + 1 + tlen);
        memcpy(buf, fixed, flen);
        buf[flen] = ' ';
        memcpy(buf + flen + 1, text, tlen);
        l->fn(l->data, stream, buf, flen + 1 + tlen);
        free(buf);
    } else {
        l->fn(l->data, stream, text, tlen);
    }
out:
    json_decref(doc);
}

/* Read complete lines up to the end of the file. */
static void engine_logs_drain(struct engine_logs *l)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (l->f == NULL)
        return;
    for (;;) {
        long pos = ftell(l->f);

        n = getline(&line, &cap, l->f);
        if (n <= 0) {
            clearerr(l->f);
            break;
        }
        if (line[n - 1] != '\n') {
            /* A line still being written: read it whole next time. */
            fseek(l->f, pos, SEEK_SET);
            break;
        }
        engine_logs_emit(l, line, (size_t)n);
    }
    free(line);
}

/* Skip to the start of the last tail lines. */
static void engine_logs_seek_tail(struct engine_logs *l)
{
    char *line = NULL;
    size_t cap = 0;
    long total = 0;
    long skip;
    ssize_t n;

    /* Complete lines only: a partial last one is not a record yet. */
    while ((n = getline(&line, &cap, l->f)) > 0) {
        if (line[n - 1] == '\n')
            total++;
    }
    rewind(l->f);
    skip = total - l->o.tail;
    while (skip-- > 0 && getline(&line, &cap, l->f) > 0)
        ;
    free(line);
}

static void engine_logs_on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void engine_logs_free(struct engine_logs *l)
{
    struct engine_logs **pp;

    for (pp = &l->e->follows; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (l->timer != NULL)
        uv_close((uv_handle_t *)l->timer, engine_logs_on_timer_closed);
    if (l->f != NULL)
        fclose(l->f);
    free(l);
}

static void engine_logs_finish(struct engine_logs *l)
{
    l->fn(l->data, 0, NULL, 0);
    engine_logs_free(l);
}

static void engine_logs_on_timer(uv_timer_t *t)
{
    struct engine_logs *l = t->data;

    engine_logs_drain(l);
    if (!l->o.follow)
        engine_logs_finish(l);
}

struct engine_logs *engine_container_logs(struct engine *e, const char *ref,
                                          const struct engine_logs_opts *o,
                                          engine_output_fn fn, void *data,
                                          struct err *err)
{
    struct engine_ctr *c = engine_view_lookup(e, ref, err);
    struct engine_logs *l;
    char *path;

    if (c == NULL)
        return NULL;
    l = xcalloc(1, sizeof(*l));
    l->e = e;
    memcpy(l->id, c->id, sizeof(l->id));
    l->o = *o;
    l->fn = fn;
    l->data = data;
    path = engine_state_log_path(e->cdir_root, c->id);
    l->f = fopen(path, "re");
    free(path);
    if (l->f != NULL && o->tail >= 0)
        engine_logs_seek_tail(l);
    if (c->status != ENGINE_RUNNING)
        l->o.follow = false;
    /* Records flow from the loop, once the caller holds l. */
    l->timer = xmalloc(sizeof(*l->timer));
    uv_timer_init(e->loop, l->timer);
    l->timer->data = l;
    uv_timer_start(l->timer, engine_logs_on_timer, 0, ENGINE_LOGS__POLL_MS);
    l->next = e->follows;
    e->follows = l;
    return l;
}

void engine_logs_cancel(struct engine_logs *l)
{
    engine_logs_free(l);
}

void engine_logs_container_exited(struct engine *e, const char *id)
{
    struct engine_logs *l = e->follows;

    while (l != NULL) {
        struct engine_logs *next = l->next;

        if (strcmp(l->id, id) == 0 && l->o.follow) {
            engine_logs_drain(l);
            engine_logs_finish(l);
        }
        l = next;
    }
}

void engine_logs_close_all(struct engine *e)
{
    while (e->follows != NULL)
        engine_logs_finish(e->follows);
}
