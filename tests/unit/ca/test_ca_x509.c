/* SPDX-License-Identifier: Apache-2.0 */
/* Root CA, node keys and certificates, checked with OpenSSL directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "base/err.h"
#include "base/mem.h"
#include "manager/ca/ca.h"

#define TEST_CLUSTER "4ltokzd0bosdg1ox6uly7ib8s"
#define TEST_NODE "dw02poa4vqvzxi5c10gm4pq2g"
#define TEST_EXPIRY (90 * 24 * 3600)

/* One root and one node key shared by the tests (key generation is the slow
 * part under ASan). */
struct fixture
{
    char *root_cert; /* owned */
    char *root_key;  /* owned */
    char *node_key;  /* owned */
    char *node_csr;  /* owned */
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct err err;

    if (ca_root_create(&f->root_cert, &f->root_key, &err) != 0 ||
        ca_node_key_create(&f->node_key, &f->node_csr, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    free(f->root_cert);
    free(f->root_key);
    free(f->node_key);
    free(f->node_csr);
    free(f);
    return 0;
}

static X509 *test_x509(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x;

    assert_non_null(bio);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(x);
    return x;
}

static void test_name_line(const X509_NAME *name, char *out, size_t cap)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;

    assert_non_null(bio);
    assert_true(X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE) >= 0);
    len = BIO_get_mem_data(bio, &data);
    assert_true(len >= 0 && (size_t)len < cap);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(bio);
}

static int64_t test_now(void)
{
    return (int64_t)time(NULL);
}

static char *test_issue(const struct fixture *f, const char *ou)
{
    char *cert = NULL;
    struct err err;

    err_clear(&err);
    if (ca_issue(f->root_cert, f->root_key, f->node_csr, TEST_CLUSTER,
                 TEST_NODE, ou, TEST_EXPIRY, &cert, &err) != 0)
        fail_msg("ca_issue: %s", err.msg);
    return cert;
}

/* The DNS SANs of x joined with ',' */
static void test_sans(X509 *x, char *out, size_t cap)
{
    GENERAL_NAMES *gens;
    size_t used;
    int i;

    out[0] = '\0';
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    assert_non_null(gens);
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
        const ASN1_IA5STRING *dns;

        assert_int_equal(gen->type, GEN_DNS);
        dns = gen->d.dNSName;
        used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used > 0 ? "," : "",
                 (const char *)ASN1_STRING_get0_data(dns));
    }
    GENERAL_NAMES_free(gens);
}

static bool test_ext_critical(X509 *x, int nid)
{
    int idx = X509_get_ext_by_NID(x, nid, -1);

    assert_true(idx >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(x, idx)) == 1;
}

/* X509_verify_cert of leaf against root, done here without the module. */
static int test_openssl_verify(const char *root_pem, const char *leaf_pem)
{
    X509 *root = test_x509(root_pem);
    X509 *leaf = test_x509(leaf_pem);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rv;

    assert_int_equal(X509_STORE_add_cert(store, root), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
    rv = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(leaf);
    X509_free(root);
    return rv;
}

static void test_root_shape(void **state)
{
    struct fixture *f = *state;
    struct ca_cert_info info;
    struct err err;
    X509 *x = test_x509(f->root_cert);
    const X509_NAME *subject = X509_get_subject_name(x);
    const X509_NAME_ENTRY *cn;
    BIGNUM *serial;
    char line[256];
    int64_t now = test_now();

    /* Subject is exactly CN=swarm-ca, as a PrintableString like Go's. */
    assert_int_equal(X509_NAME_entry_count(subject), 1);
    test_name_line(subject, line, sizeof(line));
    assert_string_equal(line, "CN = swarm-ca");
    cn = X509_NAME_get_entry(subject, 0);
    assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(cn)),
                     V_ASN1_PRINTABLESTRING);
    assert_int_equal(X509_NAME_cmp(subject, X509_get_issuer_name(x)), 0);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);

    /* Extensions: CA:TRUE critical, certSign+cRLSign critical, SKI. */
    assert_int_equal(X509_check_ca(x), 1);
    assert_true(test_ext_critical(x, NID_basic_constraints));
    assert_true(test_ext_critical(x, NID_key_usage));
    assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_true(X509_get_ext_by_NID(x, NID_authority_key_identifier, -1) < 0);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);

    /* ECDSA P-256 */
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
    assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);

    /* Serial: positive, at most 20 bytes. */
    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_non_null(serial);
    assert_false(BN_is_negative(serial));
    assert_false(BN_is_zero(serial));
    assert_true(BN_num_bytes(serial) <= 20);
    BN_free(serial);

    /* Validity: 20 years, from the minute 5 min ago. */
    assert_int_equal(ca_cert_info(f->root_cert, &info, &err), 0);
    assert_string_equal(info.cn, "swarm-ca");
    assert_string_equal(info.o, "");
    assert_string_equal(info.ou, "");
    assert_string_equal(info.issuer_cn, "swarm-ca");
    assert_int_equal(info.not_after - info.not_before, 630720000);
    assert_int_equal(info.not_before % 60, 0);
    assert_true(info.not_before <= now - 300);
    assert_true(info.not_before >= now - 300 - 60 - 5);

    /* SEC1 key, like cfssl's, and it belongs to the certificate. */
    assert_non_null(strstr(f->root_key, "-----BEGIN EC PRIVATE KEY-----"));
    assert_true(ca_key_matches(f->root_cert, f->root_key));
    assert_int_equal(ca_root_check(f->root_cert, &err), 0);
    X509_free(x);
}

