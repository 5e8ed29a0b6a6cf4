/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Matching of Docker's `filters=` values once parsed (api_filters_parse's
 * shape: a JSON object {key: [string values]}): the one implementation
 * the API's handlers and the engine's ps filters share.
 */
#ifndef SHOAL_BASE_JFILTER_H
#define SHOAL_BASE_JFILTER_H

#include <stdbool.h>

#include <jansson.h>

/* True if filters has no values for key, or one of them equals v (with
 * prefix: is a prefix of v). A NULL v matches no value; values that are
 * not strings are skipped. */
bool jfilter_any(const json_t *filters, const char *key, const char *v,
                 bool prefix);

/* Label filters under key: every value ("k" or "k=v") must hold in
 * labels (an object of strings); Docker ANDs label filters. */
bool jfilter_labels(const json_t *filters, const char *key,
                    const json_t *labels);

#endif
