/* SPDX-License-Identifier: Apache-2.0 */
/* swarm init: a new root CA, this node's certificate, a one-member Raft
 * group, and the first objects (cluster, node, ingress). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_int.h"
#include "manager/ca/ca.h"
#include "manager/controlapi/ctl.h"
#include "manager/store/store.h"

struct cluster_init_op
{
    struct cluster *c;
    cluster_done_cb cb;
    void *data;
    json_t *state_extra;  /* owned: pool settings for docker-state.json */
};

static const char cluster_msg_in_swarm[] =
    "This node is already part of a swarm. Use \"docker swarm leave\" to "
    "leave this swarm and join another one.";

/* Type checks of the InitRequest fields we read (Go's decoder errors). */
static int cluster_init_check(const json_t *req, struct err *err)
{
    static const struct
    {
        const char *name;
        json_type type;
    } fields[] = {
        {"ListenAddr", JSON_STRING},   {"AdvertiseAddr", JSON_STRING},
        {"DataPathAddr", JSON_STRING}, {"DataPathPort", JSON_INTEGER},
        {"ForceNewCluster", JSON_TRUE}, {"Spec", JSON_OBJECT},
        {"AutoLockManagers", JSON_TRUE}, {"Availability", JSON_STRING},
        {"DefaultAddrPool", JSON_ARRAY}, {"SubnetSize", JSON_INTEGER},
    };
    size_t i;

    if (!json_is_object(req))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go value of type "
                       "swarm.InitRequest");
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(req, fields[i].name);
        bool ok;

        if (v == NULL || json_is_null(v))
            continue;
        ok = fields[i].type == JSON_TRUE ? json_is_boolean(v)
                                         : json_typeof(v) == fields[i].type;
        if (!ok)
            return err_set(err, ERR_INVALID,
                           "json: cannot unmarshal value into Go struct "
                           "field InitRequest.%s of wrong type",
                           fields[i].name);
    }
    return 0;
}

static int cluster_write_pem(struct cluster *c, const char *name,
                             const char *pem, mode_t mode, struct err *err)
{
    char path[PATH_MAX];

    if (cluster_paths(c, name, path, sizeof(path)) != 0)
        return err_set(err, ERR_IO, "data root path too long");
    return fsutil_write_atomic(path, pem, strlen(pem), mode, err);
}

static void cluster_init_fail(struct cluster *c)
{
    struct err err;

    cluster_port_stop(c, NULL, NULL); /* closes in the background */
    c->state = CLUSTER_INACTIVE;
    err_clear(&err);
    if (fsutil_empty_dir(c->swarm_dir, &err) != 0)
        log_error(LOG_CLUSTER, "clean up after failed init: %s", err.msg);
    memset(c->node_id, 0, sizeof(c->node_id));
    memset(c->cluster_id, 0, sizeof(c->cluster_id));
}

struct cluster_init_undo
{
    struct cluster_init_op *op;
    struct err err;
    int status;
};

static void cluster_init_on_stopped(void *data)
{
    struct cluster_init_undo *u = data;
    struct cluster_init_op *op = u->op;

    cluster_init_fail(op->c);
    op->cb(op->data, u->status, &u->err, NULL);
    json_decref(op->state_extra);
    free(op);
    free(u);
}

static void cluster_init_on_applied(void *data, int status,
                                    const struct err *err, json_t *result)
{
    struct cluster_init_op *op = data;
    struct cluster *c = op->c;
    struct cluster_init_undo *u;
    struct err e;
    json_t *id;

    UNUSED(result);
    err_clear(&e);
    if (status == 0 && cluster_save_state(c, op->state_extra, &e) == 0) {
        c->state = CLUSTER_ACTIVE;
        log_info(LOG_CLUSTER, "swarm initialized: node %s, cluster %s",
                 c->node_id, c->cluster_id);
        id = json_string(c->node_id);
        op->cb(op->data, 0, NULL, id);
        json_decref(id);
        json_decref(op->state_extra);
        free(op);
        return;
    }
    if (c->stopping) {
        /* The manager is already being stopped (shutdown or leave): the
         * stopper owns the teardown; an unacknowledged init is wiped at the
         * next start since docker-state.json was never written. */
        c->state = CLUSTER_INACTIVE;
        op->cb(op->data, status ? status : -e.code, status ? err : &e, NULL);
        json_decref(op->state_extra);
        free(op);
        return;
    }
    u = xcalloc(1, sizeof(*u));
    u->op = op;
    if (status != 0) {
        u->err = *err;
        u->status = status;
    } else {
        u->err = e;
        u->status = -e.code;
    }
    cluster_manager_stop(c, cluster_init_on_stopped, u);
}

