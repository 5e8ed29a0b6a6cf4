/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the libFuzzer targets: quiet logs, temporary directories, and
 * input splitting (a parser of peer bytes must not care how they arrive). */
#ifndef SHOAL_FUZZ_UTIL_H
#define SHOAL_FUZZ_UTIL_H

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
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

/*
 * For targets that write files as root (image layers): a private mount
 * namespace where every mount is read-only except the working directory
 * (libFuzzer's corpus and artifacts) and rw_dir, so a path that escaped
 * its root would fail instead of damaging the machine. Aborts if the
 * namespace cannot be made.
 */
static inline void fuzz_sandbox_fs(const char *rw_dir)
{
    char cwd[4096];
    char line[8192];
    char mp[4096];
    FILE *f;

    if (getcwd(cwd, sizeof(cwd)) == NULL || unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount(cwd, cwd, NULL, MS_BIND | MS_REC, NULL) != 0 ||
        mount(rw_dir, rw_dir, NULL, MS_BIND | MS_REC, NULL) != 0 ||
        chdir(cwd) != 0) { /* onto the new mount */
        perror("fuzz sandbox");
        abort();
    }
    f = fopen("/proc/self/mountinfo", "r");
    if (f == NULL)
        abort();
    while (fgets(line, sizeof(line), f) != NULL) {
        /* id parent major:minor root mount-point ... */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
            continue;
        if (strcmp(mp, cwd) == 0 || strcmp(mp, rw_dir) == 0 ||
            strncmp(mp, "/proc", 5) == 0 || strncmp(mp, "/sys", 4) == 0 ||
            strncmp(mp, "/dev", 4) == 0)
            continue;
        if (mount(NULL, mp, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) !=
                0 &&
            strcmp(mp, "/") == 0) {
            perror("fuzz sandbox: remount / read-only");
            abort();
        }
    }
    fclose(f);
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
