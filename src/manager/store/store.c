/* SPDX-License-Identifier: Apache-2.0 */
/* In-memory object store: apply, snapshot, restore. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>

#include "base/compiler.h"
#include "base/mem.h"
#include "manager/store/store.h"


struct store_watcher
{
    store_watch_fn fn;          /* NULL: free slot */
    void *data;
};

struct store
{
    json_t *objs[STORE__KINDS]; /* owned: kind -> {ID: object} */
    uint64_t index;             /* last applied raft index */
    struct store_watcher watches[STORE_MAX_WATCHES];
};

static const char *const store_kind_names[STORE__KINDS] = {
    "cluster", "node", "network", "task", "service", "secret", "config",
};

static const struct
{
    const char *name;
    int num;
} store_task_states[] = {
#define STORE__TS_ROW(name, text, num) {text, num},
    STORE_TASK_STATES(STORE__TS_ROW)
#undef STORE__TS_ROW
};

int store_task_state_parse(const char *name)
{
    size_t i;

    if (name == NULL)
        return -1;
    /* Stored states are lowercase: an exact match first, as this runs
     * for every task in every pass of the orchestrators. */
    for (i = 0; i < ARRAY_SIZE(store_task_states); i++) {
        if (store_task_states[i].name[0] == name[0] &&
            strcmp(store_task_states[i].name, name) == 0)
            return store_task_states[i].num;
    }
    for (i = 0; i < ARRAY_SIZE(store_task_states); i++) {
        if (strcasecmp(store_task_states[i].name, name) == 0)
            return store_task_states[i].num;
    }
    return -1;
}

const char *store_task_state_name(int state)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(store_task_states); i++) {
        if (store_task_states[i].num == state)
            return store_task_states[i].name;
    }
    return NULL;
}

int store_task_state(const json_t *task)
{
    return store_task_state_parse(json_string_value(
        json_object_get(json_object_get(task, "Status"), "State")));
}

int store_task_desired(const json_t *task)
{
    return store_task_state_parse(
        json_string_value(json_object_get(task, "DesiredState")));
}

int store_watch(struct store *s, store_watch_fn fn, void *data)
{
    int i;

    for (i = 0; i < STORE_MAX_WATCHES; i++) {
        if (s->watches[i].fn == NULL) {
            s->watches[i].fn = fn;
            s->watches[i].data = data;
            return i;
        }
    }
    abort(); /* a fixed set of components watch */
}

void store_unwatch(struct store *s, int handle)
{
    if (handle >= 0 && handle < STORE_MAX_WATCHES)
        s->watches[handle].fn = NULL;
}

static void store_notify(struct store *s, enum store_kind k, const char *id,
                         const json_t *old, const json_t *cur)
{
    int i;

    for (i = 0; i < STORE_MAX_WATCHES; i++) {
        if (s->watches[i].fn != NULL)
            s->watches[i].fn(s->watches[i].data, k, id, old, cur);
    }
}

struct store *store_new(void)
{
    struct store *s = xcalloc(1, sizeof(*s));
    int k;

    for (k = 0; k < STORE__KINDS; k++)
        s->objs[k] = json_object();
    return s;
}

void store_free(struct store *s)
{
    int k;

    if (s == NULL)
        return;
    for (k = 0; k < STORE__KINDS; k++)
        json_decref(s->objs[k]);
    free(s);
}

const char *store_kind_name(enum store_kind k)
{
    if ((int)k < 0 || k >= STORE__KINDS)
        return NULL;
    return store_kind_names[k];
}

int store_kind_parse(const char *name)
{
    int k;

    for (k = 0; k < STORE__KINDS; k++) {
        if (strcmp(store_kind_names[k], name) == 0)
            return k;
    }
    return -1;
}

json_t *store_get(const struct store *s, enum store_kind k, const char *id)
{
    return json_object_get(s->objs[k], id);
}

json_t *store_all(const struct store *s, enum store_kind k)
{
    return s->objs[k];
}

json_t *store_cluster(const struct store *s)
{
    const char *id;
    json_t *obj;

    json_object_foreach(s->objs[STORE_CLUSTER], id, obj) {
        return obj;
    }
    return NULL;
}

uint64_t store_index(const struct store *s)
{
    return s->index;
}

