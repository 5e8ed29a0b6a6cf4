/* SPDX-License-Identifier: Apache-2.0 */
/* Keys, CSRs and certificates with OpenSSL: the only file that calls it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "base/ids.h"
#include "base/mem.h"
#include "manager/ca/ca.h"

/* cfssl's defaults as swarmkit uses them (SWARM-FACTS §3.1, §3.2). */
#define CA_X509__ROOT_BACKDATE 300        /* 5 min */
#define CA_X509__ROOT_EXPIRY 630720000    /* RootCAExpiration, 20 years */
#define CA_X509__NODE_BACKDATE 3600       /* CertBackdate, 1h */
#define CA_X509__SERIAL_BYTES 20
#define CA_X509__ID_MAX 64                /* ub-organization-name */
#define CA_X509__RSA_MIN_BITS 2048

/* Never prompt on the terminal for a passphrase: an encrypted key fails. */
static int ca_x509_no_pass(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Set err from OpenSSL's queue, then empty the queue so that stale entries
 * never confuse a later SSL_get_error() on the same thread. */
static int ca_x509_fail(struct err *err, int code, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
    int rv;

    if (reason != NULL)
        rv = err_set(err, code, "%s: %s", what, reason);
    else
        rv = err_set(err, code, "%s", what);
    ERR_clear_error();
    return rv;
}

static BIO *ca_x509_bio_in(const char *pem)
{
    BIO *bio;

    if (pem == NULL)
        return NULL;
    bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL)
        ERR_clear_error();
    return bio;
}

/* A malloc'd NUL-terminated copy of what was written to a memory BIO. */
static char *ca_x509_bio_take(BIO *bio)
{
    char *data = NULL;
    long len;

    len = BIO_get_mem_data(bio, &data);
    if (len <= 0 || data == NULL)
        return NULL;
    return xstrndup(data, (size_t)len);
}

/* The first certificate of pem, or NULL (OpenSSL's queue emptied). */
static X509 *ca_x509_load_cert(const char *pem)
{
    BIO *bio = ca_x509_bio_in(pem);
    X509 *x;

    if (bio == NULL)
        return NULL;
    x = PEM_read_bio_X509(bio, NULL, ca_x509_no_pass, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return x;
}

/* Every certificate of pem in order; NULL if there is none or one of the
 * CERTIFICATE blocks is corrupt. */
static STACK_OF(X509) *ca_x509_load_all(const char *pem)
{
    BIO *bio = ca_x509_bio_in(pem);
    STACK_OF(X509) *certs;
    X509 *x;
    unsigned long e;

    if (bio == NULL)
        return NULL;
    certs = sk_X509_new_null();
    if (certs == NULL)
        goto err_after_bio;
    for (;;) {
        x = PEM_read_bio_X509(bio, NULL, ca_x509_no_pass, NULL);
        if (x == NULL)
            break;
        if (sk_X509_push(certs, x) <= 0) {
            X509_free(x);
            goto err_after_stack;
        }
    }
    /* The loop ends on "no start line" at the end of the text; any other
     * reason means a block that does not parse. */
    e = ERR_peek_last_error();
    if (sk_X509_num(certs) == 0 || ERR_GET_LIB(e) != ERR_LIB_PEM ||
        ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
        goto err_after_stack;
    ERR_clear_error();
    BIO_free(bio);
    return certs;

err_after_stack:
    sk_X509_pop_free(certs, X509_free);
err_after_bio:
    BIO_free(bio);
    ERR_clear_error();
    return NULL;
}

static EVP_PKEY *ca_x509_load_key(const char *pem)
{
    BIO *bio = ca_x509_bio_in(pem);
    EVP_PKEY *key;

    if (bio == NULL)
        return NULL;
    key = PEM_read_bio_PrivateKey(bio, NULL, ca_x509_no_pass, NULL);
    BIO_free(bio);
    ERR_clear_error();
    return key;
}

static int64_t ca_x509_now_minute(void)
{
    int64_t now = (int64_t)time(NULL);

    return now - now % 60;
}

/* cfssl: 20 random bytes with the top bit cleared, so always positive. */
static int ca_x509_set_serial(X509 *x)
{
    unsigned char raw[CA_X509__SERIAL_BYTES];
    BIGNUM *bn;
    int rv = -1;

    ids_random(raw, sizeof(raw));
    raw[0] &= 0x7f;
    raw[sizeof(raw) - 1] |= 0x01; /* never zero, which RFC 5280 forbids */
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    if (bn == NULL)
        return -1;
    if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
        rv = 0;
    BN_free(bn);
    return rv;
}

static int ca_x509_set_validity(X509 *x, int64_t not_before, int64_t not_after)
{
    if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) == NULL)
        return -1;
    if (ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) == NULL)
        return -1;
    return 0;
}

