/* SPDX-License-Identifier: Apache-2.0 */
/* A string -> pointer map (see strmap.h): open addressing with linear
 * probing and backward-shift deletion, so there are no tombstones. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/strmap.h"

#define STRMAP_MIN_SLOTS 16

struct strmap_slot
{
    char *key;                    /* owned; NULL when the slot is free */
    void *value;
    uint64_t hash;
};

struct strmap
{
    struct strmap_slot *slots;    /* owned; n_slots, a power of two */
    size_t n_slots;
    size_t n_used;
};

/* FNV-1a, 64 bits. */
static uint64_t strmap_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *key != '\0'; key++) {
        h ^= (unsigned char)*key;
        h *= 1099511628211ULL;
    }
    return h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = xcalloc(1, sizeof(*m));

    m->n_slots = STRMAP_MIN_SLOTS;
    m->slots = xcalloc(m->n_slots, sizeof(*m->slots));
    return m;
}

void strmap_free(struct strmap *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->n_slots; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* The slot holding key, or the free slot where it would go. */
static size_t strmap_find(const struct strmap *m, const char *key,
                          uint64_t h)
{
    size_t mask = m->n_slots - 1;
    size_t i = (size_t)h & mask;

    while (m->slots[i].key != NULL &&
           (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

static void strmap_grow(struct strmap *m)
{
    struct strmap_slot *old = m->slots;
    size_t n_old = m->n_slots;
    size_t i;

    m->n_slots *= 2;
    m->slots = xcalloc(m->n_slots, sizeof(*m->slots));
    for (i = 0; i < n_old; i++) {
        if (old[i].key != NULL)
            m->slots[strmap_find(m, old[i].key, old[i].hash)] = old[i];
    }
    free(old);
}

void *strmap_get(const struct strmap *m, const char *key)
{
    return m->slots[strmap_find(m, key, strmap_hash(key))].value;
}

void *strmap_set(struct strmap *m, const char *key, void *value)
{
    uint64_t h = strmap_hash(key);
    size_t i;
    void *was;

    /* At most 3/4 full, so probing always meets a free slot. */
    if ((m->n_used + 1) * 4 > m->n_slots * 3)
        strmap_grow(m);
    i = strmap_find(m, key, h);
    was = m->slots[i].value;
    if (m->slots[i].key == NULL) {
        m->slots[i].key = xstrdup(key);
        m->slots[i].hash = h;
        m->n_used++;
    }
    m->slots[i].value = value;
    return was;
}

void *strmap_del(struct strmap *m, const char *key)
{
    size_t mask = m->n_slots - 1;
    size_t i = strmap_find(m, key, strmap_hash(key));
    size_t j;
    void *was = m->slots[i].value;

    if (m->slots[i].key == NULL)
        return NULL;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->slots[i].value = NULL;
    m->n_used--;
    /* Shift back the entries of the probe run that follows, so every
     * remaining key stays reachable from its home slot. */
    for (j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)m->slots[j].hash & mask;

        /* Does home lie cyclically in (i, j]? Then j stays. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j].key = NULL;
        m->slots[j].value = NULL;
        i = j;
    }
    return was;
}

size_t strmap_size(const struct strmap *m)
{
    return m->n_used;
}
