/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Autolock: the node key file with its PEM headers (kek-version, raft-dek),
 * the key encrypted with the KEK as PKCS#8 PBES2, the DEK wrapped with the
 * KEK (docs/internals/raft-encryption.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/mem.h"
#include "manager/ca/ca.h"

#define CA_KEK__PBKDF2_ITER 2048
#define CA_KEK__SALT_LEN 8
#define CA_KEK__NONCE 12
#define CA_KEK__TAG 16
#define CA_KEK__DEK_CLEAR 0
#define CA_KEK__DEK_GCM 1
#define CA_KEK__DEK_SEALED_LEN (1 + CA_KEK__NONCE + CA_KEK__TAG + CA_DEK_LEN)
#define CA_KEK__AD "raft-dek"
#define CA_KEK__MSG_LOCKED "node is locked, and needs a valid unlock key"

static const char ca_kek_type_clear[] = "PRIVATE KEY";
static const char ca_kek_type_locked[] = "ENCRYPTED PRIVATE KEY";

/* AES-256-GCM of the DEK under the KEK: out gets CA_KEK__DEK_SEALED_LEN. */
static int ca_kek_seal_dek(const uint8_t kek[CA_UNLOCK_KEY_BYTES],
                           const uint8_t dek[CA_DEK_LEN], uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *nonce = out + 1;
    uint8_t *tag = nonce + CA_KEK__NONCE;
    uint8_t *ct = tag + CA_KEK__TAG;
    int n;
    int ok;

    out[0] = CA_KEK__DEK_GCM;
    ok = ctx != NULL && RAND_bytes(nonce, CA_KEK__NONCE) == 1 &&
         EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, kek, nonce) == 1 &&
         EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)CA_KEK__AD,
                           (int)strlen(CA_KEK__AD)) == 1 &&
         EVP_EncryptUpdate(ctx, ct, &n, dek, CA_DEK_LEN) == 1 &&
         EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CA_KEK__TAG, tag) ==
             1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

static int ca_kek_open_dek(const uint8_t kek[CA_UNLOCK_KEY_BYTES],
                           const uint8_t *in, uint8_t dek[CA_DEK_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const uint8_t *nonce = in + 1;
    uint8_t tag[CA_KEK__TAG];
    uint8_t out[CA_DEK_LEN + 16];
    int n;
    int ok;

    memcpy(tag, nonce + CA_KEK__NONCE, sizeof(tag));
    ok = ctx != NULL &&
         EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, kek, nonce) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)CA_KEK__AD,
                           (int)strlen(CA_KEK__AD)) == 1 &&
         EVP_DecryptUpdate(ctx, out, &n, in + 1 + CA_KEK__NONCE + CA_KEK__TAG,
                           CA_DEK_LEN) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CA_KEK__TAG, tag) ==
             1 &&
         EVP_DecryptFinal_ex(ctx, out + n, &n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (ok)
        memcpy(dek, out, CA_DEK_LEN);
    OPENSSL_cleanse(out, sizeof(out));
    return ok ? 0 : -1;
}

/* The value of header `name` in a PEM header block, or "" (into out). */
static void ca_kek_header(const char *headers, const char *name, char *out,
                          size_t out_len)
{
    size_t n = strlen(name);
    const char *p = headers;

    out[0] = '\0';
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);

        if (len > n + 1 && strncmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            while (*v == ' ')
                v++;
            len -= (size_t)(v - p);
            while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == ' '))
                len--;
            if (len >= out_len)
                len = out_len - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
        p = eol ? eol + 1 : NULL;
    }
}

