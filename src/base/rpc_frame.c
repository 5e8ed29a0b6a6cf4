/* SPDX-License-Identifier: Apache-2.0 */
/* The RPC frame codec: a 12-byte header and a capped JSON payload, decoded
 * incrementally (any split of the input yields the same frames). */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/rpc.h"
#include "base/rpc_int.h"

static uint32_t rpc_frame_get32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void rpc_frame_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

void rpc_frame_dec_init(struct rpc_frame_dec *dec, size_t max)
{
    memset(dec, 0, sizeof(*dec));
    dec->max = max == 0 || max > RPC_FRAME_MAX ? RPC_FRAME_MAX : max;
}

void rpc_frame_dec_release(struct rpc_frame_dec *dec)
{
    free(dec->payload);
    dec->payload = NULL;
    dec->payload_len = 0;
    dec->hdr_len = 0;
}

static int rpc_frame_fail(struct rpc_frame_dec *dec, struct err *err,
                          const char *what)
{
    dec->failed = true;
    free(dec->payload);
    dec->payload = NULL;
    return err_set(err, ERR_PROTO, "bad rpc frame: %s", what);
}

/* Header complete: validate it and prepare the payload buffer. */
static int rpc_frame_parse_hdr(struct rpc_frame_dec *dec, struct err *err)
{
    const unsigned char *h = dec->hdr;

    dec->len = rpc_frame_get32(h);
    dec->type = h[4];
    dec->flags = h[5];
    dec->call_id = rpc_frame_get32(h + 8);
    if (h[6] != 0 || h[7] != 0)
        return rpc_frame_fail(dec, err, "reserved bits set");
    if (dec->type < RPC_FRAME_REQUEST || dec->type > RPC_FRAME_CANCEL)
        return rpc_frame_fail(dec, err, "unknown frame type");
    if ((dec->flags & ~RPC_FRAME_F_STREAM) != 0 ||
        (dec->flags != 0 && dec->type != RPC_FRAME_REQUEST))
        return rpc_frame_fail(dec, err, "unknown flags");
    if (dec->call_id == 0)
        return rpc_frame_fail(dec, err, "call id 0");
    if (dec->len > dec->max) {
        dec->failed = true;
        return err_set(err, ERR_PROTO,
                       "bad rpc frame: payload of %u bytes exceeds the "
                       "%zu-byte limit", dec->len, dec->max);
    }
    if (dec->type == RPC_FRAME_CANCEL ? dec->len != 0 : dec->len == 0)
        return rpc_frame_fail(dec, err, "bad payload length");
    if (dec->len > 0) {
        dec->payload = mem_try_alloc(dec->len);
        if (dec->payload == NULL)
            return rpc_frame_fail(dec, err, "cannot allocate payload");
    }
    dec->payload_len = 0;
    return 0;
}

/* A status field: 0 or -code. Codes this build does not know (a newer
 * peer) become ERR_INTERNAL rather than breaking the connection. */
static bool rpc_frame_status_ok(json_t *obj)
{
    json_t *st = json_object_get(obj, "status");
    json_t *msg = json_object_get(obj, "message");
    json_int_t v;

    if (!json_is_integer(st) || (msg != NULL && !json_is_string(msg)))
        return false;
    v = json_integer_value(st);
    if (v > 0)
        return false;
    if (v <= -ERR__COUNT)
        json_object_set_new(obj, "status", json_integer(-ERR_INTERNAL));
    return true;
}

/* Payload complete: parse and check the fields its type requires. */
static int rpc_frame_parse_payload(struct rpc_frame_dec *dec,
                                   struct rpc_frame *out, struct err *err)
{
    json_error_t jerr;
    json_t *obj = NULL;
    json_t *method;

    if (dec->type != RPC_FRAME_CANCEL) {
        obj = json_loadb(dec->payload, dec->len, JSON_REJECT_DUPLICATES,
                         &jerr);
        if (!json_is_object(obj)) {
            json_decref(obj);
            return rpc_frame_fail(dec, err, "payload is not a JSON object");
        }
    }
    switch (dec->type) {
    case RPC_FRAME_REQUEST:
        method = json_object_get(obj, "method");
        if (!json_is_string(method) || json_string_length(method) == 0) {
            json_decref(obj);
            return rpc_frame_fail(dec, err, "request without a method");
        }
        break;
    case RPC_FRAME_RESPONSE:
    case RPC_FRAME_END:
        if (!rpc_frame_status_ok(obj)) {
            json_decref(obj);
            return rpc_frame_fail(dec, err, "bad status");
        }
        break;
    default:
        break;
    }
    free(dec->payload);
    dec->payload = NULL;
    out->type = dec->type;
    out->flags = dec->flags;
    out->call_id = dec->call_id;
    out->payload = obj;
    dec->hdr_len = 0;
    dec->payload_len = 0;
    return RPC_FRAME_OK;
}

int rpc_frame_feed(struct rpc_frame_dec *dec, const char *data, size_t len,
                   size_t *out_used, struct rpc_frame *out, struct err *err)
{
    size_t used = 0;
    size_t n;
    int rv;

    *out_used = 0;
    if (dec->failed)
        return err_set(err, ERR_PROTO, "bad rpc frame: stream already failed");
    if (dec->hdr_len < RPC_FRAME_HDR_LEN) {
        n = RPC_FRAME_HDR_LEN - dec->hdr_len;
        if (n > len)
            n = len;
        memcpy(dec->hdr + dec->hdr_len, data, n);
        dec->hdr_len += n;
        used = n;
        *out_used = used;
        if (dec->hdr_len < RPC_FRAME_HDR_LEN)
            return RPC_FRAME_AGAIN;
        rv = rpc_frame_parse_hdr(dec, err);
        if (rv != 0)
            return rv;
    }
    n = dec->len - dec->payload_len;
    if (n > len - used)
        n = len - used;
    if (n > 0)
        memcpy(dec->payload + dec->payload_len, data + used, n);
    dec->payload_len += n;
    used += n;
    *out_used = used;
    if (dec->payload_len < dec->len)
        return RPC_FRAME_AGAIN;
    return rpc_frame_parse_payload(dec, out, err);
}

int rpc_frame_encode(uint8_t type, uint8_t flags, uint32_t call_id,
                     const json_t *payload, char **out, size_t *out_len,
                     struct err *err)
{
    size_t n = 0;
    char *buf;

    if (payload != NULL) {
        n = json_dumpb(payload, NULL, 0, JSON_COMPACT);
        if (n == 0)
            return err_set(err, ERR_INVALID, "rpc payload cannot be encoded");
        if (n > RPC_FRAME_MAX)
            return err_set(err, ERR_TOOBIG,
                           "rpc message of %zu bytes exceeds the %u-byte "
                           "limit", n, RPC_FRAME_MAX);
    }
    buf = xmalloc(RPC_FRAME_HDR_LEN + n);
    rpc_frame_put32((unsigned char *)buf, (uint32_t)n);
    buf[4] = (char)type;
    buf[5] = (char)flags;
    buf[6] = 0;
    buf[7] = 0;
    rpc_frame_put32((unsigned char *)buf + 8, call_id);
    if (n > 0 && json_dumpb(payload, buf + RPC_FRAME_HDR_LEN, n,
                            JSON_COMPACT) != n) {
        free(buf);
        return err_set(err, ERR_INVALID, "rpc payload cannot be encoded");
    }
    *out = buf;
    *out_len = RPC_FRAME_HDR_LEN + n;
    return 0;
}
