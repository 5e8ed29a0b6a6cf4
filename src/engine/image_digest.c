/* SPDX-License-Identifier: Apache-2.0 */
/* Digests, chain IDs, random names, times and tree removal for images. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/fsutil.h"
#include "base/ids.h"
#include "base/mem.h"
#include "engine/image_int.h"

static void image_hex(const unsigned char *md, char out[IMAGE_DIGEST_LEN])
{
    static const char hex[] = "0123456789abcdef";
    int i;

    memcpy(out, "sha256:", 7);
    for (i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[71] = '\0';
}

void image_digest_buf(const void *data, size_t len,
                      char out[IMAGE_DIGEST_LEN])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    image_hex(md, out);
}

int image_digest_fd(int fd, char out[IMAGE_DIGEST_LEN], struct err *err)
{
    EVP_MD_CTX *ctx;
    unsigned char md[32];
    char *chunk;
    off_t off = 0;
    int rv = 0;

    ctx = EVP_MD_CTX_new();
    chunk = xmalloc(1 << 16);
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (;;) {
        ssize_t n = pread(fd, chunk, 1 << 16, off);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            rv = err_sys(err, ERR_IO, errno, "read");
            break;
        }
        if (n == 0)
            break;
        off += n;
        EVP_DigestUpdate(ctx, chunk, (size_t)n);
    }
    if (rv == 0) {
        EVP_DigestFinal_ex(ctx, md, NULL);
        image_hex(md, out);
    }
    free(chunk);
    EVP_MD_CTX_free(ctx);
    lseek(fd, 0, SEEK_SET);
    return rv;
}

void image_digest_chain(const char *parent, const char *diff,
                        char out[IMAGE_DIGEST_LEN])
{
    char *s;

    if (parent == NULL) {
        snprintf(out, IMAGE_DIGEST_LEN, "%s", diff);
        return;
    }
    /* OCI image spec: ChainID(L0|..|Ln) = Digest(ChainID(..Ln-1) + " " +
     * DiffID(Ln)). */
    s = xasprintf("%s %s", parent, diff);
    image_digest_buf(s, strlen(s), out);
    free(s);
}

bool image_digest_valid(const char *s)
{
    size_t i;

    if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return false;
    for (i = 7; i < 71; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

void image_random_hex(char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[32];
    int i;

    ids_random(b, sizeof(b));
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[64] = '\0';
}

int image_rmtree(const char *path, struct err *err)
{
    struct stat st;

    if (lstat(path, &st) == -1)
        return errno == ENOENT ? 0 : err_sys(err, ERR_IO, errno, "%s", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) == -1 && errno != ENOENT)
            return err_sys(err, ERR_IO, errno, "remove %s", path);
        return 0;
    }
    if (fsutil_empty_dir(path, err) != 0)
        return -err->code;
    if (rmdir(path) == -1 && errno != ENOENT)
        return err_sys(err, ERR_IO, errno, "remove %s", path);
    return 0;
}

void image_time_now(char out[40])
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09dZ", (int)(ts.tv_nsec % 1000000000));
}

int64_t image_time_parse(const char *s)
{
    struct tm tm;
    const char *rest;

    if (s == NULL)
        return 0;
    memset(&tm, 0, sizeof(tm));
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return 0;
    return (int64_t)timegm(&tm);
}