static bool ca_x509_is_printable(const char *s)
{
    for (; *s != '\0'; s++) {
        char c = *s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(" '()+,-./:=?", c) != NULL))
            return false;
    }
    return true;
}

/* Go encodes a name attribute as PrintableString when it can and as
 * UTF8String otherwise; do the same so our DER subjects look like Docker's. */
static int ca_x509_name_add(X509_NAME *name, int nid, const char *value)
{
    int type = ca_x509_is_printable(value) ? V_ASN1_PRINTABLESTRING
                                           : MBSTRING_UTF8;

    if (X509_NAME_add_entry_by_NID(name, nid, type,
                                   (const unsigned char *)value, -1, -1,
                                   0) != 1)
        return -1;
    return 0;
}

/* One extension from its openssl.cnf-style text (fixed strings only). */
static int ca_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid,
                           const char *value)
{
    X509_EXTENSION *ext;
    int rv = -1;

    ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    if (ext == NULL)
        return -1;
    if (X509_add_ext(x, ext, -1) == 1)
        rv = 0;
    X509_EXTENSION_free(ext);
    return rv;
}

/* SAN of DNS names, built as objects so that no value is ever parsed as
 * configuration text. */
static int ca_x509_add_san(X509 *x, const char *const *names, size_t n_names)
{
    GENERAL_NAMES *gens;
    GENERAL_NAME *gen;
    ASN1_IA5STRING *ia5;
    size_t i;
    int rv = -1;

    gens = sk_GENERAL_NAME_new_null();
    if (gens == NULL)
        return -1;
    for (i = 0; i < n_names; i++) {
        ia5 = ASN1_IA5STRING_new();
        if (ia5 == NULL)
            goto err_after_gens;
        if (ASN1_STRING_set(ia5, names[i], -1) != 1) {
            ASN1_IA5STRING_free(ia5);
            goto err_after_gens;
        }
        gen = GENERAL_NAME_new();
        if (gen == NULL) {
            ASN1_IA5STRING_free(ia5);
            goto err_after_gens;
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
        if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
            GENERAL_NAME_free(gen);
            goto err_after_gens;
        }
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                          X509V3_ADD_DEFAULT) == 1)
        rv = 0;
err_after_gens:
    GENERAL_NAMES_free(gens);
    return rv;
}

/* Like Go's x509.CreateCertificate: the AKI is the issuer's SKI, and is
 * left out when the issuer has none. */
static int ca_x509_add_akid(X509 *x, X509 *issuer)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);
    AUTHORITY_KEYID *akid;
    int rv = -1;

    ERR_clear_error();
    if (ski == NULL)
        return 0;
    akid = AUTHORITY_KEYID_new();
    if (akid == NULL)
        return -1;
    akid->keyid = ASN1_OCTET_STRING_dup(ski);
    if (akid->keyid != NULL &&
        X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0,
                          X509V3_ADD_DEFAULT) == 1)
        rv = 0;
    AUTHORITY_KEYID_free(akid);
    return rv;
}