int cluster_init(struct cluster *c, const json_t *req, cluster_done_cb cb,
                 void *data, struct err *err)
{
    struct cluster_init_op *op = NULL;
    struct ctl_init in;
    char ingress_id[IDS_LEN + 1];
    char worker[CA_TOKEN_LEN + 1];
    char manager[CA_TOKEN_LEN + 1];
    char unlock[CA_UNLOCK_KEY_LEN + 1] = "";
    bool autolock = json_is_true(json_object_get(req, "AutoLockManagers"));
    char *root_cert = NULL;
    char *root_key = NULL;
    char *node_key = NULL;
    char *csr = NULL;
    char *node_cert = NULL;
    json_t *spec = NULL;
    json_t *desc = NULL;
    json_t *actions = NULL;
    json_t *v;
    const char *avail;
    int64_t expiry;
    json_int_t port = 0;
    json_int_t subnet = 0;
    int rv;

    if (req == NULL)
        return err_set(err, ERR_INVALID, "missing InitRequest body");
    rv = cluster_init_check(req, err);
    if (rv != 0)
        return rv;
    if (c->state != CLUSTER_INACTIVE &&
        json_is_true(json_object_get(req, "ForceNewCluster"))) {
        if (c->consensus == NULL)
            return err_set(err, ERR_UNAVAILABLE,
                           "This node is not a swarm manager. Worker nodes "
                           "can't be used to view or modify cluster state. "
                           "Please run this command on a manager node or "
                           "promote the current node to a manager.");
        return cluster_force_new_cluster(c, cb, data, err);
    }
    if (c->state != CLUSTER_INACTIVE)
        return err_set(err, ERR_UNAVAILABLE, "%s", cluster_msg_in_swarm);
    avail = json_string_value(json_object_get(req, "Availability"));
    if (avail != NULL && avail[0] != '\0' && strcmp(avail, "active") != 0 &&
        strcmp(avail, "pause") != 0 && strcmp(avail, "drain") != 0)
        return err_set(err, ERR_INVALID, "invalid Availability: \"%s\"",
                       avail);
    v = json_object_get(req, "DataPathPort");
    if (json_is_integer(v))
        port = json_integer_value(v);
    if (port != 0 && (port < 1024 || port > 49151))
        return err_set(err, ERR_INVALID,
                       "Datapath port number is not in valid range "
                       "(1024-49151) : %lld",
                       (long long)port);
    v = json_object_get(req, "SubnetSize");
    if (json_is_integer(v))
        subnet = json_integer_value(v);
    if (subnet < 0 || subnet > 29)
        return err_set(err, ERR_INVALID, "subnet size is out of range: %lld",
                       (long long)subnet);
    rv = ctl_addr_pool_validate(json_object_get(req, "DefaultAddrPool"),
                                (unsigned)subnet, err);
    if (rv != 0)
        return rv;
    rv = cluster_addr_resolve(
        json_string_value(json_object_get(req, "ListenAddr")),
        json_string_value(json_object_get(req, "AdvertiseAddr")),
        c->listen_addr, sizeof(c->listen_addr), c->advertise_addr,
        sizeof(c->advertise_addr), c->advertise_ip, sizeof(c->advertise_ip),
        err);
    if (rv != 0)
        return rv;
    spec = ctl_spec_default();
    v = json_object_get(req, "Spec");
    if (v != NULL && !json_is_null(v)) {
        rv = ctl_spec_validate(v, err);
        if (rv != 0)
            goto err_after_spec;
        ctl_spec_merge(spec, v);
    }
    if (autolock)
        json_object_set_new(json_object_get(spec, "EncryptionConfig"),
                            "AutoLockManagers", json_true());
    autolock = json_is_true(json_object_get(
        json_object_get(spec, "EncryptionConfig"), "AutoLockManagers"));
    expiry = (int64_t)json_integer_value(
        json_object_get(json_object_get(spec, "CAConfig"), "NodeCertExpiry"));

    /* Identity and PKI */
    ids_new(c->cluster_id);
    ids_new(c->node_id);
    ids_new(ingress_id);
    c->raft_id = ids_random_u64() >> 1;
    if (c->raft_id == 0)
        c->raft_id = 1;
    c->state = CLUSTER_PENDING;
    rv = ca_root_create(&root_cert, &root_key, err);
    if (rv == 0)
        rv = ca_node_key_create(&node_key, &csr, err);
    if (rv == 0)
        rv = ca_issue(root_cert, root_key, csr, c->cluster_id, c->node_id,
                      "swarm-manager", expiry / 1000000000LL, &node_cert,
                      err);
    if (rv == 0)
        rv = fsutil_mkdir_p(c->swarm_dir, 0700, err);
    if (rv == 0) {
        char dir[PATH_MAX];

        cluster_paths(c, "certificates", dir, sizeof(dir));
        rv = fsutil_mkdir_p(dir, 0700, err);
    }
    if (rv == 0)
        rv = cluster_write_pem(c, "certificates/swarm-root-ca.crt", root_cert,
                               0644, err);
    /* The key generated before the first manager writes its key file,
     * as Docker does: it is never on disk in clear. */
    c->has_kek = false;
    c->has_dek = false;
    c->kek_version = 0;
    if (rv == 0 && autolock) {
        ca_unlock_key_new(unlock);
        rv = ca_unlock_key_parse(unlock, c->kek, err);
        c->has_kek = rv == 0;
    }
    if (rv == 0)
        rv = cluster_lock_write(c, node_key, true, err);
    if (rv == 0)
        rv = cluster_write_pem(c, "certificates/swarm-node.crt", node_cert,
                               0644, err);
    if (rv != 0)
        goto err_after_pki;

    ca_token_new(root_cert, worker);
    ca_token_new(root_cert, manager);
    desc = cluster_node_description(c, root_cert);
    memset(&in, 0, sizeof(in));
    in.cluster_id = c->cluster_id;
    in.node_id = c->node_id;
    in.raft_id = c->raft_id;
    in.advertise_addr = c->advertise_addr;
    in.spec = spec;
    in.root_cert_pem = root_cert;
    in.root_key_pem = root_key;
    in.worker_token = worker;
    in.manager_token = manager;
    in.unlock_key = unlock;
    in.default_addr_pool = json_object_get(req, "DefaultAddrPool");
    in.subnet_size = (unsigned)subnet;
    in.data_path_port = (unsigned)port;
    in.ingress_id = ingress_id;
    in.node_description = desc;
    actions = ctl_swarm_init(&in, err);
    if (actions == NULL) {
        rv = -err->code;
        goto err_after_pki;
    }
    if (avail != NULL && avail[0] != '\0') {
        json_t *node = json_object_get(json_array_get(actions, 1), "obj");

        json_object_set_new(json_object_get(node, "Spec"), "Availability",
                            json_string(avail));
    }

    op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->cb = cb;
    op->data = data;
    op->state_extra = json_pack(
        "{s:O, s:I, s:I}", "DefaultAddressPool",
        json_object_get(json_array_get(actions, 0), "obj")
            ? json_object_get(json_object_get(json_array_get(actions, 0),
                                              "obj"),
                              "DefaultAddrPool")
            : json_null(),
        "SubnetSize", subnet ? subnet : (json_int_t)24, "DataPathPort",
        port ? port : (json_int_t)4789);
    /* The port first: a listen address in use fails the init, as in
     * Docker, before any Raft state exists. */
    rv = cluster_port_start(c, err);
    if (rv != 0) {
        json_decref(op->state_extra);
        free(op);
        goto err_after_pki;
    }
    c->pending = xcalloc(1, sizeof(*c->pending));
    c->pending->actions = actions;
    c->pending->cb = cluster_init_on_applied;
    c->pending->data = op;
    actions = NULL;
    rv = cluster_manager_start(c, true, err);
    if (rv != 0) {
        if (c->pending != NULL) {
            json_decref(c->pending->actions);
            free(c->pending);
            c->pending = NULL;
        }
        json_decref(op->state_extra);
        free(op);
        goto err_after_pki;
    }
    rv = 0;
    goto out;

err_after_pki:
    cluster_init_fail(c);
    goto out;
err_after_spec:
    memset(c->listen_addr, 0, sizeof(c->listen_addr));
out:
    json_decref(spec);
    json_decref(desc);
    json_decref(actions);
    free(root_cert);
    free(root_key);
    free(node_key);
    free(csr);
    free(node_cert);
    return rv;
}