uint64_t store_obj_version(const json_t *obj)
{
    json_t *v = json_object_get(json_object_get(obj, "Version"), "Index");

    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

const char *store_obj_id(const json_t *obj)
{
    const char *id = json_string_value(json_object_get(obj, "ID"));

    if (id == NULL)
        id = json_string_value(json_object_get(obj, "Id"));
    return id;
}

static json_t *store_action(const char *op, enum store_kind k)
{
    return json_pack("{s:s, s:s}", "op", op, "kind", store_kind_names[k]);
}

json_t *store_action_create(enum store_kind k, json_t *obj)
{
    json_t *a = store_action("create", k);

    json_object_set_new(a, "obj", obj);
    return a;
}

json_t *store_action_update(enum store_kind k, json_t *obj,
                            uint64_t expect_version)
{
    json_t *a = store_action("update", k);

    json_object_set_new(a, "obj", obj);
    if (expect_version != 0)
        json_object_set_new(a, "version", json_integer((json_int_t)expect_version));
    return a;
}

json_t *store_action_update_status(enum store_kind k, json_t *obj,
                                   uint64_t expect_version)
{
    json_t *a = store_action_update(k, obj, expect_version);

    json_object_set_new(a, "keep_version", json_true());
    return a;
}

json_t *store_action_delete(enum store_kind k, const char *id)
{
    json_t *a = store_action("delete", k);

    json_object_set_new(a, "id", json_string(id));
    return a;
}

char *store_entry_encode(json_t *actions, size_t *out_len)
{
    struct timespec ts;
    struct tm tm;
    char when[64];
    json_t *entry;
    char *text;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec);
    entry = json_pack("{s:s, s:o}", "ts", when, "actions", actions);
    text = json_dumps(entry, JSON_COMPACT);
    json_decref(entry);
    if (text == NULL)
        abort();
    *out_len = strlen(text);
    return text;
}

/* A task's states are names, and Status.State never moves back
 * (SWARM-FACTS 6.3). */
static int store_check_task(const json_t *obj, const json_t *cur,
                            struct err *err)
{
    json_t *st = json_object_get(json_object_get(obj, "Status"), "State");
    json_t *want = json_object_get(obj, "DesiredState");
    int state = store_task_state(obj);

    if ((st != NULL && state < 0) ||
        (want != NULL && store_task_desired(obj) < 0))
        return err_set(err, ERR_INVALID, "task %s: invalid task state",
                       store_obj_id(obj));
    if (cur != NULL && state < store_task_state(cur))
        return err_set(err, ERR_INVALID,
                       "task %s: state cannot move from %s back to %s",
                       store_obj_id(obj),
                       store_task_state_name(store_task_state(cur)),
                       st ? json_string_value(st) : "none");
    return 0;
}

/*
 * A task write that is not a status write (DesiredState from the API or
 * the orchestrators) carries the Status its writer read. Status writes
 * keep Version.Index, so when the node has moved the task on in between
 * the version check cannot tell: the newer Status stored stays, rather
 * than the write being refused as a move back (a `service rm` racing its
 * tasks' progress).
 */
static void store_keep_observed(json_t *objs[STORE__KINDS], json_t *a)
{
    json_t *obj = json_object_get(a, "obj");
    const char *op = json_string_value(json_object_get(a, "op"));
    const char *kind = json_string_value(json_object_get(a, "kind"));
    const char *id = json_is_object(obj) ? store_obj_id(obj) : NULL;
    json_t *cur;

    if (id == NULL || op == NULL || kind == NULL ||
        strcmp(op, "update") != 0 || strcmp(kind, "task") != 0 ||
        json_is_true(json_object_get(a, "keep_version")))
        return;
    cur = json_object_get(objs[STORE_TASK], id);
    if (cur != NULL && store_task_state(obj) >= 0 &&
        store_task_state(obj) < store_task_state(cur))
        json_object_set(obj, "Status", json_object_get(cur, "Status"));
}

/* Validate one action against the objects as the entry left them so
 * far; 0 or -code. */
