/* SPDX-License-Identifier: Apache-2.0 */
/* Debug endpoints, compiled into test builds only (SHOAL_TESTING). */
#include <stdlib.h>

#include "api/api_int.h"
#include "cluster/cluster.h"
#include "manager/ca/ca.h"
#include "manager/store/store.h"

#ifdef SHOAL_TESTING
/* GET /_shoal/debug/store-digest: this manager's own store (never
 * forwarded), so tests can check that every manager converged. */
void api_debug_store_digest(struct api_req *req)
{
    struct err err;
    const struct store *s;
    char digest[CA_DIGEST_HEX_LEN + 1];
    char *snap;
    size_t len;

    err_clear(&err);
    s = cluster_local_store(req->cluster);
    if (s == NULL) {
        api_reply_error(req, ERR_UNAVAILABLE, "no store on this node");
        return;
    }
    snap = store_snapshot(s, &len);
    ca_digest_hex(snap, len, digest);
    free(snap);
    api_reply_json(req, 200,
                   json_pack("{s:I, s:s, s:I, s:b}", "Index",
                             (json_int_t)store_index(s), "Digest", digest,
                             "Term",
                             (json_int_t)cluster_raft_term(req->cluster),
                             "Leader", cluster_is_leader(req->cluster)));
}
#endif