/* --- swarm init --force-new-cluster ------------------------------------- */

struct cluster_fnc
{
    struct cluster *c;
    cluster_done_cb cb;
    void *data;
};

/* The first entry of the recovered cluster: the other managers are no
 * longer Raft members (their nodes stay, like Docker's). */
static json_t *cluster_fnc_actions(struct cluster *c)
{
    json_t *actions = json_array();
    const char *id;
    json_t *node;

    json_object_foreach(store_all(c->store, STORE_NODE), id, node) {
        json_t *next;

        if (json_object_get(node, "_Raft") == NULL ||
            strcmp(id, c->node_id) == 0)
            continue;
        next = json_deep_copy(node);
        json_object_del(next, "_Raft");
        json_array_append_new(actions,
                              store_action_update(STORE_NODE, next, 0));
    }
    return actions;
}

static void cluster_fnc_on_applied(void *data, int status,
                                   const struct err *err, json_t *result)
{
    struct cluster_fnc *f = data;
    json_t *id;

    UNUSED(result);
    if (status != 0) {
        f->c->state = CLUSTER_ERROR;
        snprintf(f->c->error, sizeof(f->c->error), "%s", err->msg);
        f->cb(f->data, status, err, NULL);
    } else {
        f->c->state = CLUSTER_ACTIVE;
        log_info(LOG_CLUSTER, "new cluster forced from node %s",
                 f->c->node_id);
        id = json_string(f->c->node_id);
        f->cb(f->data, 0, NULL, id);
        json_decref(id);
    }
    free(f);
}