static int store_check_action(json_t *objs[STORE__KINDS], json_t *a,
                              int *out_kind, struct err *err)
{
    const char *op = json_string_value(json_object_get(a, "op"));
    const char *kind = json_string_value(json_object_get(a, "kind"));
    json_t *obj = json_object_get(a, "obj");
    const char *id;
    json_t *cur;
    int k;

    if (op == NULL || kind == NULL)
        return err_set(err, ERR_PROTO, "store: malformed action");
    k = store_kind_parse(kind);
    if (k < 0)
        return err_set(err, ERR_PROTO, "store: unknown kind %s", kind);
    *out_kind = k;
    if (strcmp(op, "delete") == 0) {
        id = json_string_value(json_object_get(a, "id"));
        if (id == NULL)
            return err_set(err, ERR_PROTO, "store: delete without id");
        if (json_object_get(objs[k], id) == NULL)
            return err_set(err, ERR_NOTFOUND, "%s %s not found", kind, id);
        return 0;
    }
    if (!json_is_object(obj) || (id = store_obj_id(obj)) == NULL)
        return err_set(err, ERR_PROTO, "store: action without object");
    cur = json_object_get(objs[k], id);
    if (strcmp(op, "create") == 0) {
        if (cur != NULL)
            return err_set(err, ERR_CONFLICT, "%s %s already exists", kind,
                           id);
        return k == STORE_TASK ? store_check_task(obj, NULL, err) : 0;
    }
    if (strcmp(op, "update") == 0) {
        json_t *want = json_object_get(a, "version");

        if (cur == NULL)
            return err_set(err, ERR_NOTFOUND, "%s %s not found", kind, id);
        if (want != NULL && (uint64_t)json_integer_value(want) !=
                                store_obj_version(cur))
            return err_set(err, ERR_INTERNAL,
                           "rpc error: code = Unknown desc = update out of "
                           "sequence");
        return k == STORE_TASK ? store_check_task(obj, cur, err) : 0;
    }
    return err_set(err, ERR_PROTO, "store: unknown op %s", op);
}

/* Stamp the entry's index and time on obj, which is rebuilt with Docker's
 * field order (ID, Version, CreatedAt, UpdatedAt, then the rest). Returns
 * the new object (owned); obj is released. */
static json_t *store_stamp(json_t *obj, json_t *prev, uint64_t index,
                           const char *ts, bool is_network, bool keep_version)
{
    const char *created_key = is_network ? "Created" : "CreatedAt";
    json_t *created = prev ? json_object_get(prev, created_key) : NULL;
    json_t *out = json_object();
    const char *key;
    json_t *v;

    if (is_network) {
        json_object_update(out, obj);
        json_object_set_new(out, "Created",
                            created ? json_copy(created) : json_string(ts));
        json_object_set_new(out, "_Version", json_integer((json_int_t)index));
        json_decref(obj);
        return out;
    }
    json_object_set(out, "ID", json_object_get(obj, "ID"));
    if (keep_version && prev != NULL)
        index = store_obj_version(prev);
    json_object_set_new(out, "Version",
                        json_pack("{s:I}", "Index", (json_int_t)index));
    json_object_set_new(out, "CreatedAt",
                        created ? json_copy(created) : json_string(ts));
    json_object_set_new(out, "UpdatedAt", json_string(ts));
    json_object_foreach(obj, key, v) {
        if (json_object_get(out, key) == NULL)
            json_object_set(out, key, v);
    }
    json_decref(obj);
    return out;
}

/* Take back what an entry did so far: changes ([kind, id, old|null,
 * new|null], in action order) undone newest first. */
static void store_undo(struct store *s, const json_t *changes)
{
    size_t i = json_array_size(changes);

    while (i-- > 0) {
        const json_t *ch = json_array_get(changes, i);
        int kind = (int)json_integer_value(json_array_get(ch, 0));
        const char *id = json_string_value(json_array_get(ch, 1));
        json_t *old = json_array_get(ch, 2);

        if (json_is_null(old))
            json_object_del(s->objs[kind], id);
        else
            json_object_set(s->objs[kind], id, old);
    }
}

int store_apply(struct store *s, uint64_t index, const void *buf, size_t len,
                struct err *err)
{
    json_t *changes;
    json_t *ch;
    json_t *entry;
    json_t *actions;
    json_t *a;
    const char *ts;
    json_error_t jerr;
    size_t i;
    int rv = 0;

