/* SPDX-License-Identifier: Apache-2.0 */
/* Replicated services: fill slots 1..Replicas, scale down, move tasks off
 * nodes that can no longer run them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "manager/orchestrator/orch.h"
#include "manager/orchestrator/orch_int.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

/* One occupied slot: its runnable tasks. */
struct orch__slot
{
    int64_t slot;
    json_t *tasks;       /* owned array of the slot's runnable tasks */
    bool running;        /* one of them is observed running */
    const char *node;    /* borrowed: NodeID of the first one ("" if none) */
    unsigned nth;        /* it is the nth copy on its node (scale down) */
};

static int orch_cmp_running(const void *a, const void *b)
{
    const struct orch__slot *x = a;
    const struct orch__slot *y = b;

    if (x->running != y->running)
        return x->running ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int orch_cmp_nth(const void *a, const void *b)
{
    const struct orch__slot *x = a;
    const struct orch__slot *y = b;

    if (x->nth != y->nth)
        return x->nth < y->nth ? -1 : 1;
    return orch_cmp_running(a, b);
}

/* Keep the slots to keep at the front: running ones first, then those
 * that are the fewest copies on their node (swarmkit removes from the
 * nodes with the most copies), highest slots last. */
static void orch_order_for_removal(struct orch__slot *slots, size_t n)
{
    json_t *per_node = json_object();
    size_t i;

    qsort(slots, n, sizeof(*slots), orch_cmp_running);
    for (i = 0; i < n; i++) {
        json_t *c = json_object_get(per_node, slots[i].node);
        json_int_t v = c ? json_integer_value(c) + 1 : 1;

        json_object_set_new(per_node, slots[i].node, json_integer(v));
        slots[i].nth = (unsigned)v;
    }
    qsort(slots, n, sizeof(*slots), orch_cmp_nth);
    json_decref(per_node);
}

static int64_t orch_replicas(const json_t *service)
{
    const json_t *r = json_object_get(
        json_object_get(
            json_object_get(json_object_get(service, "Spec"), "Mode"),
            "Replicated"),
        "Replicas");

    /* Docker: replicated mode without Replicas is one replica. */
    return json_is_integer(r) ? (int64_t)json_integer_value(r) : 1;
}

static struct orch__slot *orch_slot_get(struct orch__slot **slots, size_t *n,
                                        json_t *index, int64_t slot)
{
    char key[32];
    json_t *ix;
    struct orch__slot *s;

    snprintf(key, sizeof(key), "%lld", (long long)slot);
    ix = json_object_get(index, key);
    if (ix != NULL)
        return &(*slots)[json_integer_value(ix)];
    *slots = xrealloc(*slots, (*n + 1) * sizeof(**slots));
    s = &(*slots)[*n];
    memset(s, 0, sizeof(*s));
    s->slot = slot;
    s->tasks = json_array();
    s->node = "";
    json_object_set_new(index, key, json_integer((json_int_t)(*n)++));
    return s;
}

json_t *orch_replicated(const json_t *service, const json_t *tasks,
                        const json_t *nodes, int64_t now, size_t max)
{
    json_t *actions = json_array();
    json_t *index = json_object();
    struct orch__slot *slots = NULL;
    size_t n_slots = 0;
    int64_t want = orch_replicas(service);
    const char *id;
    json_t *t;
    size_t i;
    size_t j;
    int64_t slot;
    int64_t missing;
    size_t created = 0;

    json_object_foreach((json_t *)tasks, id, t) {
        struct orch__slot *s;

        if (!orch_is_service_task(service, t) || !orch_is_runnable(t) ||
            orch_int(t, "Slot", NULL) <= 0)
            continue;
        s = orch_slot_get(&slots, &n_slots, index, orch_int(t, "Slot", NULL));
        if (!orch_node_valid(nodes, t)) {
            /* The replacement (if any) keeps the slot occupied; a slot
             * whose only task is shut down for good gets refilled. */
            size_t before = json_array_size(actions);

            orch_restart_task(service, tasks, t, nodes, now, actions);
            if (json_array_size(actions) > before + 1)
                json_array_append(
                    s->tasks,
                    json_object_get(json_array_get(actions, before + 1),
                                    "obj"));
            continue;
        }
        if (json_array_size(s->tasks) == 0)
            s->node = orch_str(t, "NodeID", NULL);
        json_array_append(s->tasks, t);
        if (store_task_state(t) == STORE_TASK_RUNNING)
            s->running = true;
    }
    /* Slots emptied by a restart that was not allowed are free. */
    for (i = 0, j = 0; i < n_slots; i++) {
        if (json_array_size(slots[i].tasks) == 0) {
            json_decref(slots[i].tasks);
            continue;
        }
        slots[j++] = slots[i];
    }
    n_slots = j;
    if ((int64_t)n_slots > want) {
        orch_order_for_removal(slots, n_slots);
        for (i = (size_t)want; i < n_slots; i++) {
            json_array_foreach(slots[i].tasks, j, t) {
                /* A replacement made just above is created as removed. */
                if (json_object_get(tasks, orch_str(t, "ID", NULL)) == NULL)
                    json_object_set_new(t, "DesiredState",
                                        json_string("remove"));
                else
                    orch_set_desired(actions, t, "remove");
            }
        }
    }
    json_object_clear(index);
    for (i = 0; i < n_slots && (int64_t)i < want; i++) {
        char key[32];

        snprintf(key, sizeof(key), "%lld", (long long)slots[i].slot);
        json_object_set_new(index, key, json_true());
    }
    missing = want - (int64_t)n_slots;
    for (slot = 1; missing > 0 && (max == 0 || created < max); slot++) {
        char key[32];

        snprintf(key, sizeof(key), "%lld", (long long)slot);
        if (json_object_get(index, key) != NULL)
            continue;
        json_array_append_new(
            actions, orch_action_create(orch_task_new(
                         service, (uint64_t)slot, NULL, "running", now)));
        missing--;
        created++;
    }
    for (i = 0; i < n_slots; i++)
        json_decref(slots[i].tasks);
    free(slots);
    json_decref(index);
    return actions;
}