static void cluster_fnc_on_stopped(void *data)
{
    struct cluster_fnc *f = data;
    struct cluster *c = f->c;
    struct err err;

    err_clear(&err);
    c->pending = xcalloc(1, sizeof(*c->pending));
    c->pending->build = cluster_fnc_actions;
    c->pending->cb = cluster_fnc_on_applied;
    c->pending->data = f;
    c->recover = true;
    if (cluster_manager_start(c, false, &err) != 0) {
        c->recover = false;
        free(c->pending);
        c->pending = NULL;
        c->state = CLUSTER_ERROR;
        snprintf(c->error, sizeof(c->error), "%s", err.msg);
        f->cb(f->data, -err.code, &err, NULL);
        free(f);
        return;
    }
    c->recover = false;
    if (cluster_port_start(c, &err) != 0)
        log_error(LOG_CLUSTER, "%s", err.msg);
}

static void cluster_fnc_on_port_stopped(void *data)
{
    struct cluster_fnc *f = data;

    cluster_manager_stop(f->c, cluster_fnc_on_stopped, f);
}

int cluster_force_new_cluster(struct cluster *c, cluster_done_cb cb,
                              void *data, struct err *err)
{
    struct cluster_fnc *f;

    UNUSED(err);
    f = xcalloc(1, sizeof(*f));
    f->c = c;
    f->cb = cb;
    f->data = data;
    c->state = CLUSTER_PENDING;
    cluster_port_stop(c, cluster_fnc_on_port_stopped, f);
    return 0;
}
