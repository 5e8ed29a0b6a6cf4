/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The swarm PKI, shaped like swarmkit's: the root CA (ECDSA P-256,
 * CN=swarm-ca), node keys, CSRs and node certificates whose subject carries
 * the cluster ID, role and node ID, chain checks, the SWMTKN join tokens and
 * the SWMKEY unlock keys. Keys and certificates cross this API as PEM text.
 */
#ifndef SHOAL_MANAGER_CA_CA_H
#define SHOAL_MANAGER_CA_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define CA_TOKEN_LEN 85      /* SWMTKN-1-<50>-<25> */
#define CA_DIGEST_HEX_LEN 64 /* SHA-256 in hex */
#define CA_UNLOCK_KEY_LEN 52 /* "SWMKEY-1-" + 43 */
#define CA_UNLOCK_KEY_BYTES 32

#define CA_ROLE_MANAGER "swarm-manager" /* OU of a manager certificate */
#define CA_ROLE_WORKER "swarm-worker"   /* OU of a worker certificate */
#define CA_ROOT_CN "swarm-ca"           /* root CN; TLS name for CA calls */

/* swarmkit's limits on node certificate lifetimes, in seconds. */
#define CA_NODE_CERT_EXPIRY_DEFAULT (90 * 24 * 3600) /* 2160h */
#define CA_NODE_CERT_EXPIRY_MIN 3600                 /* 1h */
/* The longest lifetime a Go time.Duration can express (~292 years). */
#define CA_NODE_CERT_EXPIRY_MAX INT64_C(9223372036)

/*
 * A fresh root CA exactly like swarmkit's (cfssl initca): ECDSA P-256 key,
 * subject CN=swarm-ca only, NotBefore = now rounded down to the minute - 5
 * min, NotAfter = NotBefore + 20 years (630720000 s), KeyUsage critical
 * certSign+cRLSign, BasicConstraints critical CA:TRUE, SubjectKeyIdentifier,
 * ecdsa-with-SHA256, 20-byte random serial with the top bit cleared.
 * Returns 0, or -ERR_INTERNAL if OpenSSL fails.
 * On 0, *out_cert_pem and *out_key_pem are malloc'd NUL-terminated PEM
 * strings owned by the caller (the key as "EC PRIVATE KEY", like cfssl);
 * on error both are left untouched.
 */
int ca_root_create(char **out_cert_pem, char **out_key_pem, struct err *err);

/*
 * Check a root CA bundle the way a joining node checks the one it downloads
 * (and the way `swarm ca --ca-cert` input must look): at least one
 * certificate, each one a CA (BasicConstraints CA:TRUE), self-signed with a
 * valid signature, inside its validity period, signed with SHA-256/384/512
 * over RSA or ECDSA, with an RSA key of >= 2048 bits or an EC key on
 * P-256/P-384/P-521. Returns 0 or -ERR_INVALID with the reason.
 */
int ca_root_check(const char *root_pem, struct err *err);

/*
 * A node key (ECDSA P-256) and a CSR for it (empty subject, signed with
 * SHA-256; the CA imposes the subject). Returns 0 or -ERR_INTERNAL.
 * On 0, *out_key_pem (PKCS#8, "-----BEGIN PRIVATE KEY-----") and
 * *out_csr_pem ("CERTIFICATE REQUEST") are malloc'd and owned by the
 * caller; on error both are left untouched.
 */
int ca_node_key_create(char **out_key_pem, char **out_csr_pem,
                       struct err *err);

/* At the end of a thread-pool job that called ca_* functions: releases
 * the thread's OpenSSL state (OpenSSL's exit cleanup runs before libuv
 * joins its pool). */
void ca_thread_done(void);

/*
 * Sign a CSR with the root. root_cert_pem is the signing certificate (the
 * first one of the PEM is used) and root_key_pem its private key (any
 * unencrypted PEM form; an encrypted key is refused, never prompted for).
 * The subject is imposed: O=cluster_id, OU=ou, CN=node_id; only the public
 * key is taken from the CSR, after its signature is checked. The key must be
 * EC on P-256/P-384/P-521 or RSA >= 2048 bits.
 * SAN DNS: ou, node_id, plus "swarm-ca" for managers. KeyUsage critical
 * digitalSignature+keyEncipherment, ExtKeyUsage serverAuth+clientAuth,
 * BasicConstraints critical CA:FALSE, SubjectKeyIdentifier,
 * AuthorityKeyIdentifier (the root's SKI), SHA-256 signature, 20-byte random
 * serial. NotBefore = now (rounded down to the minute) - 1h;
 * NotAfter = NotBefore + expiry_sec + 1h.
 * Returns 0 or:
 *   -ERR_INVALID "minimum certificate expiry time is: 1h0m0s" if
 *     expiry_sec < CA_NODE_CERT_EXPIRY_MIN (or a range message above
 *     CA_NODE_CERT_EXPIRY_MAX);
 *   -ERR_INVALID for an ou other than CA_ROLE_MANAGER/CA_ROLE_WORKER, a
 *     cluster_id/node_id that is empty, over 64 bytes or not made of
 *     [A-Za-z0-9._-] (node IDs become DNS SANs), a CSR that does not parse,
 *     whose signature fails or whose key type is refused, a root
 *     certificate or key that does not parse, or a key that is not the
 *     certificate's;
 *   -ERR_INTERNAL if OpenSSL fails while building the certificate.
 * On 0, *out_cert_pem is malloc'd and owned by the caller (the leaf alone;
 * the caller appends intermediates if any); on error it is left untouched.
 */
