/* SPDX-License-Identifier: Apache-2.0 */
/* Certificates and CSRs a peer hands us (manager/ca/ca_x509.c): the CSR of
 * a joining node (ca_issue against a real root), the root CA a joiner
 * downloads (ca_root_check), and the certificates whose fields we read.
 * The first input byte picks the use and whether the rest is DER, wrapped
 * in PEM here so the fuzzer works on the structure rather than on base64,
 * or PEM text as it comes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/err.h"
#include "manager/ca/ca.h"
#include "fuzz_util.h"

static char *root_cert;
static char *root_key;

/* PEM of der with the given label; malloc'd. */
static char *pem_wrap(const char *label, const uint8_t *der, size_t len)
{
    size_t b64_len = 4 * ((len + 2) / 3);
    size_t cap = b64_len + b64_len / 64 + 2 * strlen(label) + 64;
    char *out = malloc(cap);
    unsigned char *b64 = malloc(b64_len + 1);
    size_t i;
    size_t o;

    if (out == NULL || b64 == NULL)
        abort();
    EVP_EncodeBlock(b64, der, (int)len);
    o = (size_t)snprintf(out, cap, "-----BEGIN %s-----\n", label);
    for (i = 0; i < b64_len; i += 64) {
        size_t n = b64_len - i < 64 ? b64_len - i : 64;

        memcpy(out + o, b64 + i, n);
        o += n;
        out[o++] = '\n';
    }
    snprintf(out + o, cap - o, "-----END %s-----\n", label);
    free(b64);
    return out;
}

static char *text_of(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);

    if (s == NULL)
        abort();
    memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct err err;

    (void)argc;
    (void)argv;
    fuzz_quiet();
    err_clear(&err);
    if (ca_root_create(&root_cert, &root_key, &err) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ca_cert_info info;
    struct err err;
    char *pem;
    char *out = NULL;
    char *subj = NULL;
    char *pub = NULL;
    unsigned mode;
    bool der;

    if (size < 1)
        return 0;
    mode = data[0] & 0x7f;
    der = (data[0] & 0x80) != 0;
    data++;
    size--;
    err_clear(&err);
    switch (mode % 4) {
    case 0: /* a joiner's CSR */
        pem = der ? pem_wrap("CERTIFICATE REQUEST", data, size)
                  : text_of(data, size);
        if (ca_issue(root_cert, root_key, pem, "cluster0", "node0",
                     (mode & 4) ? CA_ROLE_MANAGER : CA_ROLE_WORKER,
                     CA_NODE_CERT_EXPIRY_MIN, &out, &err) == 0) {
            /* Whatever the CSR said, the result chains to our root and
             * carries the subject we imposed. */
            if (ca_verify(root_cert, out, &err) != 0 ||
                ca_cert_info(out, &info, &err) != 0 ||
                strcmp(info.cn, "node0") != 0 ||
                strcmp(info.o, "cluster0") != 0)
                abort();
            free(out);
        } else if (err.msg[0] == '\0') {
            abort();
        }
        break;
    case 1: /* the root CA a joiner downloads */
        pem = der ? pem_wrap("CERTIFICATE", data, size) : text_of(data, size);
        if (ca_root_check(pem, &err) != 0 && err.msg[0] == '\0')
            abort();
        break;
    case 2: /* fields of a certificate, and its chain to our root */
        pem = der ? pem_wrap("CERTIFICATE", data, size) : text_of(data, size);
        if (ca_cert_info(pem, &info, &err) == 0) {
            if (strlen(info.cn) >= sizeof(info.cn) ||
                strlen(info.ou) >= sizeof(info.ou))
                abort();
        }
        if (ca_tls_info(pem, &subj, &pub, &err) == 0) {
            free(subj);
            free(pub);
        }
        (void)ca_verify(root_cert, pem, &err);
        (void)ca_verify(pem, root_cert, &err);
        break;
    default: /* a key offered with a certificate */
        pem = der ? pem_wrap("PRIVATE KEY", data, size) : text_of(data, size);
        (void)ca_key_matches(root_cert, pem);
        (void)ca_key_matches(pem, root_key);
        break;
    }
    free(pem);
    return 0;
}
