/* SPDX-License-Identifier: Apache-2.0 */
/* Node certificates and the root CA rotation (SWARM-FACTS 3.2, 3.6): which
 * root signs, starting a rotation from a swarm update, each node's TLSInfo,
 * and the end of a rotation once every node holds a certificate of the new
 * root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/compiler.h"
#include "base/mem.h"
#include "manager/ca/ca.h"
#include "manager/controlapi/ctl.h"

#define CTL_ROTATION__MIN_ROOT_LIFE (365LL * 24 * 3600) /* one year */

static const char ctl_rotation_invalid[] =
    "rpc error: code = InvalidArgument desc = ";

static const char *ctl_rotation_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int ctl_rotation_issue(const json_t *cluster, const char *csr_pem,
                       const char *node_id, const char *ou,
                       char **out_cert_pem, struct err *err)
{
    const json_t *root = json_object_get(cluster, "_RootCA");
    const json_t *next = json_object_get(root, "RootRotation");
    const json_t *expiry = json_object_get(
        json_object_get(json_object_get(cluster, "Spec"), "CAConfig"),
        "NodeCertExpiry");
    const char *cert = ctl_rotation_str(root, "CACert");
    const char *key = ctl_rotation_str(root, "CAKey");
    const char *cross = NULL;
    int64_t expiry_s;
    char *leaf = NULL;
    size_t n;

    /* During a rotation the new key signs and the leaf carries the
     * cross-signed new root, so nodes trusting the old root verify it. */
    if (json_is_object(next)) {
        cert = ctl_rotation_str(next, "CACert");
        key = ctl_rotation_str(next, "CAKey");
        cross = ctl_rotation_str(next, "CrossSignedCACert");
    }
    if (cluster == NULL || cert == NULL || key == NULL)
        return err_set(err, ERR_UNAVAILABLE, "the swarm has no root CA yet");
    expiry_s = json_is_integer(expiry) && json_integer_value(expiry) > 0
                   ? json_integer_value(expiry) / CTL_NS_PER_SEC
                   : CTL_DEFAULT_CERT_EXPIRY / CTL_NS_PER_SEC;
    if (ca_issue(cert, key, csr_pem, store_obj_id(cluster), node_id, ou,
                 expiry_s, &leaf, err) != 0)
        return -err->code;
    if (cross != NULL) {
        n = strlen(leaf) + strlen(cross) + 1;
        *out_cert_pem = xmalloc(n);
        snprintf(*out_cert_pem, n, "%s%s", leaf, cross);
        free(leaf);
    } else {
        *out_cert_pem = leaf;
    }
    return 0;
}

/* A TLSInfo object for root_pem as the trust root and issuer. */
static json_t *ctl_rotation_tls_info(const char *root_pem)
{
    char *subj = NULL;
    char *pub = NULL;
    json_t *out;

    if (ca_tls_info(root_pem, &subj, &pub, NULL) != 0) {
        subj = xstrdup("");
        pub = xstrdup("");
    }
    out = json_pack("{s:s, s:s, s:s}", "TrustRoot", root_pem,
                    "CertIssuerSubject", subj, "CertIssuerPublicKey", pub);
    free(subj);
    free(pub);
    return out;
}