int ca_issue(const char *root_cert_pem, const char *root_key_pem,
             const char *csr_pem, const char *cluster_id, const char *node_id,
             const char *ou, int64_t expiry_sec, char **out_cert_pem,
             struct err *err);

struct ca_cert_info
{
    char cn[128];        /* subject CN, UTF-8, "" if absent */
    char o[128];         /* subject O (first one), "" if absent */
    char ou[128];        /* subject OU (first one), "" if absent */
    char issuer_cn[128]; /* issuer CN, "" if absent */
    int64_t not_before;  /* unix seconds */
    int64_t not_after;   /* unix seconds */
};

/*
 * Parse the first certificate of a PEM string (a chain is fine). Names
 * longer than 127 bytes are cut at a UTF-8 character boundary.
 * Returns 0, or -ERR_INVALID if cert_pem is NULL or holds no certificate.
 * *out is fully written on 0 and unspecified on error.
 */
int ca_cert_info(const char *cert_pem, struct ca_cert_info *out,
                 struct err *err);

/*
 * Docker's TLSInfo for the issuer side of a cert: base64 (std, padded) of
 * the DER subject and of the DER SubjectPublicKeyInfo of cert_pem's first
 * certificate (for the swarm's TLSInfo pass the root cert).
 * Returns 0 or -ERR_INVALID if cert_pem holds no certificate.
 * On 0 both strings are malloc'd and owned by the caller; on error both are
 * left untouched.
 */
int ca_tls_info(const char *cert_pem, char **out_subject_b64,
                char **out_pubkey_b64, struct err *err);

/*
 * Verify that leaf_pem's first certificate chains to one of the
 * certificates in root_pem (a bundle is fine; further certificates in
 * leaf_pem serve as untrusted intermediates) and that every certificate on
 * the way is valid now. Returns 0, -ERR_INVALID if either PEM holds no
 * certificate, or -ERR_UNAUTHORIZED "x509: <reason>" if the chain does not
 * verify (unknown authority, expired, bad signature...).
 */
int ca_verify(const char *root_pem, const char *leaf_pem, struct err *err);

/*
 * The smallest node certificate lifetime ca_issue and the swarm spec
 * accept: CA_NODE_CERT_EXPIRY_MIN, except in test builds (SHOAL_TESTING)
 * where the environment variable SHOAL_TEST_CERT_EXPIRY_MIN (seconds) may
 * lower it; such short certificates are not backdated, so that they renew
 * within seconds.
 */
int64_t ca_node_cert_expiry_min(void);

/*
 * Root rotation (SWARM-FACTS 3.6): the new root's certificate as the old
 * root vouches for it (same subject, key and validity as new_cert_pem,
 * issuer the old root, signed with old_key_pem). Nodes that trust only the
 * old root verify leaves of the new key through it. Returns 0 with
 * *out_cert_pem malloc'd, -ERR_INVALID for input that does not parse or a
 * key that is not old_cert_pem's, -ERR_INTERNAL.
 */
int ca_cross_sign(const char *old_cert_pem, const char *old_key_pem,
                  const char *new_cert_pem, char **out_cert_pem,
                  struct err *err);

/*
 * Docker's node TLSInfo issuer: verify cert_pem (leaf, then
 * intermediates) against root_pem and give the base64 DER subject and
 * SubjectPublicKeyInfo of the certificate that issued the leaf (the
 * cross-signed intermediate during a rotation, else the root). Returns 0
 * with both strings malloc'd, or the errors of ca_verify.
 */
int ca_issuer_info(const char *root_pem, const char *cert_pem,
                   char **out_subject_b64, char **out_pubkey_b64,
                   struct err *err);

/* True if key_pem (unencrypted PEM, any form) is the private key of
 * cert_pem's first certificate; false otherwise, including on bad input. */