/* PEM text of der with name and headers (NULL: none), malloc'd. */
static char *ca_kek_pem(const char *name, const char *headers,
                        const uint8_t *der, long len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    char *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio(bio, name, headers ? headers : "", der, len) > 0) {
        n = BIO_get_mem_data(bio, &data);
        out = xmalloc((size_t)n + 1);
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

/* The first PEM block of text: name, headers and DER (all OPENSSL_free). */
static int ca_kek_parse(const char *text, char **name, char **headers,
                        uint8_t **der, long *len)
{
    BIO *bio = BIO_new_mem_buf(text, -1);
    int ok;

    if (bio == NULL)
        return -1;
    ok = PEM_read_bio(bio, name, headers, der, len);
    BIO_free(bio);
    return ok > 0 ? 0 : -1;
}

bool ca_kek_is_locked(const char *file_text)
{
    char *name = NULL;
    char *headers = NULL;
    uint8_t *der = NULL;
    long len = 0;
    bool locked;

    if (file_text == NULL ||
        ca_kek_parse(file_text, &name, &headers, &der, &len) != 0)
        return false;
    locked = strcmp(name, ca_kek_type_locked) == 0;
    OPENSSL_free(name);
    OPENSSL_free(headers);
    OPENSSL_free(der);
    return locked;
}

int ca_kek_read(const char *file_text, const uint8_t *kek,
                struct ca_kek_file *out, struct err *err)
{
    char *name = NULL;
    char *headers = NULL;
    uint8_t *der = NULL;
    long len = 0;
    char value[256];
    uint8_t raw[256];
    const uint8_t *p;
    X509_SIG *sig = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    uint8_t *clear = NULL;
    int n;
    int rv = -ERR_INVALID;

    memset(out, 0, sizeof(*out));
    if (file_text == NULL ||
        ca_kek_parse(file_text, &name, &headers, &der, &len) != 0)
        return err_set(err, ERR_INVALID, "the node key file holds no key");
    ca_kek_header(headers, "kek-version", value, sizeof(value));
    out->kek_version = strtoull(value, NULL, 10);
    out->locked = strcmp(name, ca_kek_type_locked) == 0;
    if (out->locked) {
        if (kek == NULL) {
            rv = err_set(err, ERR_UNAUTHORIZED, CA_KEK__MSG_LOCKED);
            goto out;
        }
        p = der;
        sig = d2i_X509_SIG(NULL, &p, len);
        if (sig != NULL)
            p8 = PKCS8_decrypt(sig, (const char *)kek, CA_UNLOCK_KEY_BYTES);
        if (p8 == NULL) {
            rv = err_set(err, sig ? ERR_UNAUTHORIZED : ERR_INVALID,
                         sig ? CA_KEK__MSG_LOCKED
                             : "the node key file holds no valid "
                               "encrypted key");
            goto out;
        }
        n = i2d_PKCS8_PRIV_KEY_INFO(p8, &clear);
        if (n <= 0) {
            rv = err_set(err, ERR_INTERNAL, "node key: PKCS#8 encoding");
            goto out;
        }
        out->key_pem = ca_kek_pem(ca_kek_type_clear, NULL, clear, n);
    } else if (strcmp(name, ca_kek_type_clear) == 0 ||
               strcmp(name, "EC PRIVATE KEY") == 0) {
        out->key_pem = ca_kek_pem(name, NULL, der, len);
    } else {
        rv = err_set(err, ERR_INVALID, "the node key file holds a %s", name);
        goto out;
    }
    if (out->key_pem == NULL) {
        rv = err_set(err, ERR_INTERNAL, "node key: PEM encoding");
        goto out;
    }
    ca_kek_header(headers, "raft-dek", value, sizeof(value));
    if (value[0] != '\0') {
        n = EVP_DecodeBlock(raw, (const uint8_t *)value, (int)strlen(value));
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        if (n >= 0 && strlen(value) >= 2 && value[strlen(value) - 1] == '=')
            n -= value[strlen(value) - 2] == '=' ? 2 : 1;
        if (n == 1 + CA_DEK_LEN && raw[0] == CA_KEK__DEK_CLEAR) {
            memcpy(out->dek, raw + 1, CA_DEK_LEN);
        } else if (n == CA_KEK__DEK_SEALED_LEN && raw[0] == CA_KEK__DEK_GCM) {
            if (kek == NULL || ca_kek_open_dek(kek, raw, out->dek) != 0) {
                rv = err_set(err, ERR_UNAUTHORIZED, CA_KEK__MSG_LOCKED);
                goto out;
            }
        } else {
            rv = err_set(err, ERR_INVALID, "the node key file has a "
                                           "malformed raft-dek header");
            goto out;
        }
        out->has_dek = true;
    }
    rv = 0;
out:
    if (rv != 0)
        ca_kek_file_release(out);
    OPENSSL_cleanse(raw, sizeof(raw));
    X509_SIG_free(sig);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (clear != NULL)
        OPENSSL_clear_free(clear, (size_t)n);
    OPENSSL_free(name);
    OPENSSL_free(headers);
    if (der != NULL)
        OPENSSL_clear_free(der, (size_t)len);
    return rv;
}

void ca_kek_file_release(struct ca_kek_file *f)
{
    if (f->key_pem != NULL) {
        OPENSSL_cleanse(f->key_pem, strlen(f->key_pem));
        free(f->key_pem);
    }
    OPENSSL_cleanse(f->dek, sizeof(f->dek));
    memset(f, 0, sizeof(*f));
}

char *ca_kek_write(const char *key_pem, const uint8_t *kek,
                   const uint8_t *dek, uint64_t kek_version, struct err *err)
{
    char *name = NULL;
    char *headers = NULL;
    uint8_t *der = NULL;
    long len = 0;
    char hdr[512];
    uint8_t raw[CA_KEK__DEK_SEALED_LEN];
    char b64[256];
    const uint8_t *p;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    X509_SIG *sig = NULL;
    uint8_t *enc = NULL;
    char *out = NULL;
    int n = 0;
    int off;

    if (key_pem == NULL ||
        ca_kek_parse(key_pem, &name, &headers, &der, &len) != 0 ||
        (strcmp(name, ca_kek_type_clear) != 0 &&
         (kek != NULL || strcmp(name, "EC PRIVATE KEY") != 0))) {
        err_set(err, ERR_INVALID, "the node key is not a clear PKCS#8 key");
        goto out;
    }
    off = snprintf(hdr, sizeof(hdr), "kek-version: %" PRIu64 "\n",
                   kek_version);
    if (dek != NULL) {
        if (kek != NULL) {
            if (ca_kek_seal_dek(kek, dek, raw) != 0) {
                err_set(err, ERR_INTERNAL, "raft DEK: encryption failed");
                goto out;
            }
            n = CA_KEK__DEK_SEALED_LEN;
        } else {
            raw[0] = CA_KEK__DEK_CLEAR;
            memcpy(raw + 1, dek, CA_DEK_LEN);
            n = 1 + CA_DEK_LEN;
        }
        EVP_EncodeBlock((uint8_t *)b64, raw, n);
        snprintf(hdr + off, sizeof(hdr) - (size_t)off, "raft-dek: %s\n", b64);
    }
    if (kek == NULL) {
        out = ca_kek_pem(name, hdr, der, len);
    } else {
        p = der;
        p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
        if (p8 != NULL)
            sig = PKCS8_encrypt(-1, EVP_aes_256_cbc(), (const char *)kek,
                                CA_UNLOCK_KEY_BYTES, NULL, CA_KEK__SALT_LEN,
                                CA_KEK__PBKDF2_ITER, p8);
        n = sig ? i2d_X509_SIG(sig, &enc) : -1;
        if (n > 0)
            out = ca_kek_pem(ca_kek_type_locked, hdr, enc, n);
    }
    if (out == NULL)
        err_set(err, ERR_INTERNAL, "node key: encryption failed");
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(b64, sizeof(b64));
    PKCS8_PRIV_KEY_INFO_free(p8);
    X509_SIG_free(sig);
    OPENSSL_free(enc);
    OPENSSL_free(name);
    OPENSSL_free(headers);
    if (der != NULL)
        OPENSSL_clear_free(der, (size_t)len);
    return out;
}
