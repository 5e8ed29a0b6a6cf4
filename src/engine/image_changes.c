/* SPDX-License-Identifier: Apache-2.0 */
/* `docker import --change`: Dockerfile-like lines applied to a config. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/mem.h"
#include "engine/image_int.h"

#define IMAGE_CHANGE_MAX 65536

/* Next word of *p (quotes and backslashes as the shell-like Dockerfile
 * parser reads them), malloc'd; NULL at the end or on an open quote
 * (*bad set). */
static char *image_changes_word(const char **p, bool *bad)
{
    const char *s = *p;
    struct buf b;
    char q = 0;

    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    buf_init(&b, IMAGE_CHANGE_MAX);
    buf_append(&b, "", 0);
    for (; *s != '\0'; s++) {
        if (q == 0 && isspace((unsigned char)*s))
            break;
        if (q == 0 && (*s == '"' || *s == '\'')) {
            q = *s;
            continue;
        }
        if (q != 0 && *s == q) {
            q = 0;
            continue;
        }
        if (*s == '\\' && q != '\'' && s[1] != '\0')
            s++;
        buf_append(&b, s, 1);
    }
    *p = s;
    if (q != 0) {
        *bad = true;
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* CMD, ENTRYPOINT, VOLUME: a JSON array of strings, else the shell form
 * (or, for VOLUME, words). */
static json_t *image_changes_list(const char *rest, bool shell)
{
    json_t *v = NULL;
    size_t i;
    json_t *e;

    if (rest[0] == '[') {
        v = json_loads(rest, 0, NULL);
        if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                    break;
            }
            if (i == json_array_size(v))
                return v;
        }
        json_decref(v);
    }
    if (shell)
        return json_pack("[s,s,s]", "/bin/sh", "-c", rest);
    v = json_array();
    for (;;) {
        bool bad = false;
        char *w = image_changes_word(&rest, &bad);

        if (w == NULL)
            break;
        json_array_append_new(v, json_string(w));
        free(w);
    }
    return v;
}

/* ENV and LABEL: "k=v k2=v2" or the legacy "k v". Calls set(k, v). */
static int image_changes_pairs(json_t *cfg, const char *instr,
                               const char *rest,
                               void (*set)(json_t *, const char *,
                                           const char *),
                               struct err *err)
{
    const char *p = rest;
    const char *sp = rest + strcspn(rest, " \t");
    const char *eq = strchr(rest, '=');
    bool bad = false;
    char *w;

    if (rest[0] == '\0')
        return err_set(err, ERR_INVALID, "%s requires at least one argument",
                       instr);
    if (eq == NULL || eq > sp) {
        char *key = xstrndup(rest, (size_t)(sp - rest));
        const char *val = sp;

        while (isspace((unsigned char)*val))
            val++;
        if (*val == '\0') {
            free(key);
            return err_set(err, ERR_INVALID, "%s must have two arguments",
                           instr);
        }
        set(cfg, key, val);
        free(key);
        return 0;
    }
    while ((w = image_changes_word(&p, &bad)) != NULL) {
        char *e = strchr(w, '=');

        if (e == NULL || e == w) {
            free(w);
            return err_set(err, ERR_INVALID,
                           "%s names can not be blank", instr);
        }
        *e = '\0';
        set(cfg, w, e + 1);
        free(w);
    }
    if (bad)
        return err_set(err, ERR_INVALID, "unexpected end of statement while "
                                         "looking for matching quote");
    return 0;
}

static void image_changes_set_env(json_t *cfg, const char *k, const char *v)
{
    json_t *env = json_object_get(cfg, "Env");
    size_t klen = strlen(k);
    size_t i;
    json_t *e;
    char *kv = xasprintf("%s=%s", k, v);

    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(cfg, "Env", env);
    }
    json_array_foreach(env, i, e) {
        const char *s = json_string_value(e);

        if (s != NULL && strncmp(s, k, klen) == 0 && s[klen] == '=') {
            json_array_set_new(env, i, json_string(kv));
            free(kv);
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
    free(kv);
}

static void image_changes_set_label(json_t *cfg, const char *k,
                                    const char *v)
{
    json_t *l = json_object_get(cfg, "Labels");

    if (!json_is_object(l)) {
        l = json_object();
        json_object_set_new(cfg, "Labels", l);
    }
    json_object_set_new(l, k, json_string(v));
}

static void image_changes_set_obj(json_t *cfg, const char *field,
                                  const char *key)
{
    json_t *o = json_object_get(cfg, field);

    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(cfg, field, o);
    }
    json_object_set_new(o, key, json_object());
}

