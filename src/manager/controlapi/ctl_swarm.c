/* SPDX-License-Identifier: Apache-2.0 */
/* Swarm init and update: the first objects, spec changes, token rotation. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "manager/controlapi/ctl.h"

/* Parse "a.b.c.d/n" into a network address and prefix length. */
static int ctl_parse_cidr(const char *s, uint32_t *out_net, unsigned *out_len)
{
    char ip[INET_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    struct in_addr a;
    char *end;
    long n;

    if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
        return -1;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    if (inet_pton(AF_INET, ip, &a) != 1)
        return -1;
    n = strtol(slash + 1, &end, 10);
    if (*end != '\0' || slash[1] == '\0' || n < 0 || n > 32)
        return -1;
    *out_net = ntohl(a.s_addr);
    if (n < 32)
        *out_net &= ~(0xffffffffu >> n);
    *out_len = (unsigned)n;
    return 0;
}

int ctl_addr_pool_validate(const json_t *pools, unsigned subnet_size,
                           struct err *err)
{
    const json_t *p;
    size_t i;

    if (subnet_size > 29)
        return err_set(err, ERR_INVALID, "subnet size is out of range: %u",
                       subnet_size);
    if (pools != NULL && !json_is_array(pools) && !json_is_null(pools))
        return err_set(err, ERR_INVALID,
                       "json: cannot unmarshal value into Go struct field "
                       "InitRequest.DefaultAddrPool of type []string");
    json_array_foreach(pools, i, p) {
        const char *cidr = json_string_value(p);
        uint32_t net;
        unsigned len;

        if (cidr == NULL || ctl_parse_cidr(cidr, &net, &len) != 0)
            return err_set(err, ERR_INVALID, "invalid CIDR: \"%s\"",
                           cidr ? cidr : "");
        if (subnet_size != 0 && len > subnet_size)
            return err_set(err, ERR_INVALID,
                           "invalid CIDR: \"%s\". Subnet size is too small "
                           "for pool: %u",
                           cidr, subnet_size);
    }
    return 0;
}

/* The first subnet of the first pool: what the allocator gives ingress. */
static json_t *ctl_ingress_ipam(const json_t *pools, unsigned subnet_size)
{
    const char *first = json_string_value(json_array_get(pools, 0));
    char sub[INET_ADDRSTRLEN + 12];
    char gw[INET_ADDRSTRLEN];
    struct in_addr a;
    uint32_t net = 0x0a000000; /* 10.0.0.0/8, Docker's default pool */
    unsigned len = 8;

    if (first != NULL)
        ctl_parse_cidr(first, &net, &len);
    if (subnet_size == 0)
        subnet_size = 24;
    a.s_addr = htonl(net);
    inet_ntop(AF_INET, &a, gw, sizeof(gw));
    snprintf(sub, sizeof(sub), "%s/%u", gw, subnet_size);
    a.s_addr = htonl(net + 1);
    inet_ntop(AF_INET, &a, gw, sizeof(gw));
    return json_pack("{s:s, s:n, s:[{s:s, s:s}]}", "Driver", "default",
                     "Options", "Config", "Subnet", sub, "Gateway", gw);
}

static json_t *ctl_tokens(const char *worker, const char *manager)
{
    return json_pack("{s:s, s:s}", "Worker", worker, "Manager", manager);
}

json_t *ctl_swarm_init(const struct ctl_init *in, struct err *err)
{
    json_t *actions;
    json_t *cluster;
    json_t *node;
    json_t *ingress;
    json_t *pools;
    json_t *tls;
    unsigned subnet = in->subnet_size ? in->subnet_size : 24;
    unsigned port = in->data_path_port ? in->data_path_port : 4789;
    const char *colon = strrchr(in->advertise_addr, ':');
    char *ip;

    if (ctl_addr_pool_validate(in->default_addr_pool, in->subnet_size,
                               err) != 0)
        return NULL;
    tls = json_object_get(in->node_description, "TLSInfo");
    tls = tls != NULL ? json_incref(tls) : json_object();
    pools = json_array_size(in->default_addr_pool) > 0
                ? json_deep_copy(in->default_addr_pool)
                : json_pack("[s]", "10.0.0.0/8");
    cluster = json_pack(
        "{s:s, s:O, s:o, s:b, s:o, s:i, s:i, s:o,"
        " s:{s:s, s:s}, s:s, s:{s:I}}",
        "ID", in->cluster_id, "Spec", in->spec, "TLSInfo",
        tls, "RootRotationInProgress", 0, "DefaultAddrPool", pools, "SubnetSize",
        (int)subnet, "DataPathPort", (int)port, "JoinTokens",
        ctl_tokens(in->worker_token, in->manager_token), "_RootCA", "CACert",
        in->root_cert_pem, "CAKey", in->root_key_pem, "_UnlockKey",
        in->unlock_key, "_Networks", "NextVNI", (json_int_t)4097);
    ip = colon ? xstrndup(in->advertise_addr,
                          (size_t)(colon - in->advertise_addr))
               : xstrdup(in->advertise_addr);
    node = json_pack(
        "{s:s, s:{s:{}, s:s, s:s}, s:O, s:{s:s, s:s},"
        " s:{s:s, s:I}}",
        "ID", in->node_id, "Spec", "Labels", "Role", "manager",
        "Availability", "active", "Description", in->node_description,
        "Status", "State", "ready", "Addr", ip, "_Raft",
        "Addr", in->advertise_addr, "ID", (json_int_t)in->raft_id);
    free(ip);
    ingress = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:b, s:b, s:b, s:{s:s},"
        " s:b, s:n, s:{s:s}, s:{}}",
        "Name", "ingress", "Id", in->ingress_id, "Scope", "swarm", "Driver",
        "overlay", "EnableIPv4", 1, "EnableIPv6", 0, "IPAM",
        ctl_ingress_ipam(in->default_addr_pool, in->subnet_size), "Internal",
        0, "Attachable", 0, "Ingress", 1, "ConfigFrom", "Network", "",
        "ConfigOnly", 0, "Containers", "Options",
        "com.docker.network.driver.overlay.vxlanid_list", "4096", "Labels");
    if (cluster == NULL || node == NULL || ingress == NULL)
        abort(); /* a pack format bug, not input */
    actions = json_array();
    json_array_append_new(actions, store_action_create(STORE_CLUSTER, cluster));
    json_array_append_new(actions, store_action_create(STORE_NODE, node));
    json_array_append_new(actions, store_action_create(STORE_NETWORK, ingress));
    return actions;
}

