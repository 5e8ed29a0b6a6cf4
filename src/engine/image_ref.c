/* SPDX-License-Identifier: Apache-2.0 */
/* Image references: Docker's grammar, familiar names, default tag. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "engine/image_int.h"

#define IMAGE_REF_NAME_MAX 255
#define IMAGE_REF_TAG_MAX 128

static bool image_ref_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*; *upper set when an
 * uppercase letter is the only fault. */
static bool image_ref_component(const char *s, size_t n, bool *upper)
{
    size_t i = 0;

    for (i = 0; i < n; i++) {
        if (isupper((unsigned char)s[i]))
            *upper = true;
    }
    if (n == 0)
        return false;
    i = 0;
    while (i < n) {
        size_t run = 0;

        while (i < n && (image_ref_alnum(s[i]) ||
                         isupper((unsigned char)s[i]))) {
            i++;
            run++;
        }
        if (run == 0)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.' || (s[i] == '_' && (i + 1 >= n || s[i + 1] != '_')))
            i++;
        else if (s[i] == '_')
            i += 2;
        else if (s[i] == '-')
            while (i < n && s[i] == '-')
                i++;
        else
            return false;
        if (i == n)
            return false;
    }
    return true;
}

static bool image_ref_domain(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!(isalnum((unsigned char)c) || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

static bool image_ref_tag_ok(const char *t)
{
    size_t n = strlen(t);
    size_t i;

    if (n == 0 || n > IMAGE_REF_TAG_MAX)
        return false;
    if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (i = 1; i < n; i++) {
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' ||
              t[i] == '-'))
            return false;
    }
    return true;
}

int image_ref_parse(const char *ref, char **repo, char **tag,
                    struct err *err)
{
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    const char *first_end = strchr(ref, '/');
    const char *p;
    char *name;
    const char *path;
    bool upper = false;

    *repo = NULL;
    *tag = NULL;
    if (ref[0] == '\0' || strchr(ref, '@') != NULL)
        return err_set(err, ERR_INVALID, "invalid reference format");
    name = colon ? xstrndup(ref, (size_t)(colon - ref)) : xstrdup(ref);
    if (colon != NULL && !image_ref_tag_ok(colon + 1)) {
        free(name);
        return err_set(err, ERR_INVALID, "invalid reference format");
    }
    if (strlen(name) > IMAGE_REF_NAME_MAX) {
        free(name);
        return err_set(err, ERR_INVALID,
                       "invalid reference format: repository name must not "
                       "be more than %d characters", IMAGE_REF_NAME_MAX);
    }
    path = name;
    first_end = strchr(name, '/');
    if (first_end != NULL) {
        size_t n = (size_t)(first_end - name);
        bool dom = memchr(name, '.', n) || memchr(name, ':', n) ||
                   (n == 9 && strncmp(name, "localhost", 9) == 0);

        if (!dom) {
            for (p = name; p < first_end; p++) {
                if (isupper((unsigned char)*p))
                    dom = true;
            }
        }
        if (dom) {
            if (!image_ref_domain(name, n))
                goto bad;
            path = first_end + 1;
        }
    }
    for (p = path; *p != '\0';) {
        size_t seg = strcspn(p, "/");

        if (!image_ref_component(p, seg, &upper))
            goto bad;
        p += seg;
        if (*p == '/' && *++p == '\0')
            goto bad;
    }
    if (upper) {
        err_set(err, ERR_INVALID,
                "invalid reference format: repository name (%s) must be "
                "lowercase", path);
        free(name);
        return -ERR_INVALID;
    }
    /* Familiar names, as the docker CLI shows them. */
    if (strncmp(name, "docker.io/", 10) == 0 ||
        strncmp(name, "index.docker.io/", 16) == 0) {
        const char *rest = strchr(name, '/') + 1;

        if (strncmp(rest, "library/", 8) == 0 &&
            strchr(rest + 8, '/') == NULL)
            rest += 8;
        *repo = xstrdup(rest);
        free(name);
    } else {
        *repo = name;
    }
    *tag = xstrdup(colon ? colon + 1 : "latest");
    return 0;
bad:
    free(name);
    return err_set(err, ERR_INVALID, "invalid reference format");
}

char *image_ref_join(const char *repo, const char *tag)
{
    return xasprintf("%s:%s", repo, tag);
}
