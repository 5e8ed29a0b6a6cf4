/* SPDX-License-Identifier: Apache-2.0 */
/* Join tokens and unlock keys (manager/ca/ca_token.c): both come from users
 * and from joining peers. The input is parsed as a token and as a key; a
 * token made from the input as a root CA must parse back to its digest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "manager/ca/ca.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char digest[CA_DIGEST_HEX_LEN + 1];
    char want[CA_DIGEST_HEX_LEN + 1];
    char token[CA_TOKEN_LEN + 1];
    unsigned char key[CA_UNLOCK_KEY_BYTES];
    struct err err;

    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';

    err_clear(&err);
    memset(digest, 'x', sizeof(digest));
    if (ca_token_parse(s, digest, &err) == 0) {
        if (strlen(digest) != CA_DIGEST_HEX_LEN ||
            strspn(digest, "0123456789abcdef") != CA_DIGEST_HEX_LEN)
            abort();
    } else if (strcmp(err.msg, "invalid join token") != 0) {
        abort();
    }
    err_clear(&err);
    if (ca_unlock_key_parse(s, key, &err) != 0 &&
        strcmp(err.msg, "invalid key string") != 0)
        abort();
    if (!ca_token_equal(s, s) || ca_token_equal(s, NULL))
        abort();

    /* Any root PEM text gives a token that parses to its digest. */
    ca_token_new(s, token);
    ca_digest_hex(s, strlen(s), want);
    err_clear(&err);
    if (ca_token_parse(token, digest, &err) != 0 ||
        strcmp(digest, want) != 0)
        abort();
    free(s);
    return 0;
}
