/* SPDX-License-Identifier: Apache-2.0 */
/* swarm leave and swarm update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_int.h"
#include "manager/ca/ca.h"
#include "manager/consensus/consensus.h"
#include "manager/controlapi/ctl.h"
#include "manager/store/store.h"

struct cluster_leave_op
{
    struct cluster *c;
    cluster_done_cb cb;
    void *data;
};

static void cluster_leave_on_stopped(void *data)
{
    struct cluster_leave_op *op = data;
    struct cluster *c = op->c;
    struct err err;
    int rv;

    err_clear(&err);
    /* Docker empties the swarm directory but keeps it. */
    rv = fsutil_empty_dir(c->swarm_dir, &err);
    c->state = CLUSTER_INACTIVE;
    c->error[0] = '\0';
    memset(c->node_id, 0, sizeof(c->node_id));
    memset(c->cluster_id, 0, sizeof(c->cluster_id));
    memset(c->advertise_addr, 0, sizeof(c->advertise_addr));
    memset(c->advertise_ip, 0, sizeof(c->advertise_ip));
    memset(c->listen_addr, 0, sizeof(c->listen_addr));
    c->raft_id = 0;
    c->has_kek = false;
    c->has_dek = false;
    c->kek_version = 0;
    json_decref(c->remote_managers);
    c->remote_managers = NULL;
    if (rv == 0)
        log_info(LOG_CLUSTER, "left the swarm");
    op->cb(op->data, rv, rv ? &err : NULL, NULL);
    free(op);
}

static void cluster_leave_on_port_stopped(void *data)
{
    struct cluster_leave_op *op = data;

    cluster_manager_stop(op->c, cluster_leave_on_stopped, op);
}

static void cluster_leave_on_join_aborted(void *data)
{
    struct cluster_leave_op *op = data;

    cluster_port_stop(op->c, cluster_leave_on_port_stopped, op);
}

static void cluster_leave_stop(struct cluster_leave_op *op)
{
    cluster_join_abort(op->c, cluster_leave_on_join_aborted, op);
}

static void cluster_leave_on_left_raft(void *data, int status,
                                       const struct err *err)
{
    struct cluster_leave_op *op = data;

    /* --force leaves whatever the leader said; the other managers then
     * see this one as unreachable until it is removed. */
    if (status != 0)
        log_warn(LOG_CLUSTER, "leaving the raft: %s", err->msg);
    cluster_leave_stop(op);
}

/* Docker's refusal for a manager leaving without --force, from the
 * reachable and unreachable managers it sees. */
static int cluster_leave_refuse(struct cluster *c, struct err *err)
{
    static const char prefix[] =
        "You are attempting to leave the swarm on a node that is "
        "participating as a manager. ";
    static const char restore[] =
        "The only way to restore a swarm that has lost consensus is to "
        "reinitialize it with `--force-new-cluster`. Use `--force` to "
        "suppress this message.";
    unsigned reachable = 0;
    unsigned unreachable = 0;
    const char *id;
    json_t *node;

    json_object_foreach(store_all(c->store, STORE_NODE), id, node) {
        json_t *raft = json_object_get(node, "_Raft");
        uint64_t rid;

        if (raft == NULL)
            continue;
        rid = (uint64_t)json_integer_value(json_object_get(raft, "ID"));
        if (strcmp(cluster_member_reachability(c, rid), "reachable") == 0)
            reachable++;
        else
            unreachable++;
    }
    if (reachable == 1 && unreachable == 0)
        return err_set(err, ERR_UNAVAILABLE,
                       "%sRemoving the last manager erases all current "
                       "state of the swarm. Use `--force` to ignore this "
                       "message. ",
                       prefix);
    if (reachable >= 2 && reachable - 2 <= unreachable)
        return err_set(err, ERR_UNAVAILABLE,
                       "%sRemoving this node leaves %u managers out of %u. "
                       "Without a Raft quorum your swarm will be "
                       "inaccessible. %s",
                       prefix, reachable - 1, reachable + unreachable,
                       restore);
    if (strcmp(cluster_member_reachability(c, c->raft_id), "reachable") != 0)
        return err_set(err, ERR_UNAVAILABLE,
                       "%sDoing so may lose the consensus of your cluster. "
                       "%s",
                       prefix, restore);
    return err_set(err, ERR_UNAVAILABLE, "%s%s", prefix, restore);
}

