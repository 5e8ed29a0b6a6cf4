/* SPDX-License-Identifier: Apache-2.0 */
/* Container healthchecks, Docker's way: while a container with a test in
 * its Config.Healthcheck runs, the test runs as an exec in it every
 * Interval (StartInterval during StartPeriod) with its Timeout, and the
 * results make State.Health: Status starting, healthy or unhealthy,
 * FailingStreak, and the last 5 results in Log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/utf8.h"
#include "engine/engine_int.h"

#define ENGINE_HEALTH__NS_PER_MS 1000000LL
/* Docker's defaults (daemon/health.go). */
#define ENGINE_HEALTH__INTERVAL_MS 30000
#define ENGINE_HEALTH__TIMEOUT_MS 30000
#define ENGINE_HEALTH__START_INTERVAL_MS 5000
#define ENGINE_HEALTH__RETRIES 3

/* The probe loop of one running container. */
struct engine_health_mon
{
    struct engine_ctr *c;            /* borrowed; NULL once stopped */
    struct engine_health_cfg cfg;    /* owned */
    uv_timer_t timer;                /* the next probe, then its timeout */
    char xid[ENGINE_ID_LEN + 1];     /* the probe in flight, or "" */
    char start[ENGINE_TIME_LEN];     /* its start */
    double start_wall;
    bool timed_out;
    char out[ENGINE_HEALTH_OUTPUT_MAX]; /* its output (first bytes) */
    size_t n_out;
    bool truncated;
};

/* --- pure parts ----------------------------------------------------------- */

static uint64_t engine_health_ms(const json_t *hc, const char *key,
                                 uint64_t dflt)
{
    json_int_t ns = json_integer_value(json_object_get(hc, key));

    if (ns <= 0)
        return dflt;
    /* below a millisecond: a millisecond (the loop's timer unit) */
    return ns < ENGINE_HEALTH__NS_PER_MS
               ? 1
               : (uint64_t)(ns / ENGINE_HEALTH__NS_PER_MS);
}

int engine_health_config(const json_t *config, struct engine_health_cfg *out)
{
    const json_t *hc = json_object_get(config, "Healthcheck");
    const json_t *test = json_object_get(hc, "Test");
    const char *kind = json_string_value(json_array_get(test, 0));
    const json_t *shell;
    json_t *cmd;
    json_int_t retries;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (kind == NULL)
        return 0;
    if (strcmp(kind, "CMD-SHELL") == 0 && json_array_size(test) >= 2) {
        /* Config.Shell, else /bin/sh -c, then the command line */
        shell = json_object_get(config, "Shell");
        cmd = json_array_size(shell) > 0 ? json_deep_copy(shell)
                                         : json_pack("[s, s]", "/bin/sh",
                                                     "-c");
        json_array_append(cmd, json_array_get(test, 1));
    } else if (strcmp(kind, "CMD") == 0 && json_array_size(test) >= 2) {
        cmd = json_array();
        for (i = 1; i < json_array_size(test); i++)
            json_array_append(cmd, json_array_get(test, i));
    } else {
        return 0; /* NONE, or nothing Docker would run */
    }
    for (i = 0; i < json_array_size(cmd); i++) {
        if (!json_is_string(json_array_get(cmd, i))) {
            json_decref(cmd);
            return 0;
        }
    }
    out->cmd = cmd;
    out->interval_ms = engine_health_ms(hc, "Interval",
                                        ENGINE_HEALTH__INTERVAL_MS);
    out->timeout_ms = engine_health_ms(hc, "Timeout",
                                       ENGINE_HEALTH__TIMEOUT_MS);
    out->start_period_ms = engine_health_ms(hc, "StartPeriod", 0);
    out->start_interval_ms = engine_health_ms(
        hc, "StartInterval", ENGINE_HEALTH__START_INTERVAL_MS);
    out->timeout_ns = json_integer_value(json_object_get(hc, "Timeout"));
    if (out->timeout_ns <= 0)
        out->timeout_ns = (int64_t)ENGINE_HEALTH__TIMEOUT_MS *
                          ENGINE_HEALTH__NS_PER_MS;
    retries = json_integer_value(json_object_get(hc, "Retries"));
    out->retries = retries > 0 && retries < 1000000
                       ? (int)retries
                       : ENGINE_HEALTH__RETRIES;
    return 1;
}

void engine_health_cfg_free(struct engine_health_cfg *cfg)
{
    json_decref(cfg->cmd);
    cfg->cmd = NULL;
}

/* Go's time.Duration.String() of a fraction: v units of 10^-prec, the
 * trailing zeros of the fraction dropped. */
