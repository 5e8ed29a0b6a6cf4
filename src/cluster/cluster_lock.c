/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Autolock on this node: the node key file with the raft DEK, locked with
 * the KEK (the unlock key) while the cluster object carries one; unlock;
 * following the cluster's unlock key as entries are applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_int.h"
#include "manager/ca/ca.h"
#include "manager/store/store.h"

#define CLUSTER_LOCK__PEM_MAX (1u << 20)

static int cluster_lock_read_file(struct cluster *c, char **out,
                                  struct err *err)
{
    char path[PATH_MAX];

    if (cluster_paths(c, "certificates/swarm-node.key", path,
                      sizeof(path)) != 0)
        return err_set(err, ERR_IO, "data root path too long");
    return fsutil_read_all(path, CLUSTER_LOCK__PEM_MAX, out, NULL, err);
}

char *cluster_node_key_pem(struct cluster *c, struct err *err)
{
    struct ca_kek_file f;
    char *text = NULL;
    char *key;

    if (cluster_lock_read_file(c, &text, err) != 0)
        return NULL;
    if (ca_kek_read(text, c->has_kek ? c->kek : NULL, &f, err) != 0) {
        free(text);
        return NULL;
    }
    free(text);
    key = f.key_pem;
    f.key_pem = NULL;
    ca_kek_file_release(&f);
    return key;
}

char *cluster_lock_key_text(struct cluster *c, const char *key_pem,
                            bool manager, struct err *err)
{
    if (manager && !c->has_dek) {
        ids_random(c->dek, sizeof(c->dek));
        c->has_dek = true;
    }
    if (!manager) {
        /* Workers never lock their key (swarmkit gives them no KEK). */
        c->has_kek = false;
        c->has_dek = false;
    }
    return ca_kek_write(key_pem, c->has_kek ? c->kek : NULL,
                        c->has_dek ? c->dek : NULL, c->kek_version, err);
}

int cluster_lock_write(struct cluster *c, const char *key_pem, bool manager,
                       struct err *err)
{
    char path[PATH_MAX];
    char *text;
    int rv;

    text = cluster_lock_key_text(c, key_pem, manager, err);
    if (text == NULL)
        return -err->code;
    if (cluster_paths(c, "certificates/swarm-node.key", path,
                      sizeof(path)) != 0)
        rv = err_set(err, ERR_IO, "data root path too long");
    else
        rv = fsutil_write_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return rv;
}

int cluster_lock_answer_key(struct cluster *c, const json_t *body,
                            const char *rpc, const char *remote,
                            struct err *err)
{
    const json_t *key = json_object_get(body, "UnlockKey");
    const char *version =
        json_string_value(json_object_get(body, "UnlockKeyVersion"));
    uint8_t kek[CA_UNLOCK_KEY_BYTES];
    char *end = NULL;
    unsigned long long v;

    if (key == NULL)
        return 0;
    if (!json_is_string(key) || version == NULL || version[0] < '0' ||
        version[0] > '9')
        goto bad;
    errno = 0;
    v = strtoull(version, &end, 10);
    if (errno != 0 || *end != '\0')
        goto bad;
    if (ca_unlock_key_parse(json_string_value(key), kek, err) != 0)
        goto bad;
    memcpy(c->kek, kek, sizeof(kek));
    c->has_kek = true;
    c->kek_version = v;
    return 0;

bad:
    err_clear(err);
    return err_set(err, ERR_PROTO,
                   "the %s answer from %s has an invalid UnlockKey or "
                   "UnlockKeyVersion",
                   rpc, remote);
}

int cluster_lock_load(struct cluster *c, const char *text, bool manager,
                      char **out_key_pem, struct err *err)
{
    struct ca_kek_file f;
    int rv;

    rv = ca_kek_read(text, c->has_kek ? c->kek : NULL, &f, err);
    if (rv != 0)
        return rv;
    if (!f.locked)
        c->has_kek = false;
    c->kek_version = f.kek_version;
    c->has_dek = f.has_dek;
    if (f.has_dek)
        memcpy(c->dek, f.dek, sizeof(c->dek));
    if (manager && !f.has_dek) {
        /* A data dir from before encryption at rest: a DEK from now on
         * (raft's clear records stay readable). */
        rv = cluster_lock_write(c, f.key_pem, true, err);
        if (rv != 0) {
            ca_kek_file_release(&f);
            return rv;
        }
        log_info(LOG_CLUSTER, "raft data is encrypted at rest from now on");
    }
    *out_key_pem = f.key_pem;
    f.key_pem = NULL;
    ca_kek_file_release(&f);
    return 0;
}

void cluster_lock_sync(struct cluster *c)
{
    json_t *cl = store_cluster(c->store);
    const char *key;
    uint8_t kek[CA_UNLOCK_KEY_BYTES];
    bool want;
    uint64_t version;
    char *clear;
    struct err err;

    if (cl == NULL)
        return;
    key = json_string_value(json_object_get(cl, "_UnlockKey"));
    version = (uint64_t)json_integer_value(
        json_object_get(json_object_get(cl, "Version"), "Index"));
    err_clear(&err);
    want = key != NULL && key[0] != '\0' &&
           ca_unlock_key_parse(key, kek, &err) == 0;
    if (want == c->has_kek &&
        (!want || memcmp(kek, c->kek, sizeof(kek)) == 0))
        return;
    /* An older cluster object replayed after a restart: the key file
     * already follows a later one. */
    if (version <= c->kek_version)
        return;
    clear = cluster_node_key_pem(c, &err);
    if (clear == NULL) {
        log_error(LOG_CLUSTER, "autolock: read the node key: %s", err.msg);
        return;
    }
    c->has_kek = want;
    if (want)
        memcpy(c->kek, kek, sizeof(kek));
    c->kek_version = version;
    if (cluster_lock_write(c, clear, true, &err) != 0)
        log_error(LOG_CLUSTER, "autolock: write the node key: %s", err.msg);
    else
        log_info(LOG_CLUSTER, "autolock: node key %s",
                 want ? "locked with the cluster's unlock key"
                      : "stored in clear");
    free(clear);
}

int cluster_unlock(struct cluster *c, const char *key, struct err *err)
{
    uint8_t kek[CA_UNLOCK_KEY_BYTES];
    struct ca_kek_file f;
    char *text = NULL;
    int rv;

    if (c->state == CLUSTER_INACTIVE)
        return err_set(err, ERR_UNAVAILABLE, "This node is not part of a "
                                             "swarm");
    if (c->state != CLUSTER_LOCKED)
        return err_set(err, ERR_CONFLICT, "swarm is not locked");
    if (ca_unlock_key_parse(key, kek, err) != 0)
        return err_set(err, ERR_INVALID, "invalid key string");
    if (cluster_lock_read_file(c, &text, err) != 0)
        return -err->code;
    rv = ca_kek_read(text, kek, &f, err);
    free(text);
    if (rv == -ERR_UNAUTHORIZED)
        return err_set(err, ERR_UNAUTHORIZED,
                       "swarm could not be unlocked: invalid key provided");
    if (rv != 0)
        return err_wrap(err, "swarm component could not be started");
    ca_kek_file_release(&f);
    memcpy(c->kek, kek, sizeof(kek));
    c->has_kek = true;
    c->state = CLUSTER_INACTIVE;
    c->error[0] = '\0';
    cluster_restore(c);
    if (c->state == CLUSTER_ERROR)
        return err_set(err, ERR_INTERNAL,
                       "swarm component could not be started: %s", c->error);
    log_info(LOG_CLUSTER, "swarm unlocked");
    return 0;
}