static void test_node_key_and_csr(void **state)
{
    struct fixture *f = *state;
    BIO *bio;
    X509_REQ *req;
    EVP_PKEY *pub;

    assert_true(strncmp(f->node_key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
    assert_true(
        strncmp(f->node_csr, "-----BEGIN CERTIFICATE REQUEST-----\n", 36) == 0);
    bio = BIO_new_mem_buf(f->node_csr, -1);
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(req);
    pub = X509_REQ_get0_pubkey(req);
    assert_int_equal(X509_REQ_verify(req, pub), 1);
    assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    assert_int_equal(EVP_PKEY_get_bits(pub), 256);
    X509_REQ_free(req);
}

static void test_issue_manager(void **state)
{
    struct fixture *f = *state;
    struct ca_cert_info info;
    struct err err;
    char *cert = test_issue(f, "swarm-manager");
    X509 *x = test_x509(cert);
    X509 *root = test_x509(f->root_cert);
    char line[256];
    int64_t now = test_now();

    test_name_line(X509_get_subject_name(x), line, sizeof(line));
    assert_string_equal(line, "O = " TEST_CLUSTER
                              ", OU = swarm-manager, CN = " TEST_NODE);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
                                   X509_get_subject_name(root)),
                     0);
    test_sans(x, line, sizeof(line));
    assert_string_equal(line, "swarm-manager," TEST_NODE ",swarm-ca");

    assert_int_equal(X509_check_ca(x), 0);
    assert_true(test_ext_critical(x, NID_basic_constraints));
    assert_true(test_ext_critical(x, NID_key_usage));
    assert_int_equal(X509_get_key_usage(x),
                     KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(X509_get_extended_key_usage(x),
                     XKU_SSL_SERVER | XKU_SSL_CLIENT);
    assert_non_null(X509_get0_subject_key_id(x));
    assert_non_null(X509_get0_authority_key_id(x));
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
                                           X509_get0_subject_key_id(root)),
                     0);
    assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

    assert_int_equal(ca_cert_info(cert, &info, &err), 0);
    assert_string_equal(info.o, TEST_CLUSTER);
    assert_string_equal(info.ou, "swarm-manager");
    assert_string_equal(info.cn, TEST_NODE);
    assert_string_equal(info.issuer_cn, "swarm-ca");
    assert_int_equal(info.not_after - info.not_before, TEST_EXPIRY + 3600);
    assert_int_equal(info.not_before % 60, 0);
    assert_true(info.not_before <= now - 3600);
    assert_true(info.not_before >= now - 3600 - 60 - 5);

    /* It chains to the root, by the module and by OpenSSL directly. */
    assert_int_equal(ca_verify(f->root_cert, cert, &err), 0);
    assert_int_equal(test_openssl_verify(f->root_cert, cert), 1);
    assert_true(ca_key_matches(cert, f->node_key));
    assert_false(ca_key_matches(cert, f->root_key));

    X509_free(root);
    X509_free(x);
    free(cert);
}

static void test_issue_worker(void **state)
{
    struct fixture *f = *state;
    struct err err;
    char *cert = test_issue(f, "swarm-worker");
    X509 *x = test_x509(cert);
    char line[256];

    test_name_line(X509_get_subject_name(x), line, sizeof(line));
    assert_string_equal(line, "O = " TEST_CLUSTER
                              ", OU = swarm-worker, CN = " TEST_NODE);
    test_sans(x, line, sizeof(line));
    assert_string_equal(line, "swarm-worker," TEST_NODE);
    assert_int_equal(ca_verify(f->root_cert, cert, &err), 0);
    X509_free(x);
    free(cert);
}

