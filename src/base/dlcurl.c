/* SPDX-License-Identifier: Apache-2.0 */
/* Load libcurl with dlopen and resolve the functions shoal uses. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/dlcurl.h"

static struct dlcurl dlcurl_table;
static void *dlcurl_handle;

static const struct
{
    const char *name;
    size_t offset;
} dlcurl_syms[] = {
    {"curl_global_init", offsetof(struct dlcurl, global_init)},
    {"curl_global_cleanup", offsetof(struct dlcurl, global_cleanup)},
    {"curl_easy_init", offsetof(struct dlcurl, easy_init)},
    {"curl_easy_reset", offsetof(struct dlcurl, easy_reset)},
    {"curl_easy_cleanup", offsetof(struct dlcurl, easy_cleanup)},
    {"curl_easy_setopt", offsetof(struct dlcurl, easy_setopt)},
    {"curl_easy_getinfo", offsetof(struct dlcurl, easy_getinfo)},
    {"curl_easy_perform", offsetof(struct dlcurl, easy_perform)},
    {"curl_easy_strerror", offsetof(struct dlcurl, easy_strerror)},
    {"curl_slist_append", offsetof(struct dlcurl, slist_append)},
    {"curl_slist_free_all", offsetof(struct dlcurl, slist_free_all)},
};

const struct dlcurl *dlcurl_get(struct err *err)
{
    struct dlcurl table;
    void *h;
    size_t i;

    if (dlcurl_handle != NULL)
        return &dlcurl_table;
    h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        err_set(err, ERR_UNAVAILABLE,
                "cannot load libcurl (install Debian's libcurl4): %s",
                dlerror());
        return NULL;
    }
    for (i = 0; i < sizeof(dlcurl_syms) / sizeof(dlcurl_syms[0]); i++) {
        void *sym = dlsym(h, dlcurl_syms[i].name);

        if (sym == NULL) {
            err_set(err, ERR_UNAVAILABLE, "libcurl.so.4 lacks %s",
                    dlcurl_syms[i].name);
            dlclose(h);
            return NULL;
        }
        /* POSIX guarantees function pointers round-trip through void *. */
        memcpy((char *)&table + dlcurl_syms[i].offset, &sym, sizeof(sym));
    }
    if (table.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        err_set(err, ERR_UNAVAILABLE, "libcurl failed to initialise");
        dlclose(h);
        return NULL;
    }
    dlcurl_table = table;
    dlcurl_handle = h;
    return &dlcurl_table;
}

void dlcurl_release(void)
{
    static bool released;

    /* The library stays mapped until exit: unloading buys nothing at the
     * end of a process and confuses leak checkers walking the modules. */
    if (dlcurl_handle == NULL || released)
        return;
    dlcurl_table.global_cleanup();
    released = true;
}
