/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the libFuzzer targets: quiet logs, temporary directories, and
 * input splitting (a parser of peer bytes must not care how they arrive). */
#ifndef SHOAL_FUZZ_UTIL_H
#define SHOAL_FUZZ_UTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Errors only, and only with FUZZ_VERBOSE set: peer garbage is expected. */
static inline void fuzz_quiet(void)
{
    log_level = getenv("FUZZ_VERBOSE") != NULL ? LOG_LEVEL_DEBUG : -1;
}

/* A new private directory under $TMPDIR (or /tmp), named for the target;
 * malloc'd. Aborts on failure: the harness cannot run without it. */
static inline char *fuzz_tmpdir(const char *name)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(4096);

    if (p == NULL)
        abort();
    snprintf(p, 4096, "%s/shoal-%s.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp", name);
    if (mkdtemp(p) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

/* rm -r path (no symlinks followed: lstat). */
static inline void fuzz_rm_rf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char sub[4096];

    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700);
    d = opendir(path);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            fuzz_rm_rf(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Chunk sizes for feeding data in pieces: a small generator seeded by one
 * byte, so the fuzzer controls the split together with the content. */
struct fuzz_split
{
    uint32_t state;
};

static inline void fuzz_split_init(struct fuzz_split *s, uint8_t seed)
{
    s->state = 0x9e3779b9u ^ seed;
}

/* Next chunk length in [1, left]. */
static inline size_t fuzz_split_next(struct fuzz_split *s, size_t left)
{
    size_t n;

    s->state = s->state * 1103515245u + 12345u;
    n = 1 + ((s->state >> 16) % 17);
    if ((s->state & 0x7) == 0)
        n += (s->state >> 8) % 512;
    return n < left ? n : left;
}

#endif
