/* SPDX-License-Identifier: Apache-2.0 */
/* A node's role changes (promote/demote): the agent renewed the node
 * certificate for the role the leader wants; write it, then start or stop
 * this node's manager to match (SWARM-FACTS 3.4, 5.2). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_int.h"

#define CLUSTER_ROLE__PEM_MAX (1u << 20)

struct cluster_role_op
{
    struct cluster *c;
    void (*cb)(void *data, int status, const struct err *err);
    void *data;
};

static void cluster_role_finish(struct cluster_role_op *op, int status,
                                const struct err *err)
{
    struct cluster *c = op->c;

    c->role_op = NULL;
    if (op->cb != NULL)
        op->cb(op->data, status, err);
    free(op);
    if (c->close_deferred) {
        c->close_deferred = false;
        cluster_close(c, c->close_cb, c->close_data);
    }
}

static int cluster_role_save(struct cluster *c, struct err *err)
{
    char path[PATH_MAX];
    json_t *extra;
    char *text;
    int rv;

    extra = json_pack("{s:O}", "Managers",
                      c->remote_managers ? c->remote_managers : json_null());
    rv = cluster_save_state(c, extra, err);
    json_decref(extra);
    if (rv != 0 || c->remote_managers == NULL)
        return rv;
    text = json_dumps(c->remote_managers, JSON_COMPACT);
    if (cluster_paths(c, "state.json", path, sizeof(path)) != 0)
        rv = err_set(err, ERR_IO, "data root path too long");
    else
        rv = fsutil_write_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return rv;
}

static void cluster_role_on_manager_stopped(void *data)
{
    struct cluster_role_op *op = data;
    struct cluster *c = op->c;
    char path[PATH_MAX];
    struct err err;
    int rv;

    err_clear(&err);
    c->raft_id = 0;
    rv = cluster_paths(c, "raft", path, sizeof(path)) != 0
             ? err_set(&err, ERR_IO, "data root path too long")
             : fsutil_empty_dir(path, &err);
    if (rv == 0)
        rv = cluster_role_save(c, &err);
    /* A restored manager demoted while it was down: now a worker. */
    if (c->state == CLUSTER_PENDING)
        c->state = CLUSTER_ACTIVE;
    if (rv == 0)
        log_info(LOG_CLUSTER, "demoted: node %s is a worker", c->node_id);
    else
        log_error(LOG_CLUSTER, "demotion: %s", err.msg);
    cluster_role_finish(op, rv, rv ? &err : NULL);
}

static void cluster_role_on_port_stopped(void *data)
{
    struct cluster_role_op *op = data;

    cluster_manager_stop(op->c, cluster_role_on_manager_stopped, op);
}

static int cluster_role_write(struct cluster *c, const char *key_pem,
                              const char *cert_pem, bool manager,
                              struct err *err)
{
    char path[PATH_MAX];

    if (cluster_lock_write(c, key_pem, manager, err) != 0)
        return -err->code;
    if (cluster_paths(c, "certificates/swarm-node.crt", path,
                      sizeof(path)) != 0)
        return err_set(err, ERR_IO, "data root path too long");
    return fsutil_write_atomic(path, cert_pem, strlen(cert_pem), 0644, err);
}

int cluster_role_apply(struct cluster *c, bool manager, const char *key_pem,
                       const char *cert_pem, uint64_t raft_id,
                       const json_t *answer,
                       void (*cb)(void *data, int status,
                                  const struct err *err),
                       void *data, struct err *err)
{
    const json_t *managers = json_object_get(answer, "Managers");
    struct cluster_role_op *op;

    if (c->role_op != NULL || c->close_deferred)
        return err_set(err, ERR_CONFLICT, "a role change is in progress");
    if (c->state != CLUSTER_ACTIVE &&
        (manager || !cluster_awaiting_leader(c)))
        return err_set(err, ERR_UNAVAILABLE, "this node is not active");
    if (manager && (raft_id == 0 || c->consensus != NULL))
        return err_set(err, ERR_INVALID, "promotion needs a new Raft ID");
    /* A promoted manager of an autolocked swarm never writes its key in
     * clear: the leader's answer carries the unlock key. */
    if (manager &&
        cluster_lock_answer_key(c, answer, "ca.renew", "the leader",
                                err) != 0)
        return -err->code;
    if (cluster_role_write(c, key_pem, cert_pem, manager, err) != 0) {
        if (manager && c->consensus == NULL) {
            c->has_kek = false;
            c->has_dek = false;
            c->kek_version = 0;
        }
        return -err->code;
    }
    if (json_is_array(managers) && json_array_size(managers) > 0) {
        json_decref(c->remote_managers);
        c->remote_managers = json_deep_copy(managers);
    }
    if (manager) {
        c->raft_id = raft_id;
        if (cluster_manager_start(c, false, err) != 0) {
            c->raft_id = 0;
            return -err->code;
        }
        /* A worker's port (it serves agent.logs) takes the manager
         * certificate now. */
        if (c->port != NULL && cluster_port_reload(c, err) != 0)
            log_error(LOG_CLUSTER, "promotion: %s", err->msg);
        if (cluster_port_start(c, err) != 0)
            log_error(LOG_CLUSTER, "promotion: %s", err->msg);
        if (cluster_role_save(c, err) != 0)
            log_error(LOG_CLUSTER, "promotion: %s", err->msg);
        log_info(LOG_CLUSTER, "promoted: node %s is a manager (raft %016"
                 PRIx64 ")", c->node_id, raft_id);
        err_clear(err);
        if (cb != NULL)
            cb(data, 0, NULL);
        return 0;
    }
    op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->cb = cb;
    op->data = data;
    c->role_op = op;
    cluster_port_stop(c, cluster_role_on_port_stopped, op);
    return 0;
}

int cluster_role_renewed(struct cluster *c, const char *key_pem,
                         const char *cert_pem, struct err *err)
{
    if (c->role_op != NULL)
        return err_set(err, ERR_CONFLICT, "a role change is in progress");
    if (c->state != CLUSTER_ACTIVE && !cluster_awaiting_leader(c))
        return err_set(err, ERR_UNAVAILABLE, "this node is not active");
    if (cluster_role_write(c, key_pem, cert_pem, c->consensus != NULL,
                           err) != 0)
        return -err->code;
    log_info(LOG_CLUSTER, "node %s renewed its certificate", c->node_id);
    return cluster_port_reload(c, err);
}

int cluster_role_set_root(struct cluster *c, const char *root_pem,
                          struct err *err)
{
    char path[PATH_MAX];
    char *cur = NULL;
    bool same;
    int rv;

    if (c->state != CLUSTER_ACTIVE && !cluster_awaiting_leader(c))
        return err_set(err, ERR_UNAVAILABLE, "this node is not active");
    if (cluster_paths(c, "certificates/swarm-root-ca.crt", path,
                      sizeof(path)) != 0)
        return err_set(err, ERR_IO, "data root path too long");
    if (ca_root_check(root_pem, err) != 0)
        return -err->code;
    rv = fsutil_read_all(path, CLUSTER_ROLE__PEM_MAX, &cur, NULL, err);
    same = rv == 0 && strcmp(cur, root_pem) == 0;
    free(cur);
    err_clear(err);
    if (same)
        return 0;
    rv = fsutil_write_atomic(path, root_pem, strlen(root_pem), 0644, err);
    if (rv != 0)
        return rv;
    log_info(LOG_CLUSTER, "node %s trusts the swarm's new root CA",
             c->node_id);
    return cluster_port_reload(c, err);
}