/* swarmkit accepts RSA >= 2048 bits and the NIST curves P-256/384/521. */
static bool ca_x509_key_is_allowed(EVP_PKEY *key)
{
    char group[64];
    int nid;

    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        return EVP_PKEY_get_bits(key) >= CA_X509__RSA_MIN_BITS;
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1) {
            ERR_clear_error();
            return false;
        }
        nid = OBJ_sn2nid(group);
        return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ||
               nid == NID_secp521r1;
    default:
        return false;
    }
}

static bool ca_x509_sig_is_allowed(const X509 *x)
{
    switch (X509_get_signature_nid(x)) {
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
        return true;
    default:
        return false;
    }
}

/* Cluster and node IDs go into the subject and (node IDs) into DNS SANs. */
static bool ca_x509_id_is_valid(const char *s)
{
    size_t len;
    size_t i;

    if (s == NULL)
        return false;
    len = strlen(s);
    if (len == 0 || len > CA_X509__ID_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

int ca_root_create(char **out_cert_pem, char **out_key_pem, struct err *err)
{
    EVP_PKEY *key;
    X509 *x;
    X509V3_CTX ctx;
    BIO *cert_bio;
    BIO *key_bio;
    char *cert_pem;
    char *key_pem;
    int64_t not_before;
    int rv = -ERR_INTERNAL;

    key = EVP_EC_gen("P-256");
    if (key == NULL)
        return ca_x509_fail(err, ERR_INTERNAL, "generate root CA key");
    x = X509_new();
    if (x == NULL)
        goto err_after_key;
    not_before = ca_x509_now_minute() - CA_X509__ROOT_BACKDATE;
    if (X509_set_version(x, X509_VERSION_3) != 1 || ca_x509_set_serial(x) ||
        ca_x509_name_add(X509_get_subject_name(x), NID_commonName,
                         CA_ROOT_CN) ||
        X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        ca_x509_set_validity(x, not_before,
                             not_before + CA_X509__ROOT_EXPIRY) ||
        X509_set_pubkey(x, key) != 1)
        goto err_after_cert;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (ca_x509_add_ext(x, &ctx, NID_key_usage,
                        "critical,keyCertSign,cRLSign") ||
        ca_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
        ca_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
        goto err_after_cert;
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        goto err_after_cert;

    cert_bio = BIO_new(BIO_s_mem());
    if (cert_bio == NULL)
        goto err_after_cert;
    key_bio = BIO_new(BIO_s_mem());
    if (key_bio == NULL)
        goto err_after_cert_bio;
    /* cfssl writes the root key in SEC1 form ("EC PRIVATE KEY"). */
    if (PEM_write_bio_X509(cert_bio, x) != 1 ||
        PEM_write_bio_PrivateKey_traditional(key_bio, key, NULL, NULL, 0, NULL,
                                             NULL) != 1)
        goto err_after_key_bio;
    cert_pem = ca_x509_bio_take(cert_bio);
    key_pem = ca_x509_bio_take(key_bio);
    if (cert_pem == NULL || key_pem == NULL) {
        free(cert_pem);
        free(key_pem);
        goto err_after_key_bio;
    }
    *out_cert_pem = cert_pem;
    *out_key_pem = key_pem;
    rv = 0;

err_after_key_bio:
    BIO_free(key_bio);
err_after_cert_bio:
    BIO_free(cert_bio);
err_after_cert:
    X509_free(x);
err_after_key:
    EVP_PKEY_free(key);
    if (rv != 0)
        rv = ca_x509_fail(err, ERR_INTERNAL, "create root CA");
    return rv;
}

int ca_root_check(const char *root_pem, struct err *err)
{
    STACK_OF(X509) *certs;
    X509 *x;
    EVP_PKEY *pub;
    const char *problem = NULL;
    int i;

    certs = ca_x509_load_all(root_pem);
    if (certs == NULL)
        return err_set(err, ERR_INVALID,
                       "invalid root CA bundle: no valid PEM certificate");
    for (i = 0; i < sk_X509_num(certs) && problem == NULL; i++) {
        x = sk_X509_value(certs, i);
        pub = X509_get0_pubkey(x);
        if (X509_check_ca(x) != 1)
            problem = "certificate is not a CA";
        else if (X509_check_issued(x, x) != X509_V_OK || pub == NULL ||
                 X509_verify(x, pub) != 1)
            problem = "certificate is not self-signed";
        else if (!ca_x509_sig_is_allowed(x))
            problem = "unsupported signature algorithm";
        else if (!ca_x509_key_is_allowed(pub))
            problem = "unsupported key type or size";
        else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
            problem = "certificate is not valid yet";
        else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
            problem = "certificate has expired";
    }
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    if (problem != NULL)
        return err_set(err, ERR_INVALID, "invalid root CA bundle: %s",
                       problem);
    return 0;
}

void ca_thread_done(void)
{
    OPENSSL_thread_stop();
}

int ca_node_key_create(char **out_key_pem, char **out_csr_pem,
                       struct err *err)
{
    EVP_PKEY *key;
    X509_REQ *req;
    BIO *key_bio;
    BIO *csr_bio;
    char *key_pem;
    char *csr_pem;
    int rv = -ERR_INTERNAL;

    key = EVP_EC_gen("P-256");
    if (key == NULL)
        return ca_x509_fail(err, ERR_INTERNAL, "generate node key");
    req = X509_REQ_new();
    if (req == NULL)
        goto err_after_key;
    /* An empty subject: the CA imposes O, OU and CN. */
    if (X509_REQ_set_version(req, 0) != 1 ||
        X509_REQ_set_pubkey(req, key) != 1 ||
        X509_REQ_sign(req, key, EVP_sha256()) <= 0)
        goto err_after_req;
    key_bio = BIO_new(BIO_s_mem());
    if (key_bio == NULL)
        goto err_after_req;
    csr_bio = BIO_new(BIO_s_mem());
    if (csr_bio == NULL)
        goto err_after_key_bio;
    /* PEM_write_bio_PrivateKey writes PKCS#8, as swarmkit stores it. */
    if (PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL,
                                 NULL) != 1 ||
        PEM_write_bio_X509_REQ(csr_bio, req) != 1)
        goto err_after_csr_bio;
    key_pem = ca_x509_bio_take(key_bio);
    csr_pem = ca_x509_bio_take(csr_bio);
    if (key_pem == NULL || csr_pem == NULL) {
        free(key_pem);
        free(csr_pem);
        goto err_after_csr_bio;
    }
    *out_key_pem = key_pem;
    *out_csr_pem = csr_pem;
    rv = 0;

err_after_csr_bio:
    BIO_free(csr_bio);
err_after_key_bio:
    BIO_free(key_bio);
err_after_req:
    X509_REQ_free(req);
err_after_key:
    EVP_PKEY_free(key);
    if (rv != 0)
        rv = ca_x509_fail(err, ERR_INTERNAL, "create node key and CSR");
    return rv;
}

/* The node certificate itself, once every input has been checked. */
static X509 *ca_x509_build_node(X509 *root, EVP_PKEY *root_key, EVP_PKEY *pub,
                                const char *cluster_id, const char *node_id,
                                const char *ou, int64_t expiry_sec)
{
    const char *sans[3];
    size_t n_sans = 0;
    X509_NAME *subject;
    X509V3_CTX ctx;
    X509 *x;
    int64_t not_before;

    int64_t backdate = CA_X509__NODE_BACKDATE;

    x = X509_new();
    if (x == NULL)
        return NULL;
    subject = X509_get_subject_name(x);
    not_before = ca_x509_now_minute() - backdate;
#ifdef SHOAL_TESTING
    /* Test builds only: a certificate shorter than the real minimum
     * (SHOAL_TEST_CERT_EXPIRY_MIN) starts now, so that its renewal point
     * (50-80% of its life) comes within seconds. */
    if (expiry_sec < CA_NODE_CERT_EXPIRY_MIN) {
        backdate = 0;
        not_before = (int64_t)time(NULL);
    }
#endif
    if (X509_set_version(x, X509_VERSION_3) != 1 || ca_x509_set_serial(x) ||
        ca_x509_name_add(subject, NID_organizationName, cluster_id) ||
        ca_x509_name_add(subject, NID_organizationalUnitName, ou) ||
        ca_x509_name_add(subject, NID_commonName, node_id) ||
        X509_set_issuer_name(x, X509_get_subject_name(root)) != 1 ||
        ca_x509_set_validity(x, not_before,
                             not_before + expiry_sec + backdate) ||
        X509_set_pubkey(x, pub) != 1)
        goto err_after_cert;

    sans[n_sans++] = ou;
    sans[n_sans++] = node_id;
    if (strcmp(ou, CA_ROLE_MANAGER) == 0)
        sans[n_sans++] = CA_ROOT_CN;
    X509V3_set_ctx(&ctx, root, x, NULL, NULL, 0);
    if (ca_x509_add_ext(x, &ctx, NID_key_usage,
                        "critical,digitalSignature,keyEncipherment") ||
        ca_x509_add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") ||
        ca_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        ca_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        ca_x509_add_akid(x, root) || ca_x509_add_san(x, sans, n_sans))
        goto err_after_cert;
    if (X509_sign(x, root_key, EVP_sha256()) <= 0)
        goto err_after_cert;
    return x;

err_after_cert:
    X509_free(x);
    return NULL;
}

int ca_issue(const char *root_cert_pem, const char *root_key_pem,
             const char *csr_pem, const char *cluster_id, const char *node_id,
             const char *ou, int64_t expiry_sec, char **out_cert_pem,
             struct err *err)
{
    X509 *root;
    EVP_PKEY *root_key;
    BIO *bio;
    X509_REQ *req;
    EVP_PKEY *pub;
    X509 *x;
    BIO *out;
    char *pem;
    int rv;

    /* Docker: "minimum certificate expiry time is: 1h0m0s"
     * (swarmkit ca.MinNodeCertExpiration). */
    if (expiry_sec < ca_node_cert_expiry_min())
        return err_set(err, ERR_INVALID,
                       "minimum certificate expiry time is: 1h0m0s");
    if (expiry_sec > CA_NODE_CERT_EXPIRY_MAX)
        return err_set(err, ERR_INVALID,
                       "certificate expiry time is out of range");
    if (ou == NULL ||
        (strcmp(ou, CA_ROLE_MANAGER) != 0 && strcmp(ou, CA_ROLE_WORKER) != 0))
        return err_set(err, ERR_INVALID, "invalid certificate role \"%s\"",
                       ou != NULL ? ou : "");
    if (!ca_x509_id_is_valid(cluster_id) || !ca_x509_id_is_valid(node_id))
        return err_set(err, ERR_INVALID,
                       "invalid cluster or node ID for a certificate");

    root = ca_x509_load_cert(root_cert_pem);
    if (root == NULL)
        return err_set(err, ERR_INVALID, "invalid root CA certificate");
    root_key = ca_x509_load_key(root_key_pem);
    if (root_key == NULL) {
        rv = err_set(err, ERR_INVALID, "invalid root CA key");
        goto err_after_root;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(root), root_key) != 1) {
        rv = err_set(err, ERR_INVALID,
                     "root CA key does not match the root CA certificate");
        goto err_after_root_key;
    }

    bio = ca_x509_bio_in(csr_pem);
    req = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, ca_x509_no_pass, NULL)
                      : NULL;
    BIO_free(bio);
    pub = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
    if (pub == NULL || X509_REQ_verify(req, pub) != 1) {
        rv = err_set(err, ERR_INVALID, "invalid certificate signing request");
        goto err_after_req;
    }
    if (!ca_x509_key_is_allowed(pub)) {
        rv = err_set(err, ERR_INVALID,
                     "unsupported key type in certificate signing request");
        goto err_after_req;
    }

    x = ca_x509_build_node(root, root_key, pub, cluster_id, node_id, ou,
                           expiry_sec);
    if (x == NULL) {
        rv = ca_x509_fail(err, ERR_INTERNAL, "sign node certificate");
        goto err_after_req;
    }
    out = BIO_new(BIO_s_mem());
    pem = NULL;
    if (out != NULL && PEM_write_bio_X509(out, x) == 1)
        pem = ca_x509_bio_take(out);
    BIO_free(out);
    X509_free(x);
    if (pem == NULL) {
        rv = ca_x509_fail(err, ERR_INTERNAL, "encode node certificate");
        goto err_after_req;
    }
    *out_cert_pem = pem;
    rv = 0;

err_after_req:
    X509_REQ_free(req);
err_after_root_key:
    EVP_PKEY_free(root_key);
err_after_root:
    X509_free(root);
    ERR_clear_error();
    return rv;
}

