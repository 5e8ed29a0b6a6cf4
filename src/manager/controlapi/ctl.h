/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control API: validation, defaults and the store actions behind the
 * swarm and node endpoints, with Docker's error texts. Pure functions over
 * the store: they read it and return actions to propose; they never write.
 */
#ifndef SHOAL_CTL_H
#define SHOAL_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "manager/store/store.h"

#define CTL_NS_PER_SEC 1000000000LL
#define CTL_DEFAULT_CERT_EXPIRY (2160LL * 3600 * CTL_NS_PER_SEC) /* 90 days */
#define CTL_MIN_CERT_EXPIRY (3600LL * CTL_NS_PER_SEC)

/* swarmkit's default cluster spec (Name "default"); caller owns it. */
json_t *ctl_spec_default(void);

/* Check a swarm Spec's field types and values (the JSON an API client
 * sent). ERR_INVALID with a message naming the field. */
int ctl_spec_validate(const json_t *spec, struct err *err);

/* Merge the non-zero fields of given into spec (init semantics: Docker
 * merges what the client set into swarmkit's defaults). */
void ctl_spec_merge(json_t *spec, const json_t *given);

/* Everything ctl_swarm_init needs to build the first objects. */
struct ctl_init {
    const char *cluster_id;
    const char *node_id;
    uint64_t raft_id;
    const char *advertise_addr;   /* "ip:port" */
    const char *hostname;
    json_t *spec;                 /* borrowed; validated, defaults merged */
    const char *root_cert_pem;
    const char *root_key_pem;
    const char *worker_token;
    const char *manager_token;
    const char *unlock_key;       /* "" unless autolock */
    json_t *default_addr_pool;    /* borrowed array of CIDR strings or NULL */
    unsigned subnet_size;         /* 0 -> 24 */
    unsigned data_path_port;      /* 0 -> 4789 */
    const char *ingress_id;
    json_t *node_description;     /* borrowed: Description of this node;
                                     its TLSInfo is the cluster's too */
};

/* Actions creating the cluster, this manager's node and the ingress
 * network. Returns a new action array owned by the caller, or NULL with err
 * set (a bad address pool, say). */
json_t *ctl_swarm_init(const struct ctl_init *in, struct err *err);

/* Validate a default address pool list and subnet size like Docker:
 * "invalid CIDR: ..." / "subnet size is out of range: N". */
int ctl_addr_pool_validate(const json_t *pools, unsigned subnet_size,
                           struct err *err);

/* The action for POST /swarm/update: new spec at the given version, with
 * token rotation (new tokens passed in, NULL to keep) and the unlock key
 * (NULL to keep, "" to clear). */
json_t *ctl_swarm_update(const struct store *s, uint64_t version,
                         const json_t *spec, const char *new_worker_token,
                         const char *new_manager_token,
                         const char *new_unlock_key, struct err *err);

/* --- node certificates and root rotation (ctl_rotation.c) -------------- */

/*
 * A node certificate for csr_pem (O=cluster ID, OU=ou, CN=node_id) with
 * the cluster's NodeCertExpiry, signed by the root that signs now: the
 * rotation's new root while one is in progress, its cross-signed
 * certificate appended to the leaf. 0 with *out_cert_pem malloc'd, or the
 * errors of ca_issue (ERR_UNAVAILABLE without a root).
 */
int ctl_rotation_issue(const json_t *cluster, const char *csr_pem,
                       const char *node_id, const char *ou,
                       char **out_cert_pem, struct err *err);

/*
 * Does this spec start a root rotation (SWARM-FACTS 3.6)? A ForceRotate
 * different from the last one makes a new root; SigningCACert with
 * SigningCAKey brings one (checked like swarmkit: one certificate, a key
 * that matches and differs from the current one, at least a year to
 * live). The certificate alone, equal to the current or target root, is
 * the spec as read back: no change. External CAs are not supported.
 * Returns 0 with *out_root_ca the new `_RootCA` object (with RootRotation
 * and the cross-signed certificate; owned by the caller) or NULL when
 * nothing rotates; -ERR_INVALID with Docker's text.
 */
int ctl_rotation_start(const json_t *cluster, const json_t *spec,
                       json_t **out_root_ca, struct err *err);

/* Put root_ca (stolen) into the cluster object next, with the TLSInfo the
 * API shows (the rotation's target while one runs) and
 * RootRotationInProgress. */