static unsigned cluster_leave_raft_members(struct cluster *c)
{
    const char *id;
    json_t *node;
    unsigned n = 0;

    json_object_foreach(store_all(c->store, STORE_NODE), id, node) {
        if (json_object_get(node, "_Raft") != NULL)
            n++;
    }
    return n;
}

int cluster_leave(struct cluster *c, bool force, cluster_done_cb cb,
                  void *data, struct err *err)
{
    struct cluster_leave_op *op;
    struct err e;

    if (c->state == CLUSTER_INACTIVE)
        return err_set(err, ERR_UNAVAILABLE, "This node is not part of a "
                                             "swarm");
    if (c->state == CLUSTER_LOCKED && !force)
        return err_set(err, ERR_UNAVAILABLE,
                       "Swarm is encrypted and locked. Please unlock it "
                       "first or use `--force` to ignore this message.");
    if (c->role_op != NULL)
        return err_set(err, ERR_UNAVAILABLE, "this node is being demoted; "
                                             "try again in a moment");
    if (!force && c->consensus != NULL && c->store != NULL)
        return cluster_leave_refuse(c, err);
    op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->cb = cb;
    op->data = data;
    err_clear(&e);
    if (c->consensus != NULL && c->store != NULL &&
        cluster_leave_raft_members(c) > 1 &&
        cluster_port_leave_raft(c, cluster_leave_on_left_raft, op, &e) == 0)
        return 0;
    if (e.code != ERR_OK)
        log_warn(LOG_CLUSTER, "leaving the raft: %s", e.msg);
    cluster_leave_stop(op);
    return 0;
}

int cluster_update(struct cluster *c, uint64_t version, const json_t *spec,
                   bool rotate_worker, bool rotate_manager,
                   bool rotate_unlock, cluster_done_cb cb, void *data,
                   struct err *err)
{
    const struct store *s = cluster_manager_store(c, err);
    char worker[CA_TOKEN_LEN + 1];
    char manager[CA_TOKEN_LEN + 1];
    char unlock[CA_UNLOCK_KEY_LEN + 1];
    const char *new_unlock = NULL;
    const char *cur_unlock;
    bool autolock;
    const char *root;
    json_t *cluster;
    json_t *action;
    json_t *actions;

    if (s == NULL)
        return -err->code;
    cluster = store_cluster(s);
    root = json_string_value(
        json_object_get(json_object_get(cluster, "_RootCA"), "CACert"));
    if (root == NULL)
        return err_set(err, ERR_INTERNAL, "the cluster has no root CA");
    /* Docker: turning autolock on makes a key, off drops it; a rotation
     * is ignored while autolock is off. Every manager follows the key when
     * it applies the entry (cluster_lock_sync). */
    autolock = json_is_true(json_object_get(
        json_object_get(spec, "EncryptionConfig"), "AutoLockManagers"));
    cur_unlock = json_string_value(json_object_get(cluster, "_UnlockKey"));
    if (cur_unlock == NULL)
        cur_unlock = "";
    if (autolock && (cur_unlock[0] == '\0' || rotate_unlock)) {
        ca_unlock_key_new(unlock);
        new_unlock = unlock;
    } else if (!autolock && cur_unlock[0] != '\0') {
        new_unlock = "";
    }
    if (rotate_worker)
        ca_token_new(root, worker);
    if (rotate_manager)
        ca_token_new(root, manager);
    action = ctl_swarm_update(s, version, spec,
                              rotate_worker ? worker : NULL,
                              rotate_manager ? manager : NULL, new_unlock,
                              err);
    if (action == NULL)
        return -err->code;
    actions = json_array();
    json_array_append_new(actions, action);
    return cluster_propose(c, actions, cb, data, err);
}

bool cluster_should_forward(const struct cluster *c)
{
    return c->state == CLUSTER_ACTIVE && c->consensus != NULL &&
           !consensus_is_leader(c->consensus);
}