    s->index = index;
    entry = json_loadb(buf, len, 0, &jerr);
    actions = json_object_get(entry, "actions");
    ts = json_string_value(json_object_get(entry, "ts"));
    if (!json_is_array(actions) || ts == NULL ||
        json_array_size(actions) > STORE_MAX_ACTIONS) {
        json_decref(entry);
        return err_set(err, ERR_PROTO, "store: malformed entry at %llu",
                       (unsigned long long)index);
    }
    /* Applied in place, each change recorded ([[kind, id, old|null,
     * new|null], ...], which the watches get too), so that a refused
     * action undoes the ones before it: all or nothing, at the cost of
     * the objects the entry touches rather than of the whole store. */
    changes = json_array();
    json_array_foreach(actions, i, a) {
        const char *op;
        const char *id;
        json_t *obj;
        json_t *old;
        int kind = 0;

        store_keep_observed(s->objs, a);
        rv = store_check_action(s->objs, a, &kind, err);
        if (rv != 0)
            break;
        op = json_string_value(json_object_get(a, "op"));
        if (strcmp(op, "delete") == 0) {
            id = json_string_value(json_object_get(a, "id"));
            json_array_append_new(
                changes, json_pack("[i, s, O, n]", kind, id,
                                   json_object_get(s->objs[kind], id)));
            json_object_del(s->objs[kind], id);
            continue;
        }
        /* The entry was parsed for this apply alone: its objects are
         * taken, not copied (store_stamp makes the stored top level). */
        obj = json_incref(json_object_get(a, "obj"));
        old = json_object_get(s->objs[kind], store_obj_id(obj));
        obj = store_stamp(obj, old, index, ts, kind == STORE_NETWORK,
                          json_is_true(json_object_get(a, "keep_version")));
        json_array_append_new(
            changes, json_pack("[i, s, O?, O]", kind, store_obj_id(obj),
                               old, obj));
        json_object_set_new(s->objs[kind], store_obj_id(obj), obj);
    }
    if (rv != 0)
        store_undo(s, changes);
    json_decref(entry);
    if (rv == 0) {
        json_array_foreach(changes, i, ch) {
            json_t *old = json_array_get(ch, 2);
            json_t *cur = json_array_get(ch, 3);

            store_notify(s, (enum store_kind)json_integer_value(
                                json_array_get(ch, 0)),
                         json_string_value(json_array_get(ch, 1)),
                         json_is_null(old) ? NULL : old,
                         json_is_null(cur) ? NULL : cur);
        }
    }
    json_decref(changes);
    return rv;
}

char *store_snapshot(const struct store *s, size_t *out_len)
{
    json_t *snap = json_object();
    json_t *objs = json_object();
    char *text;
    int k;

    for (k = 0; k < STORE__KINDS; k++)
        json_object_set(objs, store_kind_names[k], s->objs[k]);
    json_object_set_new(snap, "index", json_integer((json_int_t)s->index));
    json_object_set_new(snap, "objects", objs);
    text = json_dumps(snap, JSON_COMPACT);
    json_decref(snap);
    if (text == NULL)
        abort();
    *out_len = strlen(text);
    return text;
}

int store_restore(struct store *s, const void *buf, size_t len,
                  struct err *err)
{
    json_error_t jerr;
    json_t *snap = json_loadb(buf, len, 0, &jerr);
    json_t *objs = json_object_get(snap, "objects");
    json_t *index = json_object_get(snap, "index");
    int k;

    if (!json_is_object(objs) || !json_is_integer(index)) {
        json_decref(snap);
        return err_set(err, ERR_PROTO, "store: malformed snapshot");
    }
    for (k = 0; k < STORE__KINDS; k++) {
        json_t *all = json_object_get(objs, store_kind_names[k]);
        const char *id;
        json_t *obj;

        if (all != NULL && !json_is_object(all)) {
            json_decref(snap);
            return err_set(err, ERR_PROTO, "store: malformed snapshot");
        }
        /* A snapshot comes from a peer: every object must be one, filed
         * under its own ID, as store_apply files them. */
        json_object_foreach(all, id, obj) {
            const char *oid = store_obj_id(obj);

            if (!json_is_object(obj) || oid == NULL || strcmp(oid, id) != 0) {
                err_set(err, ERR_PROTO, "store: malformed snapshot: %s %.64s "
                        "is not an object with that ID",
                        store_kind_names[k], id);
                json_decref(snap);
                return -ERR_PROTO;
            }
        }
    }
    for (k = 0; k < STORE__KINDS; k++) {
        json_t *o = json_object_get(objs, store_kind_names[k]);

        json_decref(s->objs[k]);
        s->objs[k] = o ? json_incref(o) : json_object();
    }
    s->index = (uint64_t)json_integer_value(index);
    json_decref(snap);
    for (k = 0; k < STORE__KINDS; k++)
        store_notify(s, (enum store_kind)k, NULL, NULL, NULL);
    return 0;
}
