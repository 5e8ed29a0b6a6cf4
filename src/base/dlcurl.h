/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl, loaded on first use with dlopen. Linking libcurl would map it
 * and its ~30 dependencies (TLS stacks, Kerberos, LDAP...) into every
 * shoal process, the daemon included, for a client that only the CLI uses:
 * several MiB of resident memory in a daemon whose budget is a few MiB.
 * Callers use the function table instead of the curl_* names.
 */
#ifndef SHOAL_BASE_DLCURL_H
#define SHOAL_BASE_DLCURL_H

#include <curl/curl.h>

#include "base/err.h"

struct dlcurl
{
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_reset)(CURL *h);
    void (*easy_cleanup)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    CURLcode (*easy_perform)(CURL *h);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
};

/* The loaded table (borrowed, valid for the life of the process), or NULL
 * with err set to ERR_UNAVAILABLE naming what is missing (libcurl.so.4 is
 * Debian's libcurl4 package). Loads once and runs curl_global_init; later calls are cheap. */
const struct dlcurl *dlcurl_get(struct err *err);

/* curl_global_cleanup, if loaded; for the end of the process (the
 * library stays mapped). */
void dlcurl_release(void);

#endif