static size_t ctl_rotation_n_certs(const char *pem)
{
    size_t n = 0;
    const char *p = pem;

    while ((p = strstr(p, "-----BEGIN CERTIFICATE-----")) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* The root a user brought (--ca-cert/--ca-key), checked like swarmkit. */
static int ctl_rotation_check_given(const char *cert, const char *key,
                                    const char *cur_cert, struct err *err)
{
    struct ca_cert_info info;
    struct err e;

    err_clear(&e);
    if (ca_root_check(cert, &e) != 0)
        return err_set(err, ERR_INVALID, "%s%s", ctl_rotation_invalid,
                       e.msg);
    if (ctl_rotation_n_certs(cert) != 1)
        return err_set(err, ERR_INVALID,
                       "%sthe desired CA certificate cannot contain "
                       "multiple certificates",
                       ctl_rotation_invalid);
    if (!ca_key_matches(cert, key))
        return err_set(err, ERR_INVALID,
                       "%sthe signing CA key does not match the signing CA "
                       "certificate",
                       ctl_rotation_invalid);
    if (ca_key_matches(cur_cert, key))
        return err_set(err, ERR_INVALID,
                       "%sCannot update to a cert with an identical key",
                       ctl_rotation_invalid);
    if (ca_cert_info(cert, &info, &e) != 0 ||
        info.not_after < (int64_t)time(NULL) + CTL_ROTATION__MIN_ROOT_LIFE)
        return err_set(err, ERR_INVALID,
                       "%sCA certificate expires too soon",
                       ctl_rotation_invalid);
    return 0;
}

int ctl_rotation_start(const json_t *cluster, const json_t *spec,
                       json_t **out_root_ca, struct err *err)
{
    const json_t *root = json_object_get(cluster, "_RootCA");
    const json_t *next = json_object_get(root, "RootRotation");
    const json_t *ca = json_object_get(spec, "CAConfig");
    const char *cur_cert = ctl_rotation_str(root, "CACert");
    const char *cur_key = ctl_rotation_str(root, "CAKey");
    const char *given_cert = ctl_rotation_str(ca, "SigningCACert");
    const char *given_key = ctl_rotation_str(ca, "SigningCAKey");
    json_int_t force = json_integer_value(json_object_get(ca, "ForceRotate"));
    json_int_t last =
        json_integer_value(json_object_get(root, "LastForcedRotation"));
    char *new_cert = NULL;
    char *new_key = NULL;
    char *cross = NULL;
    json_t *out;

    *out_root_ca = NULL;
    if (given_cert != NULL && given_cert[0] == '\0')
        given_cert = NULL;
    if (given_key != NULL && given_key[0] == '\0')
        given_key = NULL;
    if (cur_cert == NULL || cur_key == NULL)
        return err_set(err, ERR_UNAVAILABLE, "the cluster has no root CA");
    if (given_key != NULL && given_cert == NULL)
        return err_set(err, ERR_INVALID,
                       "%sif a signing CA key is provided, the signing CA "
                       "cert must also be provided",
                       ctl_rotation_invalid);
    if (given_cert != NULL && given_key == NULL) {
        /* The spec as read back (the key is never stored): no change. */
        if (strcmp(given_cert, cur_cert) == 0 ||
            (json_is_object(next) &&
             strcmp(given_cert, ctl_rotation_str(next, "CACert")) == 0))
            given_cert = NULL;
        else
            return err_set(err, ERR_INVALID,
                           "%sexternal CAs are not supported: a signing CA "
                           "certificate needs its key (--ca-key)",
                           ctl_rotation_invalid);
    }
    if (given_cert != NULL) {
        if (strcmp(given_cert, cur_cert) == 0 ||
            (json_is_object(next) &&
             strcmp(given_cert, ctl_rotation_str(next, "CACert")) == 0))
            return 0;
        if (ctl_rotation_check_given(given_cert, given_key, cur_cert, err))
            return -err->code;
        new_cert = xstrdup(given_cert);
        new_key = xstrdup(given_key);
    } else if (force != last) {
        if (ca_root_create(&new_cert, &new_key, err) != 0)
            return -err->code;
    } else {
        return 0;
    }
    /* A rotation replacing one in progress is cross-signed by the current
     * root too: nodes still trust only that one. */
    if (ca_cross_sign(cur_cert, cur_key, new_cert, &cross, err) != 0) {
        free(new_cert);
        free(new_key);
        return -err->code;
    }
    out = json_deep_copy(root);
    json_object_set_new(out, "LastForcedRotation", json_integer(force));
    json_object_set_new(out, "RootRotation",
                        json_pack("{s:s, s:s, s:s}", "CACert", new_cert,
                                  "CAKey", new_key, "CrossSignedCACert",
                                  cross));
    free(new_cert);
    free(new_key);
    free(cross);
    *out_root_ca = out;
    return 0;
}

void ctl_rotation_apply(json_t *next, json_t *root_ca)
{
    const json_t *rot = json_object_get(root_ca, "RootRotation");
    const char *shown = json_is_object(rot)
                            ? ctl_rotation_str(rot, "CACert")
                            : ctl_rotation_str(root_ca, "CACert");

    json_object_set_new(next, "TLSInfo", ctl_rotation_tls_info(shown));
    json_object_set_new(next, "RootRotationInProgress",
                        json_boolean(json_is_object(rot)));
    json_object_set_new(next, "_RootCA", root_ca);
}

const char *ctl_rotation_target(const json_t *cluster)
{
    const json_t *root = json_object_get(cluster, "_RootCA");
    const json_t *next = json_object_get(root, "RootRotation");

    if (!json_is_object(next))
        return NULL;
    return ctl_rotation_str(next, "CACert");
}

json_t *ctl_rotation_node_tls(const struct store *s, const char *node_id,
                              const json_t *tls_info)
{
    json_t *node = store_get(s, STORE_NODE, node_id);
    json_t *next;
    json_t *desc;
    const char *keys[] = {"TrustRoot", "CertIssuerSubject",
                          "CertIssuerPublicKey"};
    json_t *clean;
    size_t i;

    if (node == NULL || !json_is_object(tls_info))
        return NULL;
    clean = json_object();
    for (i = 0; i < ARRAY_SIZE(keys); i++) {
        const char *v = ctl_rotation_str(tls_info, keys[i]);

        if (v == NULL || strlen(v) > (1u << 16)) {
            json_decref(clean);
            return NULL;
        }
        json_object_set_new(clean, keys[i], json_string(v));
    }
    desc = json_object_get(node, "Description");
    if (json_equal(json_object_get(desc, "TLSInfo"), clean)) {
        json_decref(clean);
        return NULL;
    }
    next = json_deep_copy(node);
    desc = json_object_get(next, "Description");
    if (!json_is_object(desc)) {
        desc = json_object();
        json_object_set_new(next, "Description", desc);
    }
    json_object_set_new(desc, "TLSInfo", clean);
    return store_action_update_status(STORE_NODE, next,
                                      store_obj_version(node));
}

json_t *ctl_rotation_finish(const struct store *s)
{
    json_t *cluster = store_cluster(s);
    const json_t *root = json_object_get(cluster, "_RootCA");
    const json_t *rot = json_object_get(root, "RootRotation");
    const char *new_cert = ctl_rotation_str(rot, "CACert");
    json_t *want;
    json_t *nodes;
    json_t *node;
    json_t *next;
    json_t *root_ca;
    const char *id;
    const char *pub;
    char worker[CA_TOKEN_LEN + 1];
    char manager[CA_TOKEN_LEN + 1];
    char hash[CA_DIGEST_HEX_LEN + 1];
    char prefixed[CA_DIGEST_HEX_LEN + 8];

    if (cluster == NULL || new_cert == NULL)
        return NULL;
    want = ctl_rotation_tls_info(new_cert);
    pub = ctl_rotation_str(want, "CertIssuerPublicKey");
    nodes = store_all(s, STORE_NODE);
    json_object_foreach(nodes, id, node) {
        const json_t *tls = json_object_get(
            json_object_get(node, "Description"), "TLSInfo");
        const char *npub = ctl_rotation_str(tls, "CertIssuerPublicKey");

        if (npub == NULL || strcmp(npub, pub) != 0) {
            json_decref(want);
            return NULL;
        }
    }
    json_decref(want);
    /* Every node holds a certificate of the new root: it becomes the
     * root, with new join tokens (swarmkit's finishRootRotation). */
    root_ca = json_pack("{s:s, s:s, s:O?}", "CACert", new_cert, "CAKey",
                        ctl_rotation_str(rot, "CAKey"), "LastForcedRotation",
                        json_object_get(root, "LastForcedRotation"));
    ca_digest_hex(new_cert, strlen(new_cert), hash);
    snprintf(prefixed, sizeof(prefixed), "sha256:%s", hash);
    json_object_set_new(root_ca, "CACertHash", json_string(prefixed));
    ca_token_new(new_cert, worker);
    ca_token_new(new_cert, manager);
    next = json_deep_copy(cluster);
    ctl_rotation_apply(next, root_ca);
    json_object_set_new(next, "JoinTokens",
                        json_pack("{s:s, s:s}", "Worker", worker, "Manager",
                                  manager));
    return store_action_update(STORE_CLUSTER, next,
                               store_obj_version(cluster));
}