static int image_changes_one(json_t *cfg, const char *line, struct err *err)
{
    char instr[32];
    size_t n;
    const char *rest;
    char *trimmed;
    int rv = 0;

    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\0' || *line == '#')
        return 0;
    n = strcspn(line, " \t");
    if (n >= sizeof(instr))
        n = sizeof(instr) - 1;
    memcpy(instr, line, n);
    instr[n] = '\0';
    rest = line + strcspn(line, " \t");
    while (isspace((unsigned char)*rest))
        rest++;
    trimmed = xstrdup(rest);
    n = strlen(trimmed);
    while (n > 0 && isspace((unsigned char)trimmed[n - 1]))
        trimmed[--n] = '\0';
    if (strcasecmp(instr, "CMD") == 0) {
        json_object_set_new(cfg, "Cmd", image_changes_list(trimmed, true));
    } else if (strcasecmp(instr, "ENTRYPOINT") == 0) {
        json_object_set_new(cfg, "Entrypoint",
                            image_changes_list(trimmed, true));
    } else if (strcasecmp(instr, "ENV") == 0) {
        rv = image_changes_pairs(cfg, "ENV", trimmed, image_changes_set_env,
                                 err);
    } else if (strcasecmp(instr, "LABEL") == 0) {
        rv = image_changes_pairs(cfg, "LABEL", trimmed,
                                 image_changes_set_label, err);
    } else if (strcasecmp(instr, "WORKDIR") == 0) {
        const char *cur = json_string_value(json_object_get(cfg,
                                                            "WorkingDir"));
        char *wd;

        if (trimmed[0] == '\0') {
            rv = err_set(err, ERR_INVALID, "WORKDIR requires exactly one "
                                           "argument");
        } else {
            wd = trimmed[0] == '/'
                     ? xstrdup(trimmed)
                     : xasprintf("%s/%s", cur && *cur ? cur : "", trimmed);
            json_object_set_new(cfg, "WorkingDir", json_string(wd));
            free(wd);
        }
    } else if (strcasecmp(instr, "USER") == 0) {
        if (trimmed[0] == '\0')
            rv = err_set(err, ERR_INVALID, "USER requires exactly one "
                                           "argument");
        else
            json_object_set_new(cfg, "User", json_string(trimmed));
    } else if (strcasecmp(instr, "EXPOSE") == 0) {
        json_t *ports = image_changes_list(trimmed, false);
        size_t i;
        json_t *pt;

        json_array_foreach(ports, i, pt) {
            const char *s = json_string_value(pt);
            char *key = strchr(s, '/') ? xstrdup(s)
                                       : xasprintf("%s/tcp", s);

            if (strspn(s, "0123456789-") == 0) {
                rv = err_set(err, ERR_INVALID, "invalid containerPort: %s",
                             s);
                free(key);
                break;
            }
            image_changes_set_obj(cfg, "ExposedPorts", key);
            free(key);
        }
        json_decref(ports);
    } else if (strcasecmp(instr, "VOLUME") == 0) {
        json_t *vols = image_changes_list(trimmed, false);
        size_t i;
        json_t *v;

        json_array_foreach(vols, i, v) {
            image_changes_set_obj(cfg, "Volumes", json_string_value(v));
        }
        json_decref(vols);
    } else if (strcasecmp(instr, "STOPSIGNAL") == 0) {
        json_object_set_new(cfg, "StopSignal", json_string(trimmed));
    } else if (strcasecmp(instr, "ONBUILD") == 0) {
        json_t *ob = json_object_get(cfg, "OnBuild");

        if (!json_is_array(ob)) {
            ob = json_array();
            json_object_set_new(cfg, "OnBuild", ob);
        }
        json_array_append_new(ob, json_string(trimmed));
    } else {
        char *low = xstrdup(instr);
        char *c;

        for (c = low; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        /* Docker: dockerfile.validCommitCommands. */
        rv = err_set(err, ERR_INVALID, "%s is not a valid change command",
                     low);
        free(low);
    }
    free(trimmed);
    return rv;
}

int image_changes_apply(json_t *cfg, const json_t *changes, struct err *err)
{
    size_t i;
    json_t *c;

    json_array_foreach(changes, i, c) {
        const char *line = json_string_value(c);
        int rv;

        if (line == NULL)
            return err_set(err, ERR_INVALID, "invalid change");
        rv = image_changes_one(cfg, line, err);
        if (rv != 0)
            return rv;
    }
    return 0;
}