/* Copy the first nid attribute of name as UTF-8, cut to fit at a character
 * boundary; "" if absent or unreadable. */
static void ca_x509_name_get(const X509_NAME *name, int nid, char *out,
                             size_t cap)
{
    const X509_NAME_ENTRY *entry;
    unsigned char *utf8 = NULL;
    size_t len;
    int idx;
    int n;

    out[0] = '\0';
    idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0)
        return;
    entry = X509_NAME_get_entry(name, idx);
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (n < 0) {
        ERR_clear_error();
        return;
    }
    len = strnlen((const char *)utf8, (size_t)n);
    if (len > cap - 1) {
        len = cap - 1;
        /* Back off continuation bytes so no character is split. */
        while (len > 0 && (utf8[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(out, utf8, len);
    out[len] = '\0';
    OPENSSL_free(utf8);
}

static int ca_x509_time_get(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int ca_cert_info(const char *cert_pem, struct ca_cert_info *out,
                 struct err *err)
{
    X509 *x;
    int rv = 0;

    x = ca_x509_load_cert(cert_pem);
    if (x == NULL)
        return err_set(err, ERR_INVALID, "invalid PEM certificate");
    ca_x509_name_get(X509_get_subject_name(x), NID_commonName, out->cn,
                     sizeof(out->cn));
    ca_x509_name_get(X509_get_subject_name(x), NID_organizationName, out->o,
                     sizeof(out->o));
    ca_x509_name_get(X509_get_subject_name(x), NID_organizationalUnitName,
                     out->ou, sizeof(out->ou));
    ca_x509_name_get(X509_get_issuer_name(x), NID_commonName, out->issuer_cn,
                     sizeof(out->issuer_cn));
    if (ca_x509_time_get(X509_get0_notBefore(x), &out->not_before) ||
        ca_x509_time_get(X509_get0_notAfter(x), &out->not_after))
        rv = err_set(err, ERR_INVALID, "invalid certificate validity");
    X509_free(x);
    ERR_clear_error();
    return rv;
}

/* Standard padded base64 of n bytes, malloc'd. */
static char *ca_x509_b64(const unsigned char *data, int n)
{
    char *out = xmalloc(4 * (((size_t)n + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, data, n);
    return out;
}

int ca_tls_info(const char *cert_pem, char **out_subject_b64,
                char **out_pubkey_b64, struct err *err)
{
    X509 *x;
    unsigned char *subject = NULL;
    unsigned char *spki = NULL;
    int subject_len;
    int spki_len;
    int rv = 0;

    x = ca_x509_load_cert(cert_pem);
    if (x == NULL)
        return err_set(err, ERR_INVALID, "invalid PEM certificate");
    subject_len = i2d_X509_NAME(X509_get_subject_name(x), &subject);
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (subject_len <= 0 || spki_len <= 0) {
        rv = ca_x509_fail(err, ERR_INTERNAL, "encode certificate subject");
    } else {
        *out_subject_b64 = ca_x509_b64(subject, subject_len);
        *out_pubkey_b64 = ca_x509_b64(spki, spki_len);
    }
    OPENSSL_free(subject);
    OPENSSL_free(spki);
    X509_free(x);
    return rv;
}

/* Go's wording for the failures a user is likely to meet. */
static int ca_x509_verify_fail(struct err *err, int code)
{
    switch (code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return err_set(err, ERR_UNAUTHORIZED,
                       "x509: certificate signed by unknown authority");
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return err_set(err, ERR_UNAUTHORIZED,
                       "x509: certificate has expired or is not yet valid");
    default:
        return err_set(err, ERR_UNAUTHORIZED, "x509: %s",
                       X509_verify_cert_error_string(code));
    }
}

int ca_verify(const char *root_pem, const char *leaf_pem, struct err *err)
{
    STACK_OF(X509) *roots;
    STACK_OF(X509) *chain;
    X509_STORE *store;
    X509_STORE_CTX *ctx;
    int rv = -ERR_INTERNAL;
    int i;

    roots = ca_x509_load_all(root_pem);
    if (roots == NULL)
        return err_set(err, ERR_INVALID, "invalid root CA certificate");
    chain = ca_x509_load_all(leaf_pem);
    if (chain == NULL) {
        rv = err_set(err, ERR_INVALID, "invalid PEM certificate");
        goto err_after_roots;
    }
    store = X509_STORE_new();
    if (store == NULL)
        goto err_after_chain;
    for (i = 0; i < sk_X509_num(roots); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(roots, i)) != 1)
            goto err_after_store;
    }
    ctx = X509_STORE_CTX_new();
    if (ctx == NULL)
        goto err_after_store;
    /* The leaf is also in the untrusted list; OpenSSL skips it there. */
    if (X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), chain) != 1)
        goto err_after_ctx;
    if (X509_verify_cert(ctx) == 1)
        rv = 0;
    else
        rv = ca_x509_verify_fail(err, X509_STORE_CTX_get_error(ctx));

err_after_ctx:
    X509_STORE_CTX_free(ctx);
err_after_store:
    X509_STORE_free(store);
err_after_chain:
    sk_X509_pop_free(chain, X509_free);
err_after_roots:
    sk_X509_pop_free(roots, X509_free);
    if (rv == -ERR_INTERNAL)
        return ca_x509_fail(err, ERR_INTERNAL, "verify certificate");
    ERR_clear_error();
    return rv;
}

bool ca_key_matches(const char *cert_pem, const char *key_pem)
{
    X509 *x;
    EVP_PKEY *key;
    bool match = false;

    x = ca_x509_load_cert(cert_pem);
    if (x == NULL)
        return false;
    key = ca_x509_load_key(key_pem);
    if (key != NULL) {
        match = EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1;
        EVP_PKEY_free(key);
    }
    X509_free(x);
    ERR_clear_error();
    return match;
}

void ca_digest_hex(const void *data, size_t len,
                   char out[CA_DIGEST_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned int i;

    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len * 2 != CA_DIGEST_HEX_LEN) {
        fprintf(stderr, "shoal: SHA-256 failed\n");
        abort();
    }
    for (i = 0; i < md_len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[CA_DIGEST_HEX_LEN] = '\0';
}

int64_t ca_node_cert_expiry_min(void)
{
#ifdef SHOAL_TESTING
    const char *v = getenv("SHOAL_TEST_CERT_EXPIRY_MIN");
    char *end;
    long long n;

    if (v != NULL && v[0] != '\0') {
        n = strtoll(v, &end, 10);
        if (*end == '\0' && n > 0 && n < CA_NODE_CERT_EXPIRY_MIN)
            return (int64_t)n;
    }
#endif
    return CA_NODE_CERT_EXPIRY_MIN;
}

int ca_cross_sign(const char *old_cert_pem, const char *old_key_pem,
                  const char *new_cert_pem, char **out_cert_pem,
                  struct err *err)
{
    X509 *old_root;
    EVP_PKEY *old_key;
    X509 *new_root;
    X509 *x = NULL;
    X509V3_CTX ctx;
    BIO *out;
    char *pem = NULL;
    int rv = -ERR_INVALID;

    old_root = ca_x509_load_cert(old_cert_pem);
    old_key = ca_x509_load_key(old_key_pem);
    new_root = ca_x509_load_cert(new_cert_pem);
    if (old_root == NULL || old_key == NULL || new_root == NULL) {
        err_set(err, ERR_INVALID, "invalid root CA certificate or key");
        goto out;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(old_root), old_key) != 1) {
        err_set(err, ERR_INVALID,
                "root CA key does not match the root CA certificate");
        goto out;
    }
    rv = -ERR_INTERNAL;
    x = X509_new();
    /* The new root as the old one vouches for it: same subject, key and
     * validity, issued (and signed) by the old root. */
    if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
        ca_x509_set_serial(x) ||
        X509_set_subject_name(x, X509_get_subject_name(new_root)) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(old_root)) != 1 ||
        X509_set1_notBefore(x, X509_get0_notBefore(new_root)) != 1 ||
        X509_set1_notAfter(x, X509_get0_notAfter(new_root)) != 1 ||
        X509_set_pubkey(x, X509_get0_pubkey(new_root)) != 1)
        goto out;
    X509V3_set_ctx(&ctx, old_root, x, NULL, NULL, 0);
    if (ca_x509_add_ext(x, &ctx, NID_key_usage,
                        "critical,keyCertSign,cRLSign") ||
        ca_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
        ca_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        ca_x509_add_akid(x, old_root))
        goto out;
    if (X509_sign(x, old_key, EVP_sha256()) <= 0)
        goto out;
    out = BIO_new(BIO_s_mem());
    if (out != NULL && PEM_write_bio_X509(out, x) == 1)
        pem = ca_x509_bio_take(out);
    BIO_free(out);
    if (pem == NULL)
        goto out;
    *out_cert_pem = pem;
    rv = 0;

out:
    if (rv == -ERR_INTERNAL)
        ca_x509_fail(err, ERR_INTERNAL, "cross-sign the new root CA");
    X509_free(x);
    X509_free(new_root);
    EVP_PKEY_free(old_key);
    X509_free(old_root);
    ERR_clear_error();
    return rv;
}