void ctl_rotation_apply(json_t *next, json_t *root_ca);

/* The PEM of the root being rotated to, or NULL (borrowed). */
const char *ctl_rotation_target(const json_t *cluster);

/* The status action recording a node's reported TLSInfo {TrustRoot,
 * CertIssuerSubject, CertIssuerPublicKey} as its Description.TLSInfo, or
 * NULL when it is already that (or the input is not one). */
json_t *ctl_rotation_node_tls(const struct store *s, const char *node_id,
                              const json_t *tls_info);

/* When a rotation runs and every node's certificate issuer is the new
 * root: the cluster update making it the root (RootRotation dropped, new
 * CACertHash and join tokens). NULL otherwise. */
json_t *ctl_rotation_finish(const struct store *s);

/* Resolve a node reference like Docker: exact ID, exact hostname, then ID
 * prefix. Borrowed node, or NULL with ERR_NOTFOUND "node X not found" /
 * ERR_INVALID "node X is ambiguous (N matches found)". */
json_t *ctl_node_lookup(const struct store *s, const char *ref,
                        struct err *err);

/* The action for POST /nodes/{id}/update. n_managers guards demotion of
 * the last manager. */
json_t *ctl_node_update(const struct store *s, const char *ref,
                        uint64_t version, const json_t *spec,
                        struct err *err);

/* The action for DELETE /nodes/{id}. */
json_t *ctl_node_remove(const struct store *s, const char *ref, bool force,
                        struct err *err);

/* A node asking to join (POST /swarm/join on another node, then the CA's
 * join call on this manager). */
struct ctl_join_req {
    const char *token;          /* SWMTKN-1-... */
    const char *csr_pem;        /* the node's CSR; only its key is used */
    const char *availability;   /* "" or NULL -> active */
    uint64_t raft_id;           /* managers: their Raft member ID */
    const char *advertise_addr; /* managers: "ip:port" for Raft */
    const char *remote_ip;      /* the address the call came from */
    json_t *description;        /* borrowed: the node's Description */
};

struct ctl_join_out {
    char node_id[26];           /* the new node's ID */
    const char *role;           /* "manager" | "worker" (static) */
    char *cert_pem;             /* malloc'd certificate; caller frees */
};

/* "manager" or "worker" if token is the cluster's current token for that
 * role (compared in constant time, manager first), else NULL. */
const char *ctl_join_role(const struct store *s, const char *token);

/* Admit a node: check the token (Docker's "A valid join token is necessary
 * to join this cluster" otherwise), pick a new node ID, sign the CSR with
 * the root in the store (OU from the token's role, expiry from the spec),
 * and return the action creating the node (Status ready). On success *out
 * is filled and out->cert_pem is the caller's. */
json_t *ctl_join(const struct store *s, const struct ctl_join_req *in,
                 struct ctl_join_out *out, struct err *err);

/* The cluster update that refuses the certificates of removed node
 * node_id from now on (Docker's BlacklistedCertificates): kept until a
 * certificate issued now would have expired, plus 7 days. A status-only
 * update checked against the cluster's current version. */
json_t *ctl_blacklist_add(const struct store *s, const char *node_id,
                          int64_t now);

/* True if node_id's certificates are refused (removed node) at time now. */
bool ctl_is_blacklisted(const struct store *s, const char *node_id,
                        int64_t now);

/* Count managers among the stored nodes (by desired role). */
unsigned ctl_node_count_managers(const struct store *s);

/*
 * Services (ctl_services.c). services is the {ID: Service} map of the
 * stored services (borrowed). Errors carry Docker's texts, gRPC-shaped
 * where swarmkit produces them (ERR_INVALID for a bad spec).
 */

/* Validate a ServiceSpec as the Engine and swarmkit do and return a copy
 * with the Engine's conversion defaults (Replicated without Replicas: 1;
 * ReplicatedJob MaxConcurrent 1 and TotalCompletions = MaxConcurrent;
 * EndpointSpec Mode "vip", port Protocol "tcp", PublishMode "ingress";
 * Labels {}). An empty Name is refused ("meta: name must be provided"):
 * the API layer names unnamed services first. Caller owns the result. */
json_t *ctl_service_spec_check(const json_t *spec, struct err *err);

/* A copy of a checked spec with swarmkit's defaults inserted
 * (GET ?insertDefaults=true): RestartPolicy {any, 5 s, 0}, UpdateConfig
 * and RollbackConfig {1, 0, pause, 5 s, 0, stop-first} (not for jobs),
 * ContainerSpec.StopGracePeriod 10 s, where absent. Caller owns it. */