json_t *ctl_swarm_update(const struct store *s, uint64_t version,
                         const json_t *spec, const char *new_worker_token,
                         const char *new_manager_token,
                         const char *new_unlock_key, struct err *err)
{
    json_t *cluster = store_cluster(s);
    json_t *next;
    json_t *tokens;
    json_t *root_ca = NULL;
    const char *name;

    if (cluster == NULL)
        return err_set(err, ERR_UNAVAILABLE, "swarm is not initialized"),
               NULL;
    if (ctl_spec_validate(spec, err) != 0)
        return NULL;
    name = json_string_value(json_object_get(spec, "Name"));
    if (name != NULL && name[0] != '\0' && strcmp(name, "default") != 0) {
        err_set(err, ERR_INVALID, "swarm spec must be named \"default\"");
        return NULL;
    }
    if (version != store_obj_version(cluster)) {
        err_set(err, ERR_INTERNAL,
                "rpc error: code = Unknown desc = update out of sequence");
        return NULL;
    }
    if (ctl_rotation_start(cluster, spec, &root_ca, err) != 0)
        return NULL;
    next = json_deep_copy(cluster);
    json_object_set_new(next, "Spec", json_deep_copy(spec));
    /* swarmkit never keeps the signing key in the spec. */
    json_object_del(json_object_get(json_object_get(next, "Spec"),
                                     "CAConfig"),
                    "SigningCAKey");
    if (root_ca != NULL)
        ctl_rotation_apply(next, root_ca);
    json_object_set_new(json_object_get(next, "Spec"), "Name",
                        json_string("default"));
    if (!json_is_object(json_object_get(json_object_get(next, "Spec"),
                                        "Labels")))
        json_object_set_new(json_object_get(next, "Spec"), "Labels",
                            json_object());
    tokens = json_object_get(next, "JoinTokens");
    if (new_worker_token != NULL)
        json_object_set_new(tokens, "Worker", json_string(new_worker_token));
    if (new_manager_token != NULL)
        json_object_set_new(tokens, "Manager", json_string(new_manager_token));
    if (new_unlock_key != NULL)
        json_object_set_new(next, "_UnlockKey", json_string(new_unlock_key));
    return store_action_update(STORE_CLUSTER, next, version);
}