int ca_issuer_info(const char *root_pem, const char *cert_pem,
                   char **out_subject_b64, char **out_pubkey_b64,
                   struct err *err)
{
    STACK_OF(X509) *roots;
    STACK_OF(X509) *chain;
    STACK_OF(X509) *verified;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509 *issuer;
    unsigned char *subject = NULL;
    unsigned char *spki = NULL;
    int subject_len;
    int spki_len;
    int rv = -ERR_INTERNAL;
    int i;

    roots = ca_x509_load_all(root_pem);
    chain = ca_x509_load_all(cert_pem);
    if (roots == NULL || chain == NULL) {
        rv = err_set(err, ERR_INVALID, "invalid PEM certificate");
        goto out;
    }
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    if (store == NULL || ctx == NULL)
        goto out;
    for (i = 0; i < sk_X509_num(roots); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(roots, i)) != 1)
            goto out;
    }
    if (X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), chain) != 1)
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        rv = ca_x509_verify_fail(err, X509_STORE_CTX_get_error(ctx));
        goto out;
    }
    /* swarmkit: the issuer is the second certificate of the verified
     * chain (the cross-signed intermediate during a rotation). */
    verified = X509_STORE_CTX_get0_chain(ctx);
    issuer = sk_X509_value(verified, sk_X509_num(verified) > 1 ? 1 : 0);
    subject_len = i2d_X509_NAME(X509_get_subject_name(issuer), &subject);
    spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &spki);
    if (subject_len <= 0 || spki_len <= 0)
        goto out;
    *out_subject_b64 = ca_x509_b64(subject, subject_len);
    *out_pubkey_b64 = ca_x509_b64(spki, spki_len);
    rv = 0;

out:
    if (rv == -ERR_INTERNAL)
        ca_x509_fail(err, ERR_INTERNAL, "certificate issuer");
    OPENSSL_free(subject);
    OPENSSL_free(spki);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    if (chain != NULL)
        sk_X509_pop_free(chain, X509_free);
    if (roots != NULL)
        sk_X509_pop_free(roots, X509_free);
    ERR_clear_error();
    return rv;
}