static int engine_health_frac(char *out, size_t cap, int64_t v, int prec,
                              const char *unit)
{
    int64_t div = 1;
    int64_t frac;
    char digits[16];
    int i;

    for (i = 0; i < prec; i++)
        div *= 10;
    frac = v % div;
    if (frac == 0)
        return snprintf(out, cap, "%" PRId64 "%s", v / div, unit);
    for (i = prec - 1; i >= 0; i--) {
        digits[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    digits[prec] = '\0';
    for (i = prec - 1; i > 0 && digits[i] == '0'; i--)
        digits[i] = '\0';
    return snprintf(out, cap, "%" PRId64 ".%s%s", v / div, digits, unit);
}

void engine_health_duration(int64_t ns, char *out, size_t cap)
{
    int64_t h;
    int64_t m;
    int n = 0;

    if (ns <= 0) {
        snprintf(out, cap, "0s");
        return;
    }
    if (ns < 1000) {
        snprintf(out, cap, "%" PRId64 "ns", ns);
        return;
    }
    if (ns < 1000000) {
        engine_health_frac(out, cap, ns, 3, "\xc2\xb5s");
        return;
    }
    if (ns < 1000000000) {
        engine_health_frac(out, cap, ns, 6, "ms");
        return;
    }
    h = ns / 3600000000000LL;
    ns -= h * 3600000000000LL;
    m = ns / 60000000000LL;
    ns -= m * 60000000000LL;
    if (h > 0)
        n = snprintf(out, cap, "%" PRId64 "h%" PRId64 "m", h, m);
    else if (m > 0)
        n = snprintf(out, cap, "%" PRId64 "m", m);
    if (n < 0 || (size_t)n >= cap)
        return;
    engine_health_frac(out + n, cap - (size_t)n, ns, 9, "s");
}

json_t *engine_health_new(void)
{
    return json_pack("{s:s, s:i, s:[]}", "Status", ENGINE_HEALTH_STARTING,
                     "FailingStreak", 0, "Log");
}

void engine_health_reset(json_t *health)
{
    json_object_set_new(health, "Status",
                        json_string(ENGINE_HEALTH_STARTING));
    json_object_set_new(health, "FailingStreak", json_integer(0));
    if (!json_is_array(json_object_get(health, "Log")))
        json_object_set_new(health, "Log", json_array());
}

const char *engine_health_status(const json_t *health)
{
    const char *s = json_string_value(json_object_get(health, "Status"));

    return s != NULL ? s : "none";
}

bool engine_health_record(json_t *health, const char *start,
                          const char *end, int exit_code,
                          const char *output, size_t len,
                          bool in_start_period, int retries)
{
    char *before = xstrdup(engine_health_status(health));
    json_t *log = json_object_get(health, "Log");
    json_int_t streak = json_integer_value(
        json_object_get(health, "FailingStreak"));
    char *text = utf8_fix(output, len, &len);
    bool changed;

    if (!json_is_array(log)) {
        log = json_array();
        json_object_set_new(health, "Log", log);
    }
    json_array_append_new(log, json_pack("{s:s, s:s, s:i, s:s%}", "Start",
                                         start, "End", end, "ExitCode",
                                         exit_code, "Output", text, len));
    free(text);
    while (json_array_size(log) > ENGINE_HEALTH_LOG_MAX)
        json_array_remove(log, 0);
    if (exit_code == 0) {
        streak = 0;
        json_object_set_new(health, "Status",
                            json_string(ENGINE_HEALTH_HEALTHY));
    } else if (!(strcmp(before, ENGINE_HEALTH_STARTING) == 0 &&
                 in_start_period)) {
        /* failures count, except while starting within StartPeriod */
        streak++;
        if (streak >= retries)
            json_object_set_new(health, "Status",
                                json_string(ENGINE_HEALTH_UNHEALTHY));
    }
    json_object_set_new(health, "FailingStreak", json_integer(streak));
    changed = strcmp(before, engine_health_status(health)) != 0;
    free(before);
    return changed;
}

/* --- the monitor ---------------------------------------------------------- */

static void engine_health_on_timer(uv_timer_t *t);

/* The wait before the next probe: StartInterval while the container is
 * still starting within its StartPeriod (Docker's getInterval). */
static uint64_t engine_health_next(const struct engine_health_mon *m)
{
    struct engine_ctr *c = m->c;
    char now[ENGINE_TIME_LEN];
    double started = engine_view_parse_time(c->started_at);
    double since;

    engine_view_now(now);
    since = engine_view_parse_time(now) - started;
    if (started < 0 || since * 1000 >= (double)m->cfg.start_period_ms)
        return m->cfg.interval_ms;
    if (strcmp(engine_health_status(c->health), ENGINE_HEALTH_STARTING) != 0)
        return m->cfg.interval_ms;
    return m->cfg.start_interval_ms;
}

static void engine_health_schedule(struct engine_health_mon *m)
{
    uv_timer_start(&m->timer, engine_health_on_timer, engine_health_next(m),
                   0);
}

/* One result: into State.Health, an event and the state file on a change
 * of Status; then the next probe. */
static void engine_health_result(struct engine_health_mon *m, int code,
                                 const char *output, size_t len)
{
    struct engine_ctr *c = m->c;
    char end[ENGINE_TIME_LEN];
    double started = engine_view_parse_time(c->started_at);
    bool in_start = started >= 0 &&
                    (m->start_wall - started) * 1000 <
                        (double)m->cfg.start_period_ms;
    char action[64];
    struct err err;

    engine_view_now(end);
    if (!engine_health_record(c->health, m->start, end, code, output, len,
                              in_start, m->cfg.retries)) {
        engine_health_schedule(m);
        return;
    }
    snprintf(action, sizeof(action), "health_status: %s",
             engine_health_status(c->health));
    err_clear(&err);
    if (engine_state_save_started(c, c->e->cdir_root, &err) != 0)
        log_error(LOG_MAIN, "container %s: saving state: %s", c->id,
                  err.msg);
    engine_health_schedule(m);
    /* last: a subscriber may stop or remove the container */
    engine_emit(c->e, action, c, NULL, NULL);
}

static void engine_health_on_output(void *data, int stream, const char *buf,
                                    size_t len)
{
    struct engine_health_mon *m = data;
    size_t room = sizeof(m->out) - m->n_out;

    (void)stream;
    if (len > room) {
        len = room;
        m->truncated = true;
    }
    memcpy(m->out + m->n_out, buf, len);
    m->n_out += len;
}

static void engine_health_on_exit(void *data, int exit_code)
{
    struct engine_health_mon *m = data;
    char text[ENGINE_HEALTH_OUTPUT_MAX + 64];
    char dur[48];
    size_t n;

    uv_timer_stop(&m->timer);
    engine_exec_forget(m->c->e, m->xid);
    m->xid[0] = '\0';
    if (m->timed_out) {
        engine_health_duration(m->cfg.timeout_ns, dur, sizeof(dur));
        n = (size_t)snprintf(text, sizeof(text),
                             "Health check exceeded timeout (%s)", dur);
        engine_health_result(m, -1, text, n);
        return;
    }
    memcpy(text, m->out, m->n_out);
    n = m->n_out;
    if (m->truncated) {
        memcpy(text + n, "...", 3);
        n += 3;
    }
    engine_health_result(m, exit_code, text, n);
}

static void engine_health_probe(struct engine_health_mon *m)
{
    struct engine_ctr *c = m->c;
    json_t *body = json_pack("{s:O, s:b, s:b}", "Cmd", m->cfg.cmd,
                             "AttachStdout", 1, "AttachStderr", 1);
    struct engine_exec *x = NULL;
    struct err err;
    char *id = NULL;
    bool tty;

    engine_view_now(m->start);
    m->start_wall = engine_view_parse_time(m->start);
    m->timed_out = false;
    m->n_out = 0;
    m->truncated = false;
    err_clear(&err);
    if (engine_exec_create(c->e, c->id, body, &id, &err) == 0) {
        x = engine_exec_start(c->e, id, &tty, engine_health_on_output,
                              engine_health_on_exit, m, &err);
        if (x == NULL)
            engine_exec_forget(c->e, id);
        else
            snprintf(m->xid, sizeof(m->xid), "%s", id);
    }
    json_decref(body);
    free(id);
    if (x == NULL) {
        /* Docker: the error as the result's output, exit code -1 */
        engine_health_result(m, -1, err.msg, strlen(err.msg));
        return;
    }
    uv_timer_start(&m->timer, engine_health_on_timer, m->cfg.timeout_ms, 0);
}

static void engine_health_on_timer(uv_timer_t *t)
{
    struct engine_health_mon *m = t->data;

    if (m->xid[0] == '\0') {
        engine_health_probe(m);
        return;
    }
    /* the probe is late: killed, and its exit records the timeout */
    m->timed_out = true;
    log_info(LOG_MAIN, "container %s: health check timed out", m->c->id);
    engine_exec_kill(m->c->e, m->xid);
}

static void engine_health_on_closed(uv_handle_t *h)
{
    struct engine_health_mon *m = h->data;

    engine_health_cfg_free(&m->cfg);
    free(m);
}

void engine_health_start(struct engine_ctr *c, bool resume)
{
    struct engine_health_cfg cfg;
    struct engine_health_mon *m;

    engine_health_stop(c, false);
    if (engine_health_config(c->config, &cfg) != 1)
        return;
    if (c->health == NULL)
        c->health = engine_health_new();
    else if (!resume)
        engine_health_reset(c->health);
    m = xcalloc(1, sizeof(*m));
    m->c = c;
    m->cfg = cfg;
    uv_timer_init(c->e->loop, &m->timer);
    m->timer.data = m;
    c->hmon = m;
    engine_health_schedule(m);
}

void engine_health_stop(struct engine_ctr *c, bool stopped)
{
    struct engine_health_mon *m = c->hmon;

    if (m == NULL)
        return;
    c->hmon = NULL;
    m->c = NULL;
    if (m->xid[0] != '\0') {
        engine_exec_kill(c->e, m->xid);
        engine_exec_forget(c->e, m->xid);
        m->xid[0] = '\0';
    }
    uv_close((uv_handle_t *)&m->timer, engine_health_on_closed);
    /* Docker: unhealthy once the monitor stops with the container */
    if (stopped && c->health != NULL)
        json_object_set_new(c->health, "Status",
                            json_string(ENGINE_HEALTH_UNHEALTHY));
}