static void test_verify_other_root(void **state)
{
    struct fixture *f = *state;
    char *other_cert = NULL;
    char *other_key = NULL;
    char *cert = test_issue(f, "swarm-worker");
    char *bundle;
    char *chain;
    struct err err;

    assert_int_equal(ca_root_create(&other_cert, &other_key, &err), 0);
    err_clear(&err);
    assert_int_equal(ca_verify(other_cert, cert, &err), -ERR_UNAUTHORIZED);
    assert_string_equal(err.msg,
                        "x509: certificate signed by unknown authority");
    assert_int_not_equal(test_openssl_verify(other_cert, cert), 1);
    /* A root is not signed by another root either. */
    assert_int_equal(ca_verify(other_cert, f->root_cert, &err),
                     -ERR_UNAUTHORIZED);

    /* A bundle of roots (as during a rotation) trusts either one. */
    bundle = xasprintf("%s%s", other_cert, f->root_cert);
    assert_int_equal(ca_verify(bundle, cert, &err), 0);
    assert_int_equal(ca_root_check(bundle, &err), 0);
    /* A leaf followed by more certificates still verifies. */
    chain = xasprintf("%s%s", cert, f->root_cert);
    assert_int_equal(ca_verify(f->root_cert, chain, &err), 0);
    assert_int_equal(ca_verify(other_cert, chain, &err), -ERR_UNAUTHORIZED);

    /* The other root's key cannot sign for this root. */
    free(cert);
    cert = NULL;
    err_clear(&err);
    assert_int_equal(ca_issue(f->root_cert, other_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker",
                              TEST_EXPIRY, &cert, &err),
                     -ERR_INVALID);
    assert_null(cert);
    assert_false(ca_key_matches(f->root_cert, other_key));

    free(chain);
    free(bundle);
    free(other_cert);
    free(other_key);
}

static void test_issue_expiry(void **state)
{
    struct fixture *f = *state;
    struct ca_cert_info info;
    char *cert = NULL;
    struct err err;

    err_clear(&err);
    assert_int_equal(ca_issue(f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker", 3599,
                              &cert, &err),
                     -ERR_INVALID);
    assert_int_equal(err.code, ERR_INVALID);
    assert_string_equal(err.msg, "minimum certificate expiry time is: 1h0m0s");
    assert_null(cert);
    assert_int_equal(ca_issue(f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker", -5,
                              &cert, &err),
                     -ERR_INVALID);
    assert_int_equal(ca_issue(f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker",
                              INT64_MAX, &cert, &err),
                     -ERR_INVALID);
    assert_null(cert);

    assert_int_equal(ca_issue(f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker", 3600,
                              &cert, &err),
                     0);
    assert_int_equal(ca_cert_info(cert, &info, &err), 0);
    assert_int_equal(info.not_after - info.not_before, 3600 + 3600);
    free(cert);
}

static void test_expect_issue_invalid(const struct fixture *f,
                                      const char *root_cert,
                                      const char *root_key, const char *csr,
                                      const char *cluster, const char *node,
                                      const char *ou)
{
    char *cert = NULL;
    struct err err;

    (void)f;
    err_clear(&err);
    assert_int_equal(ca_issue(root_cert, root_key, csr, cluster, node, ou,
                              TEST_EXPIRY, &cert, &err),
                     -ERR_INVALID);
    assert_int_equal(err.code, ERR_INVALID);
    assert_true(err.msg[0] != '\0');
    assert_null(cert);
}

/* The CSR with one byte of its DER signature changed. */
static char *test_tampered_csr(const char *csr_pem)
{
    BIO *bio = BIO_new_mem_buf(csr_pem, -1);
    X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    unsigned char *der = NULL;
    int len;
    char *out;
    char *data;
    long n;

    BIO_free(bio);
    assert_non_null(req);
    len = i2d_X509_REQ(req, &der);
    X509_REQ_free(req);
    assert_true(len > 10);
    der[len - 3] ^= 0x01; /* inside the ECDSA signature */
    bio = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio(bio, "CERTIFICATE REQUEST", "", der, (long)len) >
                0);
    OPENSSL_free(der);
    n = BIO_get_mem_data(bio, &data);
    out = xstrndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