bool ca_key_matches(const char *cert_pem, const char *key_pem);

/* SHA-256 of len bytes at data, as lowercase hex + NUL. Docker's digest of
 * the root CA is over the PEM TEXT exactly as stored. Never fails. */
void ca_digest_hex(const void *data, size_t len,
                   char out[CA_DIGEST_HEX_LEN + 1]);

/*
 * A new join token "SWMTKN-1-<digest50>-<secret25>": digest50 is
 * sha256(root_pem's bytes up to the NUL) as a 256-bit big integer in base
 * 36 lowercase, left-padded with '0' to 50; secret25 is 16 random bytes in
 * base 36, padded to 25. out gets CA_TOKEN_LEN characters and a NUL.
 */
void ca_token_new(const char *root_pem, char out[CA_TOKEN_LEN + 1]);

/*
 * Parse per swarmkit: split on '-'; part 0 "SWMTKN"; version "1" needs 4
 * parts; version "2" needs 5 parts with part 2 "0" or "1"; the digest part
 * (second to last) exactly 50 chars of base 36 whose value fits 256 bits,
 * the secret (last) exactly 25 chars of base 36. Letters may be either case
 * (Go's big.Int.SetString accepts both). Returns 0 and writes the 64 hex
 * digits of the digest (no "sha256:" prefix) and a NUL to out_digest_hex,
 * or -ERR_INVALID "invalid join token" (out_digest_hex then unspecified).
 */
int ca_token_parse(const char *token,
                   char out_digest_hex[CA_DIGEST_HEX_LEN + 1], struct err *err);

/* Equality of two NUL-terminated tokens in time that depends only on their
 * lengths, not on where they differ. NULL equals nothing. */
bool ca_token_equal(const char *a, const char *b);

/* A new autolock unlock key: "SWMKEY-1-" + base64 RawStdEncoding (no
 * padding) of 32 random bytes. out gets CA_UNLOCK_KEY_LEN chars and a NUL. */
void ca_unlock_key_new(char out[CA_UNLOCK_KEY_LEN + 1]);

/*
 * Parse an unlock key: "SWMKEY-1-" then raw (unpadded) standard base64 of
 * exactly 32 bytes. Like Go's decoder, '\r' and '\n' inside the base64 are
 * skipped. Returns 0 with the key in out_key, or -ERR_INVALID
 * "invalid key string" (out_key then unspecified).
 */
int ca_unlock_key_parse(const char *s,
                        unsigned char out_key[CA_UNLOCK_KEY_BYTES],
                        struct err *err);

/* --- autolock: the node key file (ca_kek.c) ------------------------------ */

#define CA_DEK_LEN 32 /* a manager's raft DEK */

/* A node key file, read. */
struct ca_kek_file
{
    char *key_pem;        /* owned: the key in clear ("PRIVATE KEY") */
    bool locked;          /* the file was encrypted with a KEK */
    bool has_dek;         /* a raft-dek header was there */
    uint8_t dek[CA_DEK_LEN];
    uint64_t kek_version; /* the kek-version header, 0 if absent */
};

/* True when file_text holds an "ENCRYPTED PRIVATE KEY" (autolock). */
bool ca_kek_is_locked(const char *file_text);

/*
 * Read swarm-node.key's text: the key (decrypted with kek, the 32 bytes of
 * the unlock key, when the file is locked; kek NULL otherwise), the raft
 * DEK from its `raft-dek` header (unwrapped with kek when wrapped) and
 * `kek-version`. Returns 0 (*out filled, release with
 * ca_kek_file_release), -ERR_UNAUTHORIZED "node is locked, and needs a
 * valid unlock key" when kek is missing or wrong, -ERR_INVALID for a file
 * that holds no usable key. On error *out is zeroed.
 */
int ca_kek_read(const char *file_text, const uint8_t *kek,
                struct ca_kek_file *out, struct err *err);
void ca_kek_file_release(struct ca_kek_file *f);

/*
 * The text of swarm-node.key for key_pem (clear PKCS#8): headers
 * `kek-version: <kek_version>` and, when dek is given, `raft-dek` (the DEK
 * in clear, or AES-256-GCM-wrapped with kek); with kek the key itself is
 * PKCS#8-encrypted (PBES2, PBKDF2 2048 rounds, AES-256-CBC) with the 32 KEK
 * bytes as passphrase ("ENCRYPTED PRIVATE KEY"). Returns the malloc'd
 * text, or NULL with err set (-ERR_INVALID for a key that is not clear
 * PKCS#8, ERR_INTERNAL).
 */
char *ca_kek_write(const char *key_pem, const uint8_t *kek,
                   const uint8_t *dek, uint64_t kek_version, struct err *err);

#endif