json_t *ctl_service_spec_defaults(const json_t *spec);

/* Resolve a service reference like Docker: exact ID, exact name, then ID
 * prefix. Borrowed, or NULL with ERR_NOTFOUND "service X not found" /
 * ERR_INVALID "service X is ambiguous (N matches found)". */
json_t *ctl_service_lookup(const json_t *services, const char *ref,
                           struct err *err);

/* POST /services/create: the new Service (ID new, Spec checked,
 * Endpoint {Spec, Ports}, for a job JobStatus {JobIteration {Index 0}};
 * the caller may add LastExecution) for store_action_create, or NULL
 * with err (ERR_CONFLICT "rpc error: code = AlreadyExists desc = name conflicts
 * with an existing object: service <name> already exists"). */
json_t *ctl_service_create(const json_t *services, const json_t *spec,
                           struct err *err);

/* POST /services/{id}/update: the updated Service for
 * store_action_update (PreviousSpec = the old Spec, UpdateStatus
 * cleared), checked against version. rollback swaps Spec and
 * PreviousSpec (UpdateStatus rollback_started "manually requested
 * rollback" at now, RFC 3339) and ignores spec. Immutables: name
 * ("renaming services is not supported"), mode kind ("service mode
 * change is not allowed"); jobs take no UpdateConfig. A job's update or
 * rollback starts a new iteration: JobStatus.JobIteration.Index + 1,
 * LastExecution now. */
json_t *ctl_service_update(const json_t *services, const char *ref,
                           uint64_t version, const json_t *spec,
                           bool rollback, const char *now, struct err *err);

/*
 * Secrets and configs (ctl_secrets.c); k is STORE_SECRET or
 * STORE_CONFIG. Texts are swarmkit's, gRPC-shaped. Spec.Data is kept as
 * the API's base64 text.
 */
#define CTL_SECRET_MAX_SIZE (500 * 1024)  /* payloads must be smaller */
#define CTL_CONFIG_MAX_SIZE (1000 * 1024)

/* At most 64 of [a-zA-Z0-9-_.], first and last alphanumeric. */
bool ctl_secret_name_is_valid(const char *name);

/* Check a SecretSpec / ConfigSpec for create: types, name, no driver
 * or templating (shoal runs no plugins), 0 < decoded Data < the limit. */
int ctl_secret_spec_check(enum store_kind k, const json_t *spec,
                          struct err *err);

/* Resolve a reference like Docker: exact ID, exact name, then ID prefix.
 * Borrowed, or NULL with ERR_NOTFOUND "secret X not found" / ERR_INVALID
 * "secret X is ambiguous (N matches found)". */
json_t *ctl_secret_lookup(const struct store *s, enum store_kind k,
                          const char *ref, struct err *err);

/* The create action (new ID; the caller reads it from "obj"), or NULL
 * with err (ERR_CONFLICT "... secret <name> already exists"). */
json_t *ctl_secret_create(const struct store *s, enum store_kind k,
                          const json_t *spec, struct err *err);

/* The update action: only Labels may change ("only updates to Labels are
 * allowed"), checked against version. */
json_t *ctl_secret_update(const struct store *s, enum store_kind k,
                          const char *ref, uint64_t version,
                          const json_t *spec, struct err *err);

/* The delete action, or NULL with "secret '<name>' is in use by the
 * following service: <names>" while a service references it. */
json_t *ctl_secret_remove(const struct store *s, enum store_kind k,
                          const char *ref, struct err *err);

/* swarmkit's check of a service's references: each has an ID, a name and
 * a target ("malformed secret reference", "malformed secret reference,
 * no target provided", "malformed file secret reference, invalid target
 * file name provided"), no two share a file ("secret references 'a' and
 * 'b' have a conflicting target: 'f'"), and every SecretID (ConfigID)
 * of service's Spec.TaskTemplate.ContainerSpec names a stored secret
 * (config) of that SecretName (ConfigName), else ERR_INVALID "secret
 * not found: <name>" ("secrets not found: <a>, <b>"; configs alike). */
int ctl_secret_refs_check(const struct store *s, const json_t *service,
                          struct err *err);

/* The object as the API shows it (a secret without Spec.Data). New. */
json_t *ctl_secret_view(enum store_kind k, const json_t *obj);

#endif