static void test_issue_rejects_bad_input(void **state)
{
    struct fixture *f = *state;
    const char *garbage_pem = "-----BEGIN CERTIFICATE REQUEST-----\n"
                              "bm90IGEgY3NyIGF0IGFsbA==\n"
                              "-----END CERTIFICATE REQUEST-----\n";
    char *tampered = test_tampered_csr(f->node_csr);
    char *truncated = xstrndup(f->node_csr, strlen(f->node_csr) / 2);

    /* CSRs */
    test_expect_issue_invalid(f, f->root_cert, f->root_key, "garbage",
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, "", TEST_CLUSTER,
                              TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, NULL,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, garbage_pem,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, truncated,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, tampered,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, f->root_cert,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");

    /* root certificate and key */
    test_expect_issue_invalid(f, "garbage", f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, NULL, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, "garbage", f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, NULL, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->node_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-worker");

    /* role and IDs */
    test_expect_issue_invalid(f, f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, "swarm-admin");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, TEST_NODE, NULL);
    test_expect_issue_invalid(f, f->root_cert, f->root_key, f->node_csr, "",
                              TEST_NODE, "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, "a,DNS:evil", "swarm-worker");
    test_expect_issue_invalid(f, f->root_cert, f->root_key, f->node_csr,
                              TEST_CLUSTER, NULL, "swarm-worker");

    free(truncated);
    free(tampered);
}

static void test_garbage_pem(void **state)
{
    struct fixture *f = *state;
    const char *inputs[] = {
        "", "garbage", "-----BEGIN CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    };
    struct ca_cert_info info;
    char *subject = NULL;
    char *pubkey = NULL;
    struct err err;
    size_t i;

    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        err_clear(&err);
        assert_int_equal(ca_cert_info(inputs[i], &info, &err), -ERR_INVALID);
        assert_int_equal(err.code, ERR_INVALID);
        assert_int_equal(ca_tls_info(inputs[i], &subject, &pubkey, &err),
                         -ERR_INVALID);
        assert_null(subject);
        assert_null(pubkey);
        assert_int_equal(ca_verify(inputs[i], f->root_cert, &err),
                         -ERR_INVALID);
        assert_int_equal(ca_verify(f->root_cert, inputs[i], &err),
                         -ERR_INVALID);
        assert_int_equal(ca_root_check(inputs[i], &err), -ERR_INVALID);
        assert_false(ca_key_matches(inputs[i], f->root_key));
        assert_false(ca_key_matches(f->root_cert, inputs[i]));
    }
    assert_int_equal(ca_cert_info(NULL, &info, &err), -ERR_INVALID);
    assert_false(ca_key_matches(NULL, NULL));

    /* A good certificate followed by a corrupt one is not a valid bundle. */
    subject = xasprintf("%s%s", f->root_cert, inputs[3]);
    assert_int_equal(ca_root_check(subject, &err), -ERR_INVALID);
    free(subject);
}

static void test_root_check_rejects_leaf(void **state)
{
    struct fixture *f = *state;
    char *cert = test_issue(f, "swarm-manager");
    char *bundle = xasprintf("%s%s", f->root_cert, cert);
    struct err err;

    err_clear(&err);
    assert_int_equal(ca_root_check(cert, &err), -ERR_INVALID);
    assert_string_equal(err.msg,
                        "invalid root CA bundle: certificate is not a CA");
    assert_int_equal(ca_root_check(bundle, &err), -ERR_INVALID);
    free(bundle);
    free(cert);
}

static void test_tls_info(void **state)
{
    struct fixture *f = *state;
    X509 *x = test_x509(f->root_cert);
    unsigned char *want = NULL;
    unsigned char got[1024];
    char *subject = NULL;
    char *pubkey = NULL;
    struct err err;
    int want_len;
    int got_len;
    int pad;

    assert_int_equal(ca_tls_info(f->root_cert, &subject, &pubkey, &err), 0);

    want_len = i2d_X509_NAME(X509_get_subject_name(x), &want);
    assert_true(want_len > 0);
    assert_true(strlen(subject) % 4 == 0);
    got_len = EVP_DecodeBlock(got, (const unsigned char *)subject,
                              (int)strlen(subject));
    pad = (int)(strlen(subject) > 0 && subject[strlen(subject) - 1] == '=') +
          (int)(strlen(subject) > 1 && subject[strlen(subject) - 2] == '=');
    assert_int_equal(got_len - pad, want_len);
    assert_memory_equal(got, want, (size_t)want_len);
    OPENSSL_free(want);
    want = NULL;

    want_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &want);
    assert_true(want_len > 0);
    got_len = EVP_DecodeBlock(got, (const unsigned char *)pubkey,
                              (int)strlen(pubkey));
    pad = (int)(pubkey[strlen(pubkey) - 1] == '=') +
          (int)(pubkey[strlen(pubkey) - 2] == '=');
    assert_int_equal(got_len - pad, want_len);
    assert_memory_equal(got, want, (size_t)want_len);
    OPENSSL_free(want);

    /* "CN=swarm-ca" as Go marshals it, PrintableString: */
    assert_string_equal(subject, "MBMxETAPBgNVBAMTCHN3YXJtLWNh");

    free(subject);
    free(pubkey);
    X509_free(x);
}

static void test_key_matches(void **state)
{
    struct fixture *f = *state;
    char *key2 = NULL;
    char *csr2 = NULL;
    char *cert;
    struct err err;

    assert_int_equal(ca_node_key_create(&key2, &csr2, &err), 0);
    cert = test_issue(f, "swarm-worker");
    assert_true(ca_key_matches(cert, f->node_key));
    assert_false(ca_key_matches(cert, key2));
    assert_false(ca_key_matches(f->root_cert, f->node_key));
    assert_true(ca_key_matches(f->root_cert, f->root_key));
    free(cert);
    free(key2);
    free(csr2);
}

/* Root rotation: a leaf of the new root, with the new root cross-signed
 * by the old one appended, verifies against either root alone; its
 * issuer (TLSInfo) is the new root's key either way. */
static void test_cross_sign(void **state)
{
    struct fixture *f = *state;
    char *new_cert = NULL;
    char *new_key = NULL;
    char *cross = NULL;
    char *leaf = NULL;
    char *chain;
    char *subj = NULL;
    char *pub = NULL;
    char *want_subj = NULL;
    char *want_pub = NULL;
    size_t n;
    struct err err;

    err_clear(&err);
    assert_int_equal(ca_root_create(&new_cert, &new_key, &err), 0);
    assert_int_equal(ca_cross_sign(f->root_cert, f->root_key, new_cert,
                                   &cross, &err),
                     0);
    /* A key that is not the old root's is refused. */
    assert_int_equal(ca_cross_sign(f->root_cert, new_key, new_cert, &leaf,
                                   &err),
                     -ERR_INVALID);
    assert_null(leaf);
    assert_int_equal(ca_issue(new_cert, new_key, f->node_csr, TEST_CLUSTER,
                              TEST_NODE, "swarm-worker", TEST_EXPIRY, &leaf,
                              &err),
                     0);
    n = strlen(leaf) + strlen(cross) + 1;
    chain = xmalloc(n);
    snprintf(chain, n, "%s%s", leaf, cross);
    assert_int_equal(ca_verify(f->root_cert, chain, &err), 0);
    assert_int_equal(ca_verify(new_cert, chain, &err), 0);
    assert_int_equal(ca_verify(new_cert, leaf, &err), 0);
    /* Without the intermediate the old root does not know the leaf. */
    assert_int_equal(ca_verify(f->root_cert, leaf, &err), -ERR_UNAUTHORIZED);

    assert_int_equal(ca_tls_info(new_cert, &want_subj, &want_pub, &err), 0);
    assert_int_equal(ca_issuer_info(f->root_cert, chain, &subj, &pub, &err),
                     0);
    assert_string_equal(pub, want_pub);
    assert_string_equal(subj, want_subj);
    free(subj);
    free(pub);
    assert_int_equal(ca_issuer_info(new_cert, chain, &subj, &pub, &err), 0);
    assert_string_equal(pub, want_pub);
    free(subj);
    free(pub);
    subj = pub = NULL;
    assert_int_equal(ca_issuer_info(f->root_cert, leaf, &subj, &pub, &err),
                     -ERR_UNAUTHORIZED);
    assert_null(pub);

    free(want_subj);
    free(want_pub);
    free(chain);
    free(leaf);
    free(cross);
    free(new_cert);
    free(new_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_shape),
        cmocka_unit_test(test_node_key_and_csr),
        cmocka_unit_test(test_issue_manager),
        cmocka_unit_test(test_issue_worker),
        cmocka_unit_test(test_verify_other_root),
        cmocka_unit_test(test_issue_expiry),
        cmocka_unit_test(test_issue_rejects_bad_input),
        cmocka_unit_test(test_garbage_pem),
        cmocka_unit_test(test_root_check_rejects_leaf),
        cmocka_unit_test(test_tls_info),
        cmocka_unit_test(test_key_matches),
        cmocka_unit_test(test_cross_sign),
    };

    return cmocka_run_group_tests_name("ca/x509", tests, setup, teardown);
}
